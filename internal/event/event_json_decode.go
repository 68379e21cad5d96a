package event

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/jsonscan"
)

// UnmarshalJSON implements json.Unmarshaler. The JSON AppendJSON writes (keys in any order,
// each once, any whitespace) is read in one pass; anything else goes to encoding/json on
// the plain struct, which stays the reference. As with encoding/json, keys absent from b
// leave their fields as they were.
//
// The strings of an event read in one pass are parts of one copy of b (one allocation, not
// one per string): keeping any of them keeps that copy. The correlator copies what it keeps
// into its own arena, so this costs nothing there.
func (e *Event) UnmarshalJSON(b []byte) error {
	d := eventDecoder{doc: b, ev: *e}
	if d.event() {
		d.commit(e)
		return nil
	}
	return unmarshalEventFields(b, e)
}

func unmarshalEventFields(b []byte, e *Event) error {
	// Named Event so encoding/json's messages read as before: "Go struct field Event.title".
	type Event eventFields
	return json.Unmarshal(b, (*Event)(e))
}

// Fields of Event, one bit each in eventDecoder.seen.
const (
	fID = iota
	fContributor
	fSourceID
	fKind
	fObservedAt
	fReceivedAt
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
	fNames
	fFalsePositives
)

// eventDecoder reads one event into ev, a copy of the caller's Event that shares no array
// with it (slices read are new ones): if it gives up halfway, encoding/json starts again
// from the untouched original.
type eventDecoder struct {
	doc  []byte
	pos  int
	text string // string(doc), made at the first string that needs no unescaping
	seen uint32
	ev   Event
	geo  Geo
}

// commit stores the fields read into e as encoding/json would have: d.ev started as a copy
// of e, so fields absent from the document keep their values; a slice with room keeps its
// array and a Geo already there is written through.
func (d *eventDecoder) commit(e *Event) {
	n := d.ev
	if d.seen&(1<<fObservables) != 0 {
		n.Observables = reuse(e.Observables, n.Observables)
	}
	if d.seen&(1<<fNames) != 0 {
		n.Names = reuse(e.Names, n.Names)
	}
	if d.seen&(1<<fTechniques) != 0 {
		n.Techniques = reuse(e.Techniques, n.Techniques)
	}
	if d.seen&(1<<fSectors) != 0 {
		n.Sectors = reuse(e.Sectors, n.Sectors)
	}
	if d.seen&(1<<fCountries) != 0 {
		n.Countries = reuse(e.Countries, n.Countries)
	}
	if d.seen&(1<<fReleasableTo) != 0 {
		n.ReleasableTo = reuse(e.ReleasableTo, n.ReleasableTo)
	}
	if d.seen&(1<<fGeo) != 0 {
		if e.Geo != nil {
			*e.Geo = d.geo
		} else {
			g := d.geo
			n.Geo = &g
		}
	}
	*e = n
}

// reuse returns got in old's array when it fits, as encoding/json fills a slice; an empty
// JSON array is always a new empty slice.
func reuse[T any](old, got []T) []T {
	if len(got) == 0 || cap(old) < len(got) {
		return got
	}
	return append(old[:0], got...)
}

// event reads the whole document as one event object, or reports false.
func (d *eventDecoder) event() bool {
	d.ws()
	if d.next() != '{' {
		return false
	}
	d.pos++
	d.ws()
	if d.next() == '}' {
		d.pos++
	} else {
		for {
			if !d.field() {
				return false
			}
			d.ws()
			c := d.next()
			d.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				return false
			}
			d.ws()
		}
	}
	d.ws()
	return d.pos == len(d.doc)
}

// field reads one "key": value pair of the event object.
func (d *eventDecoder) field() bool {
	key, ok := d.key()
	if !ok {
		return false
	}
	f, ok := fieldOf(key)
	if !ok || d.seen&(1<<f) != 0 {
		return false
	}
	d.seen |= 1 << f
	return d.value(f)
}

// fieldOf is the field key names, exactly as COP writes it.
func fieldOf(key []byte) (f int, ok bool) {
	switch string(key) {
	case "id":
		f = fID
	case "contributor":
		f = fContributor
	case "source_id":
		f = fSourceID
	case "kind":
		f = fKind
	case "observed_at":
		f = fObservedAt
	case "received_at":
		f = fReceivedAt
	case "valid_until":
		f = fValidUntil
	case "observables":
		f = fObservables
	case "category":
		f = fCategory
	case "techniques":
		f = fTechniques
	case "sectors":
		f = fSectors
	case "countries":
		f = fCountries
	case "geo":
		f = fGeo
	case "severity":
		f = fSeverity
	case "confidence":
		f = fConfidence
	case "tlp":
		f = fTLP
	case "releasable_to":
		f = fReleasableTo
	case "anonymise":
		f = fAnonymise
	case "exercise":
		f = fExercise
	case "title":
		f = fTitle
	case "summary":
		f = fSummary
	case "names":
		f = fNames
	case "false_positives":
		f = fFalsePositives
	default:
		return 0, false // unknown, or another case that encoding/json folds
	}
	return f, true
}

