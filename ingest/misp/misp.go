// Package misp turns MISP event JSON — {"Event": …}, a bare event as PyMISP writes it, a
// list of those, the {"response": […]} of MISP's REST search, or one event file of a MISP
// feed — into COP's canonical events, one COP event per MISP event (several when it has
// more than event.MaxObservables observables, see split). What is read and what is left out
// on purpose is listed in docs/formats.md.
//
// It owns the mapping of MISP attribute types and taxonomy/galaxy tags to COP's
// observables, markings, techniques, sectors, countries and categories. It does no I/O
// and knows nothing of Kafka or HTTP: the ingest gateway hands it bytes and a Source and
// routes what comes back.
package misp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsondepth"
	"github.com/cidcc/cop/internal/jsonerr"
)

// Limits on one document, checked before the events are built.
const (
	MaxDepth      = 64      // nesting of JSON objects and arrays
	MaxAttributes = 100_000 // attributes in one document, object attributes included
)

// flexString accepts a JSON string, number or boolean: MISP writes most numbers as
// strings ("threat_level_id": "1") but not every exporter does.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		// No escape: the string is its bytes (encoding/json checked the document's syntax
		// before calling; invalid UTF-8 takes the slow path, which replaces it): no second
		// decoding of each attribute.
		*s = flexString(b[1 : len(b)-1])
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	*s = flexString(b)
	return nil
}

// flexBool accepts true/false, "1"/"0", "true"/"false" and 1/0.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(b), `"`) {
	case "true", "1", "True":
		*v = true
	default:
		*v = false
	}
	return nil
}

type tag struct {
	Name string `json:"name"`
}

// sighting is a MISP sighting: type 0 seen, 1 false positive, 2 expiration.
type sighting struct {
	Type flexString `json:"type"`
}

type attribute struct {
	UUID      string     `json:"uuid"`
	Type      string     `json:"type"`
	Category  string     `json:"category"`
	Value     string     `json:"value"`
	ToIDS     flexBool   `json:"to_ids"`
	Deleted   flexBool   `json:"deleted"`
	Tag       []tag      `json:"Tag"`
	Sighting  []sighting `json:"Sighting"`
	Timestamp flexString `json:"timestamp"`
}

type mispEvent struct {
	UUID             string      `json:"uuid"`
	Info             string      `json:"info"`
	Date             string      `json:"date"`
	Timestamp        flexString  `json:"timestamp"`
	PublishTimestamp flexString  `json:"publish_timestamp"`
	ThreatLevelID    flexString  `json:"threat_level_id"`
	Analysis         flexString  `json:"analysis"`
	Distribution     flexString  `json:"distribution"`
	Attribute        []attribute `json:"Attribute"`
	Object           []struct {
		Name      string      `json:"name"`
		UUID      string      `json:"uuid"`
		Deleted   flexBool    `json:"deleted"`
		Attribute []attribute `json:"Attribute"`
	} `json:"Object"`
	Tag      []tag      `json:"Tag"`
	Sighting []sighting `json:"Sighting"`
	Galaxy   []struct {
		Type          string `json:"type"`
		GalaxyCluster []struct {
			TagName string `json:"tag_name"`
			Type    string `json:"type"`
			Value   string `json:"value"`
		} `json:"GalaxyCluster"`
	} `json:"Galaxy"`
}

// wrapper is one element of a list of events: {"Event": …}, or the bare event PyMISP's
// MISPEvent.to_json() writes, read into the embedded mispEvent in the same pass.
type wrapper struct {
	Event *mispEvent `json:"Event"`
	mispEvent
}

// event returns the element's event, or nil if it is neither shape.
func (w *wrapper) event() *mispEvent {
	if w.Event != nil {
		return w.Event
	}
	if w.UUID != "" || w.Info != "" || len(w.Attribute) > 0 {
		return &w.mispEvent
	}
	return nil
}

// Parse turns one document into canonical events, one per MISP event (more for a split one). Every returned
// event has passed (*event.Event).Validate, has Contributor = src.Contributor (never from
// the payload), ReceivedAt = src.ReceivedAt, SourceID = the MISP event's uuid (<uuid>#k for part k ≥ 2 of a split event) and ID =
// event.Source{Contributor: src.Contributor}.EventID(SourceID). Each rejected event or attribute yields one
// *ObjectError that names it, the field, and what was expected. A document that cannot be
// read at all yields (nil, []error{err}). A partly valid document keeps its valid parts.
func Parse(doc []byte, src event.Source) ([]event.Event, []error) {
	mes, err := decode(doc)
	if err != nil {
		return nil, []error{err}
	}
	var evs []event.Event
	var errs []error
	for _, me := range mes {
		var attrErrs []error
		var err error
		evs, attrErrs, err = build(evs, me, src)
		errs = append(errs, attrErrs...)
		if err != nil {
			errs = append(errs, &ObjectError{Type: "Event", UUID: me.UUID, Err: err})
		}
	}
	return evs, errs
}

