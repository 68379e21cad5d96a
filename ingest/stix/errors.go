package stix

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

var (
	// ErrNotSTIX is returned for a document that is not a STIX 2.1 JSON bundle or object, so
	// the gateway can tell a wrong format from a bad STIX object.
	ErrNotSTIX = errors.New("not a STIX 2.1 JSON bundle or object")

	// ErrSTIX1 is returned for STIX 1.x XML, which COP does not read: contributors must
	// convert to STIX 2.1 JSON first.
	ErrSTIX1 = errors.New("STIX 1.x XML is not supported: send STIX 2.1 JSON")

	// ErrUnsupportedVersion is returned for STIX 2.0 content, whose objects and markings
	// differ from 2.1 in ways a silent best effort would get wrong.
	ErrUnsupportedVersion = errors.New("STIX 2.0 bundle: spec_version 2.1 required")

	// ErrTooDeep is returned for a document nested deeper than MaxDepth, before it is
	// decoded, so a hostile document cannot exhaust the stack or memory.
	ErrTooDeep = errors.New("document nested too deeply")

	// ErrTooManyObjects is returned for a bundle of more than MaxObjects objects; the
	// contributor should split it.
	ErrTooManyObjects = errors.New("too many objects in one document")

	// ErrNoObservable is returned for an indicator whose pattern names nothing COP can
	// correlate on (only MATCHES/LIKE/!= comparisons, or unsupported object types).
	ErrNoObservable = errors.New("no observable")

	// ErrNoEvents is returned for a document that decodes but holds no object COP turns
	// into an event (only identities, malware, relationships, …), with what it does hold.
	ErrNoEvents = errors.New("nothing to ingest")

	// ErrNoContent is returned for a sighting, observed data or report that refers to
	// nothing COP can use (its objects are missing from the document or carry no
	// observable, technique, sector or country): it would be an empty dot on the map.
	ErrNoContent = errors.New("no usable content")
)

// ObjectError says which STIX object was rejected, which field was wrong and what was
// expected. Err is usually one or more *event.FieldError, so errors.Is(err,
// event.ErrInvalidEvent) holds for every rejected object.
type ObjectError struct {
	Type string // STIX type, e.g. "indicator"
	ID   string // STIX id, e.g. "indicator--…"
	Err  error
}

func (e *ObjectError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	// Validate joins its field errors with newlines; one rejection is one line.
	return fmt.Sprintf("%s %s: %s", event.Clip(e.Type), event.Clip(id), strings.ReplaceAll(e.Err.Error(), "\n", "; "))
}

// Unwrap returns the reason.
func (e *ObjectError) Unwrap() error { return e.Err }
