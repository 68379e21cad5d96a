package native

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cidcc/cop/internal/event"
)

// The decoder reads the fixed schema of Input straight into event.Event, in one pass.
// It only decides what it is sure encoding/json (legacy.go) would decide the same way:
//   - an object with the exact field names, each at most once, with values of the right
//     JSON type or null, is decoded here;
//   - any other valid JSON value in an event's place (a key in another case, an escaped or
//     unknown key, a duplicate key, a value of the wrong type, a bad enum or time) is
//     "odd": it is checked for syntax, then that one element goes to encoding/json, so its
//     error reads exactly as before;
//   - anything that is not valid JSON, or nests deeper than maxDepth, is "broken": the
//     whole document goes to encoding/json, which knows where the stream stops.
// Syntax is checked as strictly as encoding/json's scanner: the decoder never accepts a
// byte that encoding/json would refuse.

// status is how far the decoder got with one value.
type status uint8

const (
	decoded status = iota
	odd
	broken
)

// maxDepth bounds the nesting the decoder itself walks (values it skips); deeper documents
// go to encoding/json, whose own limit is 10,000 levels.
const maxDepth = 256

var eventsKey = []byte(`"events"`)

type decoder struct {
	doc []byte
	pos int
	src event.Source
	buf []byte             // unescaped string, valid until the next string
	obs []event.Observable // observables being read

	// The strings of the event being read go into one string, allocated once the event
	// is read (place); an event does not keep another's bytes alive.
	chars   []byte
	refs    []textRef
	listLen [numLists]int // entries of each list; -1 when absent or null
	geos    []event.Geo   // slab for the events' Geo: one allocation for 64 of them
}

// parseFast is Parse by the hand-written decoder; ok is false when the document must go to
// encoding/json instead. doc is already trimmed.
func parseFast(doc []byte, src event.Source) (evs []event.Event, errs []error, ok bool) {
	if len(doc) == 0 {
		return nil, nil, false
	}
	d := decoder{doc: doc, src: src}
	switch doc[0] {
	case '[':
		evs, errs, cut, ok := d.array()
		if cut {
			return nil, []error{errTooMany}, true
		}
		return evs, errs, ok
	case '{':
		if bytes.Contains(doc, eventsKey) {
			return d.wrapper()
		}
		return d.single()
	}
	return nil, nil, false
}

// single reads a document that is one event. Bytes after it are ignored, as encoding/json's
// Decoder does.
func (d *decoder) single() ([]event.Event, []error, bool) {
	e, err := d.element()
	if err == errBroken {
		return nil, nil, false
	}
	if err != nil {
		return nil, []error{fmt.Errorf("event 0: %w", err)}, true
	}
	return []event.Event{e}, nil, true
}

// errBroken is element's answer for a document that must go to encoding/json whole.
var errBroken = errors.New("document left to encoding/json")

// element reads one event at d.pos, or has encoding/json read it if it is odd. The error
// is why the event is rejected, or errBroken.
func (d *decoder) element() (e event.Event, err error) {
	start := d.pos
	d.chars, d.refs = d.chars[:0], d.refs[:0]
	d.listLen = [numLists]int{-1, -1, -1, -1}
	conf, hasConf, st := d.object(&e)
	switch st {
	case decoded:
		d.place(&e)
		return e, finish(&e, d.src, conf, hasConf)
	case odd:
		d.pos = start
		if !d.skip(1) {
			return event.Event{}, errBroken
		}
		return parseElementLegacy(d.doc[start:d.pos], d.src)
	}
	return event.Event{}, errBroken
}

// wrapper reads {"events": [...]}, whose other keys are ignored. A document with the word
// "events" that is not that shape is read as a single event when that is sure, else left
// to encoding/json.
func (d *decoder) wrapper() ([]event.Event, []error, bool) {
	var (
		evs  []event.Event
		errs []error
		seen bool
	)
	d.pos = 1
	d.ws()
	if d.next() == '}' {
		return nil, nil, false
	}
	for {
		if d.next() != '"' {
			return nil, nil, false
		}
		ks := d.pos + 1
		esc, high, st := d.skipString()
		if st != decoded || esc || high {
			return nil, nil, false
		}
		key := d.doc[ks : d.pos-1]
		d.ws()
		if d.next() != ':' {
			return nil, nil, false
		}
		d.pos++
		d.ws()
		switch {
		case string(key) == "events":
			if seen || d.next() != '[' {
				return nil, nil, false
			}
			seen = true
			var cut, ok bool
			if evs, errs, cut, ok = d.array(); cut || !ok {
				return nil, nil, false
			}
		case len(key) == len("events") && bytes.EqualFold(key, []byte("events")):
			return nil, nil, false // encoding/json matches keys case-insensitively
		default:
			if !d.skip(1) {
				return nil, nil, false
			}
		}
		d.ws()
		switch d.next() {
		case ',':
			d.pos++
			d.ws()
			continue
		case '}':
			d.pos++
		default:
			return nil, nil, false
		}
		break
	}
	if d.pos != len(d.doc) {
		return nil, nil, false // encoding/json.Unmarshal refuses trailing bytes
	}
	if !seen {
		// Valid JSON with no "events" key: one event, which will fail on the unknown keys
		// or be read as one if "events" was only in a value.
		d.pos = 0
		return d.single()
	}
	return evs, errs, true
}

