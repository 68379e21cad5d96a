package native

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

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

// Field numbers of Input, for duplicate detection.
const (
	fID = iota + 1
	fKind
	fObservedAt
	fValidUntil
	fObservables
	fCategory
	fTechniques
	fSectors
	fCountries
	fGeo
	fSeverity
	fConfidence
	fTLP
	fReleasableTo
	fAnonymise
	fExercise
	fTitle
	fSummary
)

func fieldOf(key []byte) int {
	switch string(key) {
	case "id":
		return fID
	case "kind":
		return fKind
	case "observed_at":
		return fObservedAt
	case "valid_until":
		return fValidUntil
	case "observables":
		return fObservables
	case "category":
		return fCategory
	case "techniques":
		return fTechniques
	case "sectors":
		return fSectors
	case "countries":
		return fCountries
	case "geo":
		return fGeo
	case "severity":
		return fSeverity
	case "confidence":
		return fConfidence
	case "tlp":
		return fTLP
	case "releasable_to":
		return fReleasableTo
	case "anonymise":
		return fAnonymise
	case "exercise":
		return fExercise
	case "title":
		return fTitle
	case "summary":
		return fSummary
	}
	return 0
}

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
	geos    []event.Geo   // slab for the events' Geo, so that is no allocation each
}

// textRef says which string of the event chars[off:off+n] is: slot is the field number
// (fID, ...) and idx the entry of a list or the observable.
type textRef struct {
	slot   uint8
	idx    int
	off, n int
}

// The string lists of Input, in the order of their listLen.
const (
	listTechniques = iota
	listSectors
	listCountries
	listReleasableTo
	numLists
)

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
	e, err, ok := d.element()
	if !ok {
		return nil, nil, false
	}
	if err != nil {
		return nil, []error{fmt.Errorf("event 0: %w", err)}, true
	}
	return []event.Event{e}, nil, true
}

