// Package ingest owns the ways feeds enter COP: the Kafka feed consumer, format detection
// and dispatch to the parsers (ingest/native, ingest/stix, ingest/misp), and the dead
// letter for everything that cannot be accepted. It normalises and validates; it does not
// score, correlate or store.
package ingest

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cidcc/cop/ingest/misp"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/ingest/stix"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
)

// Format is a feed format.
type Format string

// Formats COP accepts.
const (
	FormatNative Format = "native"
	FormatSTIX   Format = "stix"
	FormatMISP   Format = "misp"
)

// ParseFormat accepts a format name or a media type ("application/stix+json").
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	switch s {
	case "native", "cop", "application/vnd.cop+json":
		return FormatNative, nil
	case "stix", "stix2", "stix2.1", "application/stix+json", "application/taxii+json":
		return FormatSTIX, nil
	case "misp", "application/vnd.misp+json":
		return FormatMISP, nil
	case "", "auto", "application/json":
		return "", nil
	}
	return "", fmt.Errorf("unknown feed format %s: want native, stix or misp", event.Quote(s))
}

// Sniff guesses the format of doc from its first bytes: STIX bundles and objects carry
// "type" with a STIX id, MISP events an "Event" key; anything else is tried as native.
func Sniff(doc []byte) Format {
	head := doc
	if len(head) > 4096 {
		head = head[:4096]
	}
	switch {
	case bytes.Contains(head, []byte(`"Event"`)) || bytes.Contains(head, []byte(`"response"`)) ||
		// A bare event, as PyMISP's MISPEvent.to_json() writes it.
		bytes.Contains(head, []byte(`"threat_level_id"`)) || bytes.Contains(head, []byte(`"Attribute"`)):
		return FormatMISP
	case bytes.Contains(head, []byte(`"spec_version"`)) || bytes.Contains(head, []byte(`"type": "bundle"`)) ||
		bytes.Contains(head, []byte(`"type":"bundle"`)) || bytes.Contains(head, []byte(`--`)) && bytes.Contains(head, []byte(`"type"`)):
		return FormatSTIX
	case bytes.HasPrefix(bytes.TrimSpace(head), []byte("<")):
		return FormatSTIX // STIX 1.x XML: the STIX parser says why it is refused
	}
	return FormatNative
}

// Parse dispatches doc to the parser of f (sniffed when empty).
func Parse(f Format, doc []byte, src event.Source) (Format, []event.Event, []error) {
	if f == "" {
		f = Sniff(doc)
	}
	// encoding/json would silently turn invalid UTF-8 into U+FFFD: the event stored would
	// not be the one sent. Refuse the document instead; the dead letter keeps the bytes.
	if !utf8.Valid(doc) {
		bad := 0
		for bad < len(doc) {
			r, n := utf8.DecodeRune(doc[bad:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			bad += n
		}
		return f, nil, []error{fmt.Errorf("document is not valid UTF-8 (first bad byte at offset %d)", bad)}
	}
	var evs []event.Event
	var errs []error
	switch f {
	case FormatSTIX:
		evs, errs = stix.Parse(doc, src)
	case FormatMISP:
		evs, errs = misp.Parse(doc, src)
	default:
		evs, errs = native.Parse(doc, src)
	}
	return f, evs, errs
}

// Result is what accepting one document produced.
type Result struct {
	Format Format
	Events []event.Event
	// Letter is the document's dead letter, nil when every element was accepted: one per
	// document, listing why each rejected element was (see internal/deadletter's caps).
	Letter *deadletter.Letter
}

// Accept parses one document from src (its contributor, time of reception and the id key)
// at source (a Kafka position or an HTTP request id). The events that fail share one dead
// letter naming each reason; the raw document rides along (size-capped) so nothing is lost.
func Accept(f Format, doc []byte, src event.Source, source, exercise string) Result {
	contributor, at := src.Contributor, src.ReceivedAt
	f, evs, errs := Parse(f, doc, src)
	r := Result{Format: f, Events: evs}
	if exercise != "" {
		for i := range r.Events {
			r.Events[i].Exercise = strings.ToUpper(exercise)
		}
	}
	switch {
	case len(errs) > 0:
		l := deadletter.FromErrors(contributor, source, string(f), doc, at, errs)
		r.Letter = &l
	case len(evs) == 0:
		l := deadletter.New(contributor, source, string(f), doc, at, "document holds no event")
		r.Letter = &l
	}
	return r
}