// array reads the array at d.pos into events and the errors of the rejected ones. ok is
// false when the document must go to encoding/json; cut is true when it holds more than
// MaxEvents. Bytes after the closing bracket are ignored, as encoding/json's Decoder does.
func (d *decoder) array() (evs []event.Event, errs []error, cut, ok bool) {
	evs = make([]event.Event, 0, min((len(d.doc)-d.pos)/256+1, 4096))
	d.pos++
	d.ws()
	for i := 0; ; i++ {
		switch c := d.next(); {
		case c == ']':
			d.pos++
			return evs, errs, false, true
		case c == 0 || c == '}':
			return nil, nil, false, false
		case i == MaxEvents:
			return nil, nil, true, true
		case i > 0:
			if c != ',' {
				return nil, nil, false, false
			}
			d.pos++
			d.ws()
		}
		e, err := d.element()
		if err == errBroken {
			return nil, nil, false, false
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("event %d: %w", i, err))
		} else {
			evs = append(evs, e)
		}
		d.ws()
	}
}

// object reads one event object (or null, an empty one) into e.
func (d *decoder) object(e *event.Event) (conf int, hasConf bool, st status) {
	switch d.next() {
	case 'n':
		return 0, false, d.literal("null")
	case '{':
	default:
		return 0, false, odd
	}
	d.pos++
	d.ws()
	if d.next() == '}' {
		d.pos++
		return 0, false, decoded
	}
	var seen uint32
	for {
		f, st := d.key(&seen, fieldOf)
		if st != decoded {
			return 0, false, st
		}
		switch f {
		case fID:
			st = d.text(fID, 0)
		case fKind:
			st = d.kind(&e.Kind)
		case fObservedAt:
			st = d.time(&e.ObservedAt)
		case fValidUntil:
			st = d.time(&e.ValidUntil)
		case fObservables:
			st = d.observables(&e.Observables)
		case fCategory:
			st = d.text(fCategory, 0)
		case fTechniques:
			st = d.list(fTechniques, listTechniques)
		case fSectors:
			st = d.list(fSectors, listSectors)
		case fCountries:
			st = d.list(fCountries, listCountries)
		case fGeo:
			st = d.geo(&e.Geo)
		case fSeverity:
			st = d.severity(&e.Severity)
		case fConfidence:
			st = d.confidence(&conf, &hasConf)
		case fTLP:
			st = d.tlp(&e.TLP)
		case fReleasableTo:
			st = d.list(fReleasableTo, listReleasableTo)
		case fAnonymise:
			st = d.bool(&e.Anonymise)
		case fExercise:
			st = d.text(fExercise, 0)
		case fTitle:
			st = d.text(fTitle, 0)
		case fSummary:
			st = d.text(fSummary, 0)
		}
		if st != decoded {
			return 0, false, st
		}
		if more, st := d.more('}'); !more {
			return conf, hasConf, st
		}
	}
}

// key reads `"name":` and returns the field number of name, which must be new in seen.
func (d *decoder) key(seen *uint32, field func([]byte) int) (int, status) {
	if d.next() != '"' {
		return 0, broken
	}
	ks := d.pos + 1
	esc, high, st := d.skipString()
	if st != decoded {
		return 0, st
	}
	key := d.doc[ks : d.pos-1]
	d.ws()
	if d.next() != ':' {
		return 0, broken
	}
	d.pos++
	d.ws()
	if esc || high {
		return 0, odd
	}
	f := field(key)
	if f == 0 || *seen&(1<<f) != 0 {
		return 0, odd
	}
	*seen |= 1 << f
	return f, decoded
}

// more reads what follows a member or element: a comma (more) or the closing bracket.
func (d *decoder) more(closing byte) (more bool, st status) {
	d.ws()
	switch d.next() {
	case ',':
		d.pos++
		d.ws()
		return true, decoded
	case closing:
		d.pos++
		return false, decoded
	}
	return false, broken
}
