package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonerr"
)

// This file is the encoding/json path COP used before the hand-written decoder. It is
// the reference the decoder is tested against, and the fallback for documents the decoder
// does not take on itself (syntax errors, odd keys, wrong types): those are rare and
// rejected anyway, and going through the same code keeps their errors exactly as before.

// parseLegacy is Parse with encoding/json.
func parseLegacy(doc []byte, src event.Source) ([]event.Event, []error) {
	doc = bytes.TrimSpace(doc)
	switch {
	case len(doc) > 0 && doc[0] == '[':
		return parseArrayLegacy(doc, src)
	case len(doc) > 0 && doc[0] == '{':
		var wrap struct {
			Events json.RawMessage `json:"events"`
		}
		if bytes.Contains(doc, []byte(`"events"`)) && json.Unmarshal(doc, &wrap) == nil && len(wrap.Events) > 0 && wrap.Events[0] == '[' {
			return parseArrayLegacy(wrap.Events, src)
		}
		e, err := parseOneLegacy(json.NewDecoder(bytes.NewReader(doc)), src)
		if err != nil {
			return nil, []error{fmt.Errorf("event 0: %w", err)}
		}
		return []event.Event{e}, nil
	}
	return nil, []error{ErrNotNative}
}

func parseArrayLegacy(doc []byte, src event.Source) ([]event.Event, []error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil { // the opening '['
		return nil, []error{fmt.Errorf("%w: %v", ErrNotNative, err)}
	}
	events := make([]event.Event, 0, min(len(doc)/256+1, 4096))
	var errs []error
	for i := 0; dec.More(); i++ {
		if i == MaxEvents {
			return nil, []error{errTooMany}
		}
		e, err := parseOneLegacy(dec, src)
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

// parseElementLegacy decodes one syntactically valid array element, as parseArrayLegacy
// would have in its place.
func parseElementLegacy(elem []byte, src event.Source) (event.Event, error) {
	return parseOneLegacy(json.NewDecoder(bytes.NewReader(elem)), src)
}

// parseOneLegacy decodes the next value of dec. A value with a type error or an unknown
// field is consumed whole, so the stream goes on with the next one.
func parseOneLegacy(dec *json.Decoder, src event.Source) (event.Event, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return event.Event{}, fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return event.Event{}, fmt.Errorf("malformed JSON: %w (the document is cut short)", err)
		}
		return event.Event{}, decodeError(raw, err)
	}
	var in Input
	if err := decodeInput(raw, &in); err != nil {
		return event.Event{}, decodeError(raw, err)
	}
	e := event.Event{
		SourceID: in.ID, Kind: in.Kind, ObservedAt: in.ObservedAt, ValidUntil: in.ValidUntil,
		Observables: in.Observables, Category: in.Category, Techniques: in.Techniques,
		Sectors: in.Sectors, Countries: in.Countries, Geo: in.Geo, Severity: in.Severity,
		TLP: in.TLP, ReleasableTo: in.ReleasableTo, Anonymise: in.Anonymise,
		Exercise: in.Exercise, Title: in.Title, Summary: in.Summary, Names: in.Names,
	}
	conf, hasConf := 0, in.Confidence != nil
	if hasConf {
		conf = *in.Confidence
	}
	if err := finish(&e, src, conf, hasConf); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

func decodeInput(raw []byte, in *Input) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(in)
}

// decodeError names the field of a value that does not decode and what was expected,
// without encoding/json's Go type names.
func decodeError(raw []byte, err error) error {
	field, reason := jsonerr.Describe(err)
	if field == "" {
		field = jsonerr.Locate(raw, func(one []byte) error { return decodeInput(one, new(Input)) })
	}
	if field == "" {
		field = "(event)"
	} else if reason == "not a field of this format" {
		reason = "not a field of COP's native format (see docs/formats.md)"
	}
	return &event.FieldError{Field: field, Reason: reason}
}