// value reads the value of field f into the event.
func (d *eventDecoder) value(f int) bool {
	e := &d.ev
	switch f {
	case fID:
		return d.str(&e.ID)
	case fContributor:
		return d.str(&e.Contributor)
	case fSourceID:
		return d.str(&e.SourceID)
	case fKind:
		v, ok := d.name(kindNames[:])
		e.Kind = Kind(v)
		return ok
	case fObservedAt:
		return d.time(&e.ObservedAt)
	case fReceivedAt:
		return d.time(&e.ReceivedAt)
	case fValidUntil:
		return d.time(&e.ValidUntil)
	case fObservables:
		return d.observables()
	case fCategory:
		return d.str(&e.Category)
	case fTechniques:
		return d.strs(&e.Techniques)
	case fSectors:
		return d.strs(&e.Sectors)
	case fCountries:
		return d.strs(&e.Countries)
	case fGeo:
		return d.geoObject()
	case fSeverity:
		v, ok := d.name(severityNames[:])
		e.Severity = Severity(v)
		return ok
	case fConfidence:
		return d.uint8(&e.Confidence)
	case fTLP:
		v, ok := d.name(tlpNames[:])
		e.TLP = TLP(v)
		return ok
	case fReleasableTo:
		return d.strs(&e.ReleasableTo)
	case fAnonymise:
		return d.bool(&e.Anonymise)
	case fExercise:
		return d.str(&e.Exercise)
	case fTitle:
		return d.str(&e.Title)
	case fNames:
		return d.names()
	case fFalsePositives:
		v, ok := d.uint(math.MaxUint32)
		e.FalsePositives = uint32(v)
		return ok
	default: // fSummary
		return d.str(&e.Summary)
	}
}

// key reads an object key without escapes and the colon after it.
func (d *eventDecoder) key() ([]byte, bool) {
	if d.next() != '"' {
		return nil, false
	}
	start := d.pos + 1
	i := start
	for i < len(d.doc) && jsonscan.Plain[d.doc[i]] {
		i++
	}
	if i >= len(d.doc) || d.doc[i] != '"' {
		return nil, false
	}
	d.pos = i + 1
	d.ws()
	if d.next() != ':' {
		return nil, false
	}
	d.pos++
	d.ws()
	return d.doc[start:i], true
}

func (d *eventDecoder) observables() bool {
	var tmp [8]Observable
	obs := tmp[:0]
	ok := d.array(func() bool {
		var o Observable
		ok := d.pair("type", "value", func() bool {
			v, ok := d.name(observableTypeNames[:])
			o.Type = ObservableType(v)
			return ok
		}, func() bool { return d.str(&o.Value) })
		obs = append(obs, o)
		return ok
	})
	d.ev.Observables = append([]Observable{}, obs...) // exact size; [] stays non-nil
	return ok
}

// names reads [{"kind": string, "name": string}, …], both keys once each in either order.
func (d *eventDecoder) names() bool {
	var tmp [4]Name
	ns := tmp[:0]
	ok := d.array(func() bool {
		var n Name
		ok := d.pair("kind", "name", func() bool { return d.str(&n.Kind) }, func() bool { return d.str(&n.Name) })
		ns = append(ns, n)
		return ok
	})
	d.ev.Names = append([]Name{}, ns...)
	return ok
}

// pair reads {"a": …, "b": …}: both keys once each, in either order, each value read by
// its function; anything else is not the fast path's. Both keys once each: then
// encoding/json's merge into a reused element is moot.
func (d *eventDecoder) pair(a, b string, readA, readB func() bool) bool {
	if d.next() != '{' {
		return false
	}
	d.pos++
	d.ws()
	var seen uint8
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		switch string(key) {
		case a:
			if seen&1 != 0 {
				return false
			}
			seen |= 1
			ok = readA()
		case b:
			if seen&2 != 0 {
				return false
			}
			seen |= 2
			ok = readB()
		default:
			return false
		}
		if !ok {
			return false
		}
		d.ws()
		c := d.next()
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return false
		}
		d.ws()
	}
	return seen == 3
}

func (d *eventDecoder) strs(dst *[]string) bool {
	var tmp [8]string
	xs := tmp[:0]
	ok := d.array(func() bool {
		var s string
		if !d.str(&s) {
			return false
		}
		xs = append(xs, s)
		return true
	})
	*dst = append([]string{}, xs...)
	return ok
}

// array reads a JSON array, calling elem at each element's first byte.
func (d *eventDecoder) array(elem func() bool) bool {
	if d.next() != '[' {
		return false
	}
	d.pos++
	d.ws()
	if d.next() == ']' {
		d.pos++
		return true
	}
	for {
		if !elem() {
			return false
		}
		d.ws()
		c := d.next()
		d.pos++
		if c == ']' {
			return true
		}
		if c != ',' {
			return false
		}
		d.ws()
	}
}

