package event

import "errors"

var (
	// ErrUnknownValue is returned for a value outside a closed vocabulary (kind, severity,
	// TLP, observable type, sector, country, category); the message lists what was expected.
	ErrUnknownValue = errors.New("unknown value")

	// ErrInvalidObservable is returned when an observable's value does not have the form its
	// type requires, after defanging; contributors see which value and why.
	ErrInvalidObservable = errors.New("invalid observable")

	// ErrInvalidEvent is wrapped by every validation error, so callers can tell a bad
	// contribution (dead-letter it) from an internal failure (retry it).
	ErrInvalidEvent = errors.New("invalid event")
)

// FieldError says which field of a contribution is wrong and what was expected. It is what
// a contributor reads in the dead letter or an HTTP 4xx answer.
type FieldError struct {
	Field  string // JSON path, e.g. "observables[2].value"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError an ErrInvalidEvent.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }
