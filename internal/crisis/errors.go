package crisis

import "errors"

// Errors of Crisis.Act, each wrapped with what was asked and why it cannot be done, so a
// caller can answer with the right status and the user reads what was wrong.
var (
	// ErrUnknownAction: the action is not one of Actions (a typo, or an old client).
	ErrUnknownAction = errors.New("unknown action")
	// ErrTransition: the action is known but not allowed from the crisis's status or level
	// (closing a closed crisis, escalating past level 4); the status machine forbids it.
	ErrTransition = errors.New("transition not allowed")
	// ErrBadLevel: the level asked is outside 1–4 or goes the wrong way for the action.
	ErrBadLevel = errors.New("bad level")
	// ErrNoReason: downgrading or closing must say why; the timeline keeps it.
	ErrNoReason = errors.New("reason required")
)