// geoObject reads {"lat": number, "lon": number}, both keys once, in either order.
func (d *eventDecoder) geoObject() bool {
	if d.next() != '{' {
		return false
	}
	d.pos++
	d.ws()
	var lat, lon bool
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		switch {
		case string(key) == "lat" && !lat:
			lat, ok = true, d.float(&d.geo.Lat)
		case string(key) == "lon" && !lon:
			lon, ok = true, d.float(&d.geo.Lon)
		default:
			return false
		}
		if !ok {
			return false
		}
		d.ws()
		c := d.next()
		d.pos++
		if c == '}' {
			return lat && lon
		}
		if c != ',' {
			return false
		}
		d.ws()
	}
}

// name reads a string that is exactly one of names (Kind, Severity, TLP, ObservableType as
// MarshalText writes them) and returns its index. Other spellings their UnmarshalText
// accepts ("amber", "TLP:RED") are left to encoding/json.
func (d *eventDecoder) name(names []string) (uint8, bool) {
	if d.next() != '"' {
		return 0, false
	}
	start := d.pos + 1
	i := start
	for i < len(d.doc) && jsonscan.Plain[d.doc[i]] {
		i++
	}
	if i >= len(d.doc) || d.doc[i] != '"' {
		return 0, false
	}
	d.pos = i + 1
	s := d.doc[start:i]
	for v := 1; v < len(names); v++ {
		if string(s) == names[v] {
			return uint8(v), true
		}
	}
	return 0, false
}

// time hands the raw string, quotes included, to time.Time.UnmarshalJSON, as encoding/json
// does.
func (d *eventDecoder) time(dst *time.Time) bool {
	start := d.pos
	if d.next() != '"' {
		return false
	}
	if _, ok := d.skipString(); !ok {
		return false
	}
	return dst.UnmarshalJSON(d.doc[start:d.pos]) == nil
}

// uint reads a JSON integer 0..max without sign, fraction or exponent.
func (d *eventDecoder) uint(max uint64) (uint64, bool) {
	doc, i := d.doc, d.pos
	var v uint64
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		for ; i < len(doc) && doc[i] >= '0' && doc[i] <= '9'; i++ {
			if v = v*10 + uint64(doc[i]-'0'); v > max {
				return 0, false
			}
		}
	default:
		return 0, false
	}
	if i < len(doc) && (doc[i] == '.' || doc[i] == 'e' || doc[i] == 'E') {
		return 0, false
	}
	d.pos = i
	return v, true
}

// uint8 reads a JSON integer 0..255 without sign, fraction or exponent (encoding/json's
// ParseUint takes nothing else).
func (d *eventDecoder) uint8(dst *uint8) bool {
	doc, i := d.doc, d.pos
	var v int
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		for ; i < len(doc) && doc[i] >= '0' && doc[i] <= '9'; i++ {
			if v = v*10 + int(doc[i]-'0'); v > 255 {
				return false
			}
		}
	default:
		return false
	}
	if i < len(doc) && (doc[i] == '.' || doc[i] == 'e' || doc[i] == 'E') {
		return false
	}
	d.pos = i
	*dst = uint8(v)
	return true
}

// float reads a JSON number as encoding/json does: strconv.ParseFloat of its text.
func (d *eventDecoder) float(dst *float64) bool {
	start := d.pos
	if !d.number() {
		return false
	}
	f, err := strconv.ParseFloat(string(d.doc[start:d.pos]), 64)
	*dst = f
	return err == nil
}

func (d *eventDecoder) bool(dst *bool) bool {
	switch {
	case d.literal("true"):
		*dst = true
	case d.literal("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// The lexical half, checked as strictly as encoding/json's scanner: a document it would
// refuse is never read here, so its syntax error is the one returned.

// next returns the byte at d.pos, or 0 at the end (never valid where it is asked for).
func (d *eventDecoder) next() byte {
	if d.pos < len(d.doc) {
		return d.doc[d.pos]
	}
	return 0
}

func (d *eventDecoder) ws() { d.pos = jsonscan.WS(d.doc, d.pos) }

func (d *eventDecoder) literal(lit string) bool {
	pos, ok := jsonscan.Literal(d.doc, d.pos, lit)
	d.pos = pos
	return ok
}

// number moves past a JSON number.
func (d *eventDecoder) number() bool {
	pos, ok := jsonscan.Number(d.doc, d.pos)
	d.pos = pos
	return ok
}

// skipString moves past the string at d.pos and says whether it needs unescaping: escapes,
// or bytes above ASCII that are not valid UTF-8.
func (d *eventDecoder) skipString() (raw, ok bool) {
	start := d.pos + 1
	end, esc, high, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		return false, false
	}
	d.pos = end
	return !esc && (!high || utf8.Valid(d.doc[start:end-1])), true
}

// str reads a string into dst, unescaped as encoding/json does: invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func (d *eventDecoder) str(dst *string) bool {
	if d.next() != '"' {
		return false
	}
	start := d.pos + 1
	raw, ok := d.skipString()
	if !ok {
		return false
	}
	s := d.doc[start : d.pos-1]
	if raw {
		if d.text == "" {
			d.text = string(d.doc)
		}
		*dst = d.text[start : d.pos-1]
		return true
	}
	var buf [128]byte
	b := jsonscan.AppendUnquoted(buf[:0], s)
	*dst = string(b)
	return true
}
