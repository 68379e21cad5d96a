package native

import (
	"strconv"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// The readers of Input's fields, each straight into event.Event. A string goes into the
// event's text (place puts it in its field once the event is read); null leaves the
// field as it is, as encoding/json does.

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

// fieldOf returns the field number of an exactly spelt key of Input, else 0.
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

// text reads a string (or null) into the event's text, for the field slot (entry idx).
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
	total, lists := 0, false
	for _, n := range d.listLen {
		if n >= 0 {
			total += n
			lists = true
		}
	}
	if lists { // one backing array; each list capped at its own length, so appends copy
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

// enum reads a string value into dst: by exact (no allocation) when it is spelled as COP
// writes it, else by parse, which accepts the other spellings (case, TLP 1.0 names).
func enum[T any](d *decoder, dst *T, exact func([]byte) (T, bool), parse func(string) (T, error)) status {
	b, st := d.enum()
	if st != decoded || b == nil {
		return st
	}
	v, ok := exact(b)
	if !ok {
		var err error
		if v, err = parse(string(b)); err != nil {
			return odd
		}
	}
	*dst = v
	return decoded
}

func (d *decoder) kind(dst *event.Kind) status { return enum(d, dst, event.KindOf, event.ParseKind) }

func (d *decoder) severity(dst *event.Severity) status {
	return enum(d, dst, event.SeverityOf, event.ParseSeverity)
}

func (d *decoder) tlp(dst *event.TLP) status { return enum(d, dst, event.TLPOf, event.ParseTLP) }

func (d *decoder) observableType(dst *event.ObservableType) status {
	return enum(d, dst, event.ObservableTypeOf, event.ParseObservableType)
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
