// Package native parses COP's own JSON feed format (docs/formats.md): one event object, an
// array of them, or {"events": [...]}. It turns each into a validated event.Event and
// reports each rejected object with the field that was wrong. It does no I/O.
package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// ErrNotNative is returned for a document that is not a JSON object or array of objects.
var ErrNotNative = errors.New("not a COP native JSON document: want an event object, an array of them, or {\"events\": [...]}")

// MaxEvents caps the events of one document.
const MaxEvents = 100_000

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
// Arrays are decoded element by element from one stream: no second pass over the bytes.
func Parse(doc []byte, src event.Source) ([]event.Event, []error) {
	doc = bytes.TrimSpace(doc)
	switch {
	case len(doc) > 0 && doc[0] == '[':
		return parseArray(doc, src)
	case len(doc) > 0 && doc[0] == '{':
		var wrap struct {
			Events json.RawMessage `json:"events"`
		}
		if bytes.Contains(doc, []byte(`"events"`)) && json.Unmarshal(doc, &wrap) == nil && len(wrap.Events) > 0 && wrap.Events[0] == '[' {
			return parseArray(wrap.Events, src)
		}
		e, err := parseOne(json.NewDecoder(bytes.NewReader(doc)), src)
		if err != nil {
			return nil, []error{fmt.Errorf("event 0: %w", err)}
		}
		return []event.Event{e}, nil
	}
	return nil, []error{ErrNotNative}
}

func parseArray(doc []byte, src event.Source) ([]event.Event, []error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil { // the opening '['
		return nil, []error{fmt.Errorf("%w: %v", ErrNotNative, err)}
	}
	events := make([]event.Event, 0, min(len(doc)/256+1, 4096))
	var errs []error
	for i := 0; dec.More(); i++ {
		if i == MaxEvents {
			return nil, []error{fmt.Errorf("more than %d events in one document", MaxEvents)}
		}
		e, err := parseOne(dec, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("event %d: %w", i, err))
			var se *json.SyntaxError
			if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
				return events, errs // the rest of the stream cannot be read
			}
			continue
		}
		events = append(events, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		errs = append(errs, fmt.Errorf("%w: %v", ErrNotNative, err))
	}
	return events, errs
}

// parseOne decodes the next value of dec. A value with a type error or an unknown field is
// consumed whole, so the stream goes on with the next one.
func parseOne(dec *json.Decoder, src event.Source) (event.Event, error) {
	var in Input
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return event.Event{}, err
		}
		return event.Event{}, &event.FieldError{Field: jsonField(err), Reason: err.Error()}
	}
	e := event.Event{
		Contributor: src.Contributor, SourceID: in.ID, Kind: in.Kind, ObservedAt: in.ObservedAt,
		ReceivedAt: src.ReceivedAt, ValidUntil: in.ValidUntil, Observables: in.Observables,
		Category: in.Category, Techniques: in.Techniques, Sectors: in.Sectors, Countries: in.Countries,
		Geo: in.Geo, Severity: in.Severity, Confidence: 50, TLP: in.TLP, ReleasableTo: in.ReleasableTo,
		Anonymise: in.Anonymise, Exercise: in.Exercise, Title: in.Title, Summary: in.Summary,
	}
	if in.Confidence != nil {
		if *in.Confidence < 0 || *in.Confidence > 100 {
			return event.Event{}, &event.FieldError{Field: "confidence", Reason: fmt.Sprintf("%d is outside 0..100", *in.Confidence)}
		}
		e.Confidence = uint8(*in.Confidence)
	}
	if e.TLP == 0 {
		e.TLP = event.TLPAmber // conservative default: a contributor who forgot marks nothing public
	}
	if err := e.Validate(); err != nil {
		if in.ID != "" {
			return event.Event{}, fmt.Errorf("id %q: %w", in.ID, err)
		}
		return event.Event{}, err
	}
	return e, nil
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return "(document)"
}