// element reads one event at d.pos, or has encoding/json read it if it is odd. ok is
// false when the document must go to encoding/json.
func (d *decoder) element() (e event.Event, err error, ok bool) {
	start := d.pos
	d.chars, d.refs = d.chars[:0], d.refs[:0]
	d.listLen = [numLists]int{-1, -1, -1, -1}
	conf, hasConf, st := d.object(&e)
	switch st {
	case decoded:
		d.place(&e)
		return e, finish(&e, d.src, conf, hasConf), true
	case odd:
		d.pos = start
		if !d.skip(1) {
			return event.Event{}, nil, false
		}
		e, err = parseElementLegacy(d.doc[start:d.pos], d.src)
		return e, err, true
	}
	return event.Event{}, nil, false
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
		e, err, ok := d.element()
		if !ok {
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

func (d *decoder) text(slot uint8, idx int) status {
	switch d.next() {
	case '"':
		b, st := d.str()
		if st == decoded && len(b) > 0 {
			d.refs = append(d.refs, textRef{slot: slot, idx: idx, off: len(d.chars), n: len(b)})
			d.chars = append(d.chars, b...)
		}
		return st
	case 'n':
		return d.literal("null")
	}
	return odd
}

// place sets the strings and lists of e from what object read.
func (d *decoder) place(e *event.Event) {
	total, any := 0, false
	for _, n := range d.listLen {
		if n >= 0 {
			total += n
			any = true
		}
	}
	if any {
		backing := make([]string, total)
		for i, n := range d.listLen {
			if n < 0 {
				continue
			}
			l := backing[:n:n]
			backing = backing[n:]
			switch i {
			case listTechniques:
				e.Techniques = l
			case listSectors:
				e.Sectors = l
			case listCountries:
				e.Countries = l
			case listReleasableTo:
				e.ReleasableTo = l
			}
		}
	}
	if len(d.refs) == 0 {
		return
	}
	s := string(d.chars)
	for _, r := range d.refs {
		v := s[r.off : r.off+r.n]
		switch r.slot {
		case fID:
			e.SourceID = v
		case fCategory:
			e.Category = v
		case fExercise:
			e.Exercise = v
		case fTitle:
			e.Title = v
		case fSummary:
			e.Summary = v
		case fObservables:
			e.Observables[r.idx].Value = v
		case fTechniques:
			e.Techniques[r.idx] = v
		case fSectors:
			e.Sectors[r.idx] = v
		case fCountries:
			e.Countries[r.idx] = v
		case fReleasableTo:
			e.ReleasableTo[r.idx] = v
		}
	}
}

// enum reads a string into b for an enum; null leaves b nil. The fast paths below match
// the spelling encoding/json writes; other spellings go to the event package's parsers,
// as UnmarshalText does.
func (d *decoder) enum() (b []byte, st status) {
	switch d.next() {
	case '"':
		return d.str()
	case 'n':
		return nil, d.literal("null")
	}
	return nil, odd
}

func (d *decoder) kind(dst *event.Kind) status {
	b, st := d.enum()
	if st != decoded || b == nil {
		return st
	}
	switch string(b) {
	case "indicator":
		*dst = event.KindIndicator
	case "sighting":
		*dst = event.KindSighting
	case "incident":
		*dst = event.KindIncident
	case "report":
		*dst = event.KindReport
	default:
		k, err := event.ParseKind(string(b))
		if err != nil {
			return odd
		}
		*dst = k
	}
	return decoded
}

func (d *decoder) severity(dst *event.Severity) status {
	b, st := d.enum()
	if st != decoded || b == nil {
		return st
	}
	switch string(b) {
	case "info":
		*dst = event.SeverityInfo
	case "low":
		*dst = event.SeverityLow
	case "medium":
		*dst = event.SeverityMedium
	case "high":
		*dst = event.SeverityHigh
	case "critical":
		*dst = event.SeverityCritical
	default:
		s, err := event.ParseSeverity(string(b))
		if err != nil {
			return odd
		}
		*dst = s
	}
	return decoded
}

func (d *decoder) tlp(dst *event.TLP) status {
	b, st := d.enum()
	if st != decoded || b == nil {
		return st
	}
	switch string(b) {
	case "CLEAR":
		*dst = event.TLPClear
	case "GREEN":
		*dst = event.TLPGreen
	case "AMBER":
		*dst = event.TLPAmber
	case "AMBER+STRICT":
		*dst = event.TLPAmberStrict
	case "RED":
		*dst = event.TLPRed
	default:
		t, err := event.ParseTLP(string(b))
		if err != nil {
			return odd
		}
		*dst = t
	}
	return decoded
}

func (d *decoder) observableType(dst *event.ObservableType) status {
	b, st := d.enum()
	if st != decoded || b == nil {
		return st
	}
	switch string(b) {
	case "ipv4":
		*dst = event.ObsIPv4
	case "ipv6":
		*dst = event.ObsIPv6
	case "domain":
		*dst = event.ObsDomain
	case "url":
		*dst = event.ObsURL
	case "cidr":
		*dst = event.ObsCIDR
	case "email":
		*dst = event.ObsEmail
	case "sha256":
		*dst = event.ObsSHA256
	case "sha1":
		*dst = event.ObsSHA1
	case "md5":
		*dst = event.ObsMD5
	case "cve":
		*dst = event.ObsCVE
	case "asn":
		*dst = event.ObsASN
	default:
		t, err := event.ParseObservableType(string(b))
		if err != nil {
			return odd
		}
		*dst = t
	}
	return decoded
}

// time hands the raw string, quotes included, to time.Time.UnmarshalJSON, as
// encoding/json does (escapes are not undone).
func (d *decoder) time(dst *time.Time) status {
	switch d.next() {
	case '"':
		start := d.pos
		if _, _, st := d.skipString(); st != decoded {
			return st
		}
		if dst.UnmarshalJSON(d.doc[start:d.pos]) != nil {
			return odd
		}
		return decoded
	case 'n':
		return d.literal("null")
	}
	return odd
}

func (d *decoder) bool(dst *bool) status {
	switch d.next() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return odd
}

// confidence reads an integer as strconv.ParseInt would; fractions, exponents and very
// long numbers are left to encoding/json.
func (d *decoder) confidence(dst *int, has *bool) status {
	c := d.next()
	if c == 'n' {
		return d.literal("null")
	}
	if c != '-' && (c < '0' || c > '9') {
		return odd
	}
	start := d.pos
	if !d.number() {
		return broken
	}
	lit := d.doc[start:d.pos]
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) > 18 {
		return odd
	}
	n := 0
	for _, c := range lit {
		if c < '0' || c > '9' {
			return odd
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	*dst, *has = n, true
	return decoded
}

func (d *decoder) float(dst *float64) status {
	c := d.next()
	if c == 'n' {
		return d.literal("null")
	}
	if c != '-' && (c < '0' || c > '9') {
		return odd
	}
	start := d.pos
	if !d.number() {
		return broken
	}
	f, err := strconv.ParseFloat(string(d.doc[start:d.pos]), 64)
	if err != nil {
		return odd
	}
	*dst = f
	return decoded
}

func (d *decoder) geo(dst **event.Geo) status {
	switch d.next() {
	case 'n':
		return d.literal("null")
	case '{':
	default:
		return odd
	}
	if len(d.geos) == cap(d.geos) {
		d.geos = make([]event.Geo, 0, 64)
	}
	d.geos = d.geos[:len(d.geos)+1]
	g := &d.geos[len(d.geos)-1]
	*dst = g
	d.pos++
	d.ws()
	if d.next() == '}' {
		d.pos++
		return decoded
	}
	var seen uint32
	for {
		f, st := d.key(&seen, geoField)
		if st != decoded {
			return st
		}
		if f == 1 {
			st = d.float(&g.Lat)
		} else {
			st = d.float(&g.Lon)
		}
		if st != decoded {
			return st
		}
		if more, st := d.more('}'); !more {
			return st
		}
	}
}

func geoField(key []byte) int {
	switch string(key) {
	case "lat":
		return 1
	case "lon":
		return 2
	}
	return 0
}

// list reads an array of strings; null elements are empty strings and an empty array is
// an empty, non-nil slice, as with encoding/json.
func (d *decoder) list(slot uint8, which int) status {
	switch d.next() {
	case 'n':
		return d.literal("null")
	case '[':
	default:
		return odd
	}
	d.pos++
	d.ws()
	n := 0
	if d.next() == ']' {
		d.pos++
	} else {
		for {
			if st := d.text(slot, n); st != decoded {
				return st
			}
			n++
			if more, st := d.more(']'); !more {
				if st != decoded {
					return st
				}
				break
			}
		}
	}
	d.listLen[which] = n
	return decoded
}

func (d *decoder) observables(dst *[]event.Observable) status {
	switch d.next() {
	case 'n':
		return d.literal("null")
	case '[':
	default:
		return odd
	}
	d.pos++
	d.ws()
	d.obs = d.obs[:0]
	if d.next() != ']' {
		for {
			var o event.Observable
			if st := d.observable(&o, len(d.obs)); st != decoded {
				return st
			}
			d.obs = append(d.obs, o)
			if more, st := d.more(']'); !more {
				if st != decoded {
					return st
				}
				break
			}
		}
	} else {
		d.pos++
	}
	*dst = append(make([]event.Observable, 0, len(d.obs)), d.obs...)
	return decoded
}

func (d *decoder) observable(o *event.Observable, idx int) status {
	switch d.next() {
	case 'n':
		return d.literal("null")
	case '{':
	default:
		return odd
	}
	d.pos++
	d.ws()
	if d.next() == '}' {
		d.pos++
		return decoded
	}
	var seen uint32
	for {
		f, st := d.key(&seen, observableField)
		if st != decoded {
			return st
		}
		if f == 1 {
			st = d.observableType(&o.Type)
		} else {
			st = d.text(fObservables, idx)
		}
		if st != decoded {
			return st
		}
		if more, st := d.more('}'); !more {
			return st
		}
	}
}

func observableField(key []byte) int {
	switch string(key) {
	case "type":
		return 1
	case "value":
		return 2
	}
	return 0
}
