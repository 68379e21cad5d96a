// Package native parses COP's own JSON feed format (docs/formats.md): one event object, an
// array of them, or {"events": [...]}. It turns each into a validated event.Event and
// reports each rejected object with the field that was wrong. It does no I/O.
//
// The schema is fixed, so a hand-written single-pass decoder (decode.go) reads it straight
// into event.Event. Whatever that decoder does not take on itself (a syntax error, a key in
// another case, a value of the wrong type) goes to the encoding/json path it replaced
// (legacy.go), which stays the reference for what is accepted and what is said.
package native

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// ErrNotNative is returned for a document that is not a JSON object or array of objects.
var ErrNotNative = errors.New("not a COP native JSON document: want an event object, an array of them, or {\"events\": [...]}")

// MaxEvents caps the events of one document.
const MaxEvents = 100_000

var errTooMany = errors.New("more than " + strconv.Itoa(MaxEvents) + " events in one document")

// Input is one event as a contributor writes it. Server-set fields (contributor,
// received_at, the canonical id) are absent: they come from the authenticated identity.
type Input struct {
	ID           string             `json:"id"`
	Kind         event.Kind         `json:"kind,omitzero"`
	ObservedAt   time.Time          `json:"observed_at,omitzero"`
	ValidUntil   time.Time          `json:"valid_until,omitzero"`
	Observables  []event.Observable `json:"observables,omitempty"`
	Category     string             `json:"category,omitempty"`
	Techniques   []string           `json:"techniques,omitempty"`
	Names        []event.Name       `json:"names,omitempty"`
	Sectors      []string           `json:"sectors,omitempty"`
	Countries    []string           `json:"countries,omitempty"`
	Geo          *event.Geo         `json:"geo,omitempty"`
	Severity     event.Severity     `json:"severity,omitzero"`
	Confidence   *int               `json:"confidence,omitempty"`
	TLP          event.TLP          `json:"tlp,omitzero"`
	ReleasableTo []string           `json:"releasable_to,omitempty"`
	Anonymise    bool               `json:"anonymise,omitempty"`
	Exercise     string             `json:"exercise,omitempty"`
	Title        string             `json:"title"`
	Summary      string             `json:"summary,omitempty"`
}

// Parse turns doc into events stamped with src. Each rejected object yields one error
// naming its position and id; a document that is not JSON yields (nil, []error{err}).
// The bytes are read once, left to right, straight into the events (decode.go); an
// object with a key or a value the schema does not have is read again by encoding/json,
// and a document that is not valid JSON is read by encoding/json alone, so every error
// reads as it always has.
func Parse(doc []byte, src event.Source) ([]event.Event, []error) {
	doc = bytes.TrimSpace(doc)
	evs, errs, ok := parseFast(doc, src)
	if !ok {
		evs, errs = parseLegacy(doc, src)
	}
	return evs, explainNothing(doc, evs, errs)
}

// explainNothing says why a document gave no event when the parsers did not.
func explainNothing(doc []byte, evs []event.Event, errs []error) []error {
	switch {
	case len(evs) == 0 && len(errs) == 0:
		errs = []error{ErrNoEvents}
	case len(evs) == 0 && len(errs) == 1 && errs[0] == ErrNotNative && len(doc) > 0 && doc[0] == '<':
		errs = []error{fmt.Errorf("%w (the document starts with '<': XML or HTML, not JSON)", ErrNotNative)}
	}
	return errs
}

// ErrNoEvents is returned for a document that is well formed but holds no event: an empty
// array or {"events": []}.
var ErrNoEvents = errors.New("nothing to ingest: the document holds no events (an empty list)")

// finish completes e as decoded from one object: server-set fields from src, the
// defaults, then validation. conf is the confidence given, if hasConf.
func finish(e *event.Event, src event.Source, conf int, hasConf bool) error {
	e.Contributor, e.ReceivedAt = src.Contributor, src.ReceivedAt
	if e.SourceID != "" {
		e.ID = src.EventID(e.SourceID)
	}
	e.Confidence = 50
	if hasConf {
		if conf < 0 || conf > 100 {
			return &event.FieldError{Field: "confidence", Reason: fmt.Sprintf("%d is outside 0..100", conf)}
		}
		e.Confidence = uint8(conf)
	}
	if e.TLP == 0 {
		e.TLP = event.TLPAmber // conservative default: a contributor who forgot marks nothing public
	}
	if err := e.Validate(); err != nil {
		if e.SourceID != "" {
			return fmt.Errorf("id %s: %w", event.Quote(e.SourceID), err)
		}
		return err
	}
	return nil
}
