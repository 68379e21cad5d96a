package misp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

var (
	// ErrNotMISP is returned for a document that is none of the MISP shapes COP reads
	// ({"Event": …}, a list of those, {"response": […]}), so the gateway can tell a wrong
	// format from a bad MISP event.
	ErrNotMISP = errors.New("not a MISP event document")

	// ErrManifest is returned for a MISP feed's manifest.json, which lists events without
	// their attributes: the contributor must push the event files themselves.
	ErrManifest = errors.New("MISP feed manifest: send the event files (<uuid>.json), not manifest.json")

	// ErrAttributes is returned for a MISP attribute collection ({"Attribute": […]} or
	// {"response": {"Attribute": […]}}, what /attributes/restSearch returns): attributes
	// without their event lack its markings, date and context.
	ErrAttributes = errors.New("MISP attribute collection, not events: send the events (/events/restSearch, or the event's JSON export)")

	// ErrNoEvents is returned for a list or response that holds no event at all.
	ErrNoEvents = errors.New("nothing to ingest")

	// ErrTooDeep is returned for a document nested deeper than MaxDepth, before it is
	// decoded, so a hostile document cannot exhaust the stack or memory.
	ErrTooDeep = errors.New("document nested too deeply")

	// ErrTooManyAttributes is returned for a document with more than MaxAttributes
	// attributes (object attributes included); the contributor should split it.
	ErrTooManyAttributes = errors.New("too many attributes in one document")

	// ErrNoContent is returned for an event with no attribute COP can represent and no
	// technique, sector, country or category: it would be an empty dot on the map.
	ErrNoContent = errors.New("no usable content")
)

// ObjectError says which MISP event or attribute was rejected, which field was wrong and
// what was expected. Err is usually one or more *event.FieldError, so errors.Is(err,
// event.ErrInvalidEvent) holds.
type ObjectError struct {
	Type string // "Event" or the attribute's type, e.g. "ip-dst"
	UUID string
	Err  error
}

func (e *ObjectError) Error() string {
	id := e.UUID
	if id == "" {
		id = "(no uuid)"
	}
	// Validate joins its field errors with newlines; one rejection is one line.
	return fmt.Sprintf("%s %s: %s", event.Clip(e.Type), event.Clip(id), strings.ReplaceAll(e.Err.Error(), "\n", "; "))
}

// Unwrap returns the reason.
func (e *ObjectError) Unwrap() error { return e.Err }
