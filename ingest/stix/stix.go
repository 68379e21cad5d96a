// Package stix turns STIX 2.1 JSON (a bundle or a single object) into COP's canonical
// events: indicators, sightings, incidents, reports, groupings and observed data become
// events; the identities, locations, attack patterns, relationships and marking definitions
// around them become the events' sectors, countries, geo, techniques and TLP, and the
// campaigns, intrusion sets, threat actors, malware and tools their names. An object with
// more than event.MaxObservables observables becomes several events (see split). What is
// read and what is left out on purpose is listed in docs/formats.md.
//
// It owns the STIX patterning parser and the mapping of STIX vocabularies to COP's. It does
// no I/O and knows nothing of Kafka or HTTP: the ingest gateway hands it bytes and a
// Source and routes what comes back.
package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsondepth"
	"github.com/cidcc/cop/internal/jsonerr"
)

// Limits on one document, checked before the objects are decoded.
const (
	MaxDepth   = 64      // nesting of JSON objects and arrays
	MaxObjects = 100_000 // objects in one bundle
)

// object holds the properties of every STIX object type COP reads; the Type says which
// are meaningful.
type object struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Confidence        *int     `json:"confidence"`
	Labels            []string `json:"labels"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
	GranularMarkings  []struct {
		MarkingRef string `json:"marking_ref"`
	} `json:"granular_markings"`

	// indicator
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	IndicatorTypes []string `json:"indicator_types"`

	// sighting
	SightingOfRef    string   `json:"sighting_of_ref"`
	ObservedDataRefs []string `json:"observed_data_refs"`
	WhereSightedRefs []string `json:"where_sighted_refs"`
	Count            *int     `json:"count"`
	FirstSeen        string   `json:"first_seen"`
	LastSeen         string   `json:"last_seen"`

	// observed-data, report, grouping
	FirstObserved  string                     `json:"first_observed"`
	NumberObserved int                        `json:"number_observed"`
	Objects        map[string]json.RawMessage `json:"objects"`
	ObjectRefs     []string                   `json:"object_refs"`
	Published      string                     `json:"published"`

	// relationship
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`

	// identity, location
	Sectors   []string `json:"sectors"`
	Country   string   `json:"country"`
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`

	// attack-pattern
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
	} `json:"external_references"`

	// marking-definition
	DefinitionType string `json:"definition_type"`
	Definition     struct {
		TLP string `json:"tlp"`
	} `json:"definition"`
	Extensions map[string]struct {
		TLP string `json:"tlp_2_0"`
	} `json:"extensions"`

	// SCOs
	Value  string            `json:"value"`
	Number json.Number       `json:"number"`
	Hashes map[string]string `json:"hashes"`

	// COP's custom properties
	XCOPSeverity  string   `json:"x_cop_severity"`
	XSeverity     string   `json:"x_severity"`
	XCOPCategory  string   `json:"x_cop_category"`
	XCOPCountry   string   `json:"x_cop_country"`
	XCOPCountries []string `json:"x_cop_countries"`
	XCOPSectors   []string `json:"x_cop_sectors"`
}

// Parse turns one document into canonical events. Every returned event has passed
// (*event.Event).Validate, has Contributor = src.Contributor (never from the payload),
// ReceivedAt = src.ReceivedAt, SourceID = the object's own id (<id>#k for part k ≥ 2 of a split object) and ID =
// event.Source{Contributor: src.Contributor}.EventID(SourceID). Each rejected object yields one *ObjectError that
// names it, the field, and what was expected. A document that cannot be read at all yields
// (nil, []error{err}). A partly valid document keeps its valid objects.
func Parse(doc []byte, src event.Source) ([]event.Event, []error) {
	b, errs, err := decode(doc)
	if err != nil {
		return nil, []error{err}
	}
	evs, more := b.events(src)
	errs = append(errs, more...)
	if len(evs) == 0 && len(errs) == 0 {
		errs = append(errs, b.nothingToRead())
	}
	return evs, errs
}

// nothingToRead says why a document that decoded gave no event: no objects, or none of a
// type that becomes an event.
func (b *bundle) nothingToRead() error {
	if len(b.objects) == 0 {
		return fmt.Errorf("%w: the bundle has no objects", ErrNoEvents)
	}
	n := make(map[string]int)
	for _, o := range b.objects {
		n[event.Clip(o.Type)]++
	}
	types := slices.Sorted(maps.Keys(n))
	parts := make([]string, 0, min(len(types), 10)+1)
	for _, t := range types[:min(len(types), 10)] {
		parts = append(parts, fmt.Sprintf("%d %s", n[t], t))
	}
	if len(types) > 10 {
		parts = append(parts, fmt.Sprintf("and %d more types", len(types)-10))
	}
	return fmt.Errorf("%w: %d objects (%s), none of them an indicator, sighting, observed-data, incident, report or grouping", ErrNoEvents, len(b.objects), strings.Join(parts, ", "))
}

// bundle indexes the objects of one document.
type bundle struct {
	objects []object
	byID    map[string]int   // id → index of its newest version in objects
	from    map[string][]int // source_ref → relationships
	to      map[string][]int // target_ref → relationships
}

func decode(doc []byte) (*bundle, []error, error) {
	doc = bytes.TrimLeft(doc, " \t\r\n\ufeff")
	doc = bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf"))
	if len(doc) == 0 {
		return nil, nil, fmt.Errorf("%w: empty document", ErrNotSTIX)
	}
	if doc[0] == '<' {
		if looksLikeSTIX1(doc) {
			return nil, nil, ErrSTIX1
		}
		return nil, nil, fmt.Errorf("%w: the document starts with '<' (XML or HTML, not JSON); want a JSON object with \"type\": \"bundle\"", ErrNotSTIX)
	}
	if doc[0] != '{' {
		return nil, nil, fmt.Errorf("%w: want a JSON object with \"type\": \"bundle\"", ErrNotSTIX)
	}
	if jsondepth.Exceeds(doc, MaxDepth) {
		return nil, nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth)
	}
	var head struct {
		Type        string            `json:"type"`
		SpecVersion string            `json:"spec_version"`
		Objects     []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		field, reason := jsonerr.Describe(err)
		if field != "" {
			reason = field + ": " + reason
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrNotSTIX, reason)
	}
	raws := head.Objects
	switch head.Type {
	case "bundle":
		if head.SpecVersion != "" && head.SpecVersion != "2.1" {
			// STIX 2.0 bundles carry spec_version "2.0"; 2.1 dropped the property.
			return nil, nil, ErrUnsupportedVersion
		}
	case "":
		return nil, nil, fmt.Errorf("%w: no \"type\" property", ErrNotSTIX)
	default:
		raws = []json.RawMessage{doc}
	}
	if len(raws) > MaxObjects {
		return nil, nil, fmt.Errorf("%w: %d objects, at most %d", ErrTooManyObjects, len(raws), MaxObjects)
	}
	b := &bundle{
		objects: make([]object, 0, len(raws)),
		byID:    make(map[string]int, len(raws)),
		from:    make(map[string][]int),
		to:      make(map[string][]int),
	}
	var errs []error
	v21 := false
	for _, raw := range raws {
		var o object
		if err := json.Unmarshal(raw, &o); err != nil {
			var id struct{ Type, ID string }
			_ = json.Unmarshal(raw, &id)
			field, reason := jsonerr.Describe(err)
			if field == "" {
				field = "object"
			}
			errs = append(errs, &ObjectError{Type: id.Type, ID: id.ID, Err: &event.FieldError{Field: field, Reason: reason}})
			continue
		}
		if o.SpecVersion == "2.1" {
			v21 = true
		}
		i := len(b.objects)
		if j, ok := b.byID[o.ID]; ok && o.ID != "" {
			// Several versions of one object: keep the newest (STIX orders them by modified).
			if b.objects[j].Modified >= o.Modified {
				continue
			}
		}
		b.objects = append(b.objects, o)
		b.byID[o.ID] = i
		if o.Type == "relationship" {
			b.from[o.SourceRef] = append(b.from[o.SourceRef], i)
			b.to[o.TargetRef] = append(b.to[o.TargetRef], i)
		}
	}
	if !v21 && len(b.objects) > 0 {
		return nil, nil, ErrUnsupportedVersion
	}
	return b, errs, nil
}

// looksLikeSTIX1 reports whether an XML document is STIX 1.x: its root is a STIX_Package
// or it uses a STIX 1 namespace, within its first 64 KiB.
func looksLikeSTIX1(doc []byte) bool {
	head := doc[:min(len(doc), 64<<10)]
	return bytes.Contains(head, []byte("STIX_Package")) || bytes.Contains(head, []byte("stix.mitre.org")) ||
		bytes.Contains(head, []byte("<stix:"))
}

// parseTime reads a STIX timestamp (RFC 3339, UTC, optional fraction).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 timestamp such as 2026-02-01T10:00:00Z", event.Quote(s))
	}
	return t.UTC(), nil
}