func decode(doc []byte) ([]*mispEvent, error) {
	doc = bytes.TrimPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("\xef\xbb\xbf"))
	if len(doc) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrNotMISP)
	}
	if doc[0] != '{' && doc[0] != '[' {
		return nil, fmt.Errorf("%w: want a JSON object {\"Event\": …} or a list of them", ErrNotMISP)
	}
	if jsondepth.Exceeds(doc, MaxDepth) {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth)
	}
	var ws []wrapper
	if doc[0] == '[' {
		if err := json.Unmarshal(doc, &ws); err != nil {
			return nil, decodeError("", err)
		}
	} else {
		var top struct {
			Event     *mispEvent      `json:"Event"`
			Response  json.RawMessage `json:"response"`
			UUID      *string         `json:"uuid"`
			Attribute json.RawMessage `json:"Attribute"`
			Type      string          `json:"type"`
		}
		if err := json.Unmarshal(doc, &top); err != nil {
			return nil, decodeError("", err)
		}
		switch {
		case top.Event != nil:
			ws = []wrapper{{Event: top.Event}}
		case len(top.Response) > 0 && top.Response[0] == '[':
			if err := json.Unmarshal(top.Response, &ws); err != nil {
				return nil, decodeError("response", err)
			}
			if len(ws) == 0 {
				return nil, fmt.Errorf("%w: the response lists no events", ErrNoEvents)
			}
		case len(top.Response) > 0 && top.Response[0] == '{':
			if isAttributeCollection(top.Response) {
				return nil, ErrAttributes
			}
			var w wrapper
			if err := json.Unmarshal(top.Response, &w); err != nil {
				return nil, decodeError("response", err)
			}
			ws = []wrapper{w}
		case top.UUID != nil:
			// A bare event, as PyMISP's MISPEvent.to_json() writes it.
			var me mispEvent
			if err := json.Unmarshal(doc, &me); err != nil {
				return nil, decodeError("", err)
			}
			ws = []wrapper{{Event: &me}}
		case len(top.Attribute) > 0:
			return nil, ErrAttributes
		case isManifest(doc):
			return nil, ErrManifest
		case top.Type == "bundle":
			return nil, fmt.Errorf("%w: this is a STIX bundle; send it as STIX (format stix)", ErrNotMISP)
		default:
			return nil, fmt.Errorf("%w: no \"Event\", \"response\" or event \"uuid\" property", ErrNotMISP)
		}
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("%w: the list is empty", ErrNoEvents)
	}
	mes := make([]*mispEvent, 0, len(ws))
	n := 0
	for i := range ws {
		me := ws[i].event()
		if me == nil {
			continue
		}
		n += len(me.Attribute)
		for _, o := range me.Object {
			n += len(o.Attribute)
		}
		mes = append(mes, me)
	}
	if n > MaxAttributes {
		return nil, fmt.Errorf("%w: %d attributes, at most %d", ErrTooManyAttributes, n, MaxAttributes)
	}
	if len(mes) == 0 && len(ws) > 0 {
		return nil, fmt.Errorf("%w: no element is an event ({\"Event\": …} or an object with a \"uuid\")", ErrNotMISP)
	}
	return mes, nil
}

// decodeError says where the document did not decode and what was expected.
func decodeError(in string, err error) error {
	field, reason := jsonerr.Describe(err)
	if field == "" {
		field = in
	} else if in != "" {
		field = in + "." + field
	}
	if field != "" {
		reason = field + ": " + reason
	}
	return fmt.Errorf("%w: %s", ErrNotMISP, reason)
}

// isAttributeCollection reports whether a response object is {"Attribute": […]}, what
// MISP's /attributes/restSearch returns.
func isAttributeCollection(b []byte) bool {
	var r struct {
		Attribute json.RawMessage `json:"Attribute"`
	}
	return json.Unmarshal(b, &r) == nil && len(r.Attribute) > 0 && r.Attribute[0] == '['
}

// isManifest reports whether doc looks like a feed's manifest.json: an object keyed by
// event uuid whose values carry "info" but no attributes.
func isManifest(doc []byte) bool {
	var m map[string]struct {
		Info *string `json:"info"`
	}
	if json.Unmarshal(doc, &m) != nil || len(m) == 0 {
		return false
	}
	for _, v := range m {
		if v.Info == nil {
			return false
		}
	}
	return true
}

func atoi(s flexString) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(string(s)))
	return n, err == nil
}
