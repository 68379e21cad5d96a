package picture

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonscan"
)

// DecodeDelta decodes the JSON of a delta (the payload of cop.picture) into d, in one pass
// and without reflection. It gives what json.Unmarshal(b, d) gives for every document
// json.Unmarshal accepts: keys matched exactly, then with encoding/json's case folding;
// unknown keys ignored; a repeated key read again over the first; null leaving a value as
// it was, or clearing a slice or Geo; strings unescaped as encoding/json does; numbers
// parsed by strconv as it parses them; times by time.Time.UnmarshalJSON; kinds, severities,
// TLPs and observable types by their UnmarshalText. Like json.Unmarshal it reads into what
// d holds (fields absent from b keep their values, slices are refilled in their arrays) and
// fails where json.Unmarshal fails, with a *DecodeError naming the field; d may then hold
// part of b.
//
// The strings read share one copy of b (one allocation, not one per string): b itself is
// not kept, so the caller may reuse it (the Kafka reader does).
func DecodeDelta(b []byte, d *Delta) error {
	dec := deltaDecoder{doc: b}
	dec.ws()
	if err := dec.delta(d); err != nil {
		return err
	}
	if dec.ws(); dec.pos != len(b) {
		return dec.syntax("want the end of the document after the delta")
	}
	return nil
}

// DecodeError says where a delta's JSON is wrong and what was expected there.
type DecodeError struct {
	// Field is the path of the value, such as "situation.observables[2].type"; empty for
	// the document itself.
	Field string
	// Offset is the byte of the document where the value (or the syntax error) starts.
	Offset int
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "cannot decode picture delta at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
	}
	return "cannot decode picture delta: " + e.Field + " (byte " + strconv.Itoa(e.Offset) + "): " + e.Reason
}

// in prefixes the field path with the name of the member holding it.
func (e *DecodeError) in(name string) *DecodeError {
	switch {
	case e.Field == "":
		e.Field = name
	case e.Field[0] == '[':
		e.Field = name + e.Field
	default:
		e.Field = name + "." + e.Field
	}
	return e
}

// at prefixes the field path with the index of the element holding it.
func (e *DecodeError) at(i int) *DecodeError {
	idx := "[" + strconv.Itoa(i) + "]"
	if e.Field == "" || e.Field[0] == '[' {
		e.Field = idx + e.Field
	} else {
		e.Field = idx + "." + e.Field
	}
	return e
}

// deltaDecoder reads one document. depth arguments count the arrays and objects open around
// the value being read, for jsonscan.MaxDepth.
type deltaDecoder struct {
	doc   []byte
	pos   int
	text  string // string(doc), made at the first string that needs no unescaping
	buf   []byte // an unescaped key or enum name
	fold  []byte // a key folded as encoding/json folds it
	start int    // where the last name read starts, for its error
}

// fields is the members of one struct: JSON names by field index, and the exact lookup.
type fields struct {
	names  []string
	folded []string // names folded as encoding/json folds keys
	exact  func(key []byte) int
}

func newFields(exact func([]byte) int, names ...string) *fields {
	fs := &fields{names: names, exact: exact}
	for _, n := range names {
		fs.folded = append(fs.folded, string(appendFoldedName(nil, []byte(n))))
	}
	return fs
}

// lookup returns the field key names, or -1: the exact name first, then one equal under
// encoding/json's folding ("ID" for "id", "ſcore" for "score").
func (d *deltaDecoder) lookup(fs *fields, key []byte) int {
	if f := fs.exact(key); f >= 0 {
		return f
	}
	d.fold = appendFoldedName(d.fold[:0], key)
	for f, n := range fs.folded {
		if string(d.fold) == n {
			return f
		}
	}
	return -1
}

// appendFoldedName and foldRune are encoding/json's (fold.go, Go 1.26): how it matches a
// key to a field name when their bytes differ.
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// object reads the object at d.pos into a struct with fields fs, calling set with the index
// of each member's field; unknown members are skipped. null leaves the struct as it was.
func (d *deltaDecoder) object(fs *fields, depth int, set func(f int) *DecodeError) *DecodeError {
	switch d.next() {
	case '{':
	case 'n':
		return d.null()
	default:
		return d.want("an object")
	}
	if depth >= jsonscan.MaxDepth {
		return d.syntax("nested too deeply")
	}
	d.pos++
	d.ws()
	if d.next() == '}' {
		d.pos++
		return nil
	}
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		if f := d.lookup(fs, key); f >= 0 {
			if err := set(f); err != nil {
				return err.in(fs.names[f])
			}
		} else {
			pos, ok := jsonscan.Skip(d.doc, d.pos, depth+1)
			if !ok {
				field := event.Clip(string(key))
				d.pos = pos
				return d.syntax("in the value of an unknown member").in(field)
			}
			d.pos = pos
		}
		d.ws()
		switch d.next() {
		case ',':
			d.pos++
			d.ws()
		case '}':
			d.pos++
			return nil
		default:
			return d.syntax("want ',' or '}' after an object member")
		}
	}
}

// key reads an object key and the colon after it. The key is the document's bytes, or d.buf
// when it needs unescaping.
func (d *deltaDecoder) key() ([]byte, *DecodeError) {
	if d.next() != '"' {
		return nil, d.syntax("want a string key")
	}
	start := d.pos + 1
	end, esc, high, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		d.pos = end
		return nil, d.syntax("invalid string")
	}
	d.pos = end
	key := d.doc[start : end-1]
	if esc || high && !utf8.Valid(key) {
		d.buf = jsonscan.AppendUnquoted(d.buf[:0], key)
		key = d.buf
	}
	d.ws()
	if d.next() != ':' {
		return nil, d.syntax("want ':' after an object key")
	}
	d.pos++
	d.ws()
	return key, nil
}

// slice reads the array at d.pos into *dst as encoding/json does: elements read over those
// already in the slice, then over the rest of its capacity, then appended; the slice cut to
// the array's length, and an empty array a new empty slice. null sets nil.
//
// A slice without capacity (a new Delta's) is read into a buffer on the stack and then
// copied into one of the exact length: the same elements as encoding/json's appends, which
// grow a fresh, zeroed array, without their five or six allocations.
func slice[T any](d *deltaDecoder, dst *[]T, depth int) *DecodeError {
	switch d.next() {
	case '[':
	case 'n':
		if err := d.null(); err != nil {
			return err
		}
		*dst = nil
		return nil
	default:
		return d.want("an array")
	}
	if depth >= jsonscan.MaxDepth {
		return d.syntax("nested too deeply")
	}
	d.pos++
	d.ws()
	if cap(*dst) > 0 {
		s, n, err := elements(d, *dst, depth)
		switch {
		case err != nil:
		case n == 0:
			*dst = []T{}
		default:
			*dst = s[:n]
		}
		return err
	}
	var tmp [MaxSituationObservables]T
	s, n, err := elements(d, tmp[:0], depth)
	if err == nil {
		*dst = append(make([]T, 0, n), s[:n]...) // [] stays non-nil
	}
	return err
}

// elements reads the elements of an array, its '[' read, over those of s; it returns s
// grown to hold them, and their number.
func elements[T any](d *deltaDecoder, s []T, depth int) ([]T, int, *DecodeError) {
	if d.next() == ']' {
		d.pos++
		return s, 0, nil
	}
	for i := 0; ; i++ {
		if i >= len(s) {
			if i < cap(s) {
				s = s[:i+1]
			} else {
				var zero T
				s = append(s, zero)
			}
		}
		if err := d.element(&s[i], depth+1); err != nil {
			return s, i, err.at(i)
		}
		d.ws()
		c := d.next()
		if c == ']' {
			d.pos++
			return s, i + 1, nil
		}
		if c != ',' {
			return s, i, d.syntax("want ',' or ']' after an array element")
		}
		d.pos++
		d.ws()
	}
}

// The fields of each struct, in the order of their declaration.

const (
	dSituation = iota
	dMergedFrom
	dRemoved
	dMergedInto
)

var deltaFields = newFields(func(k []byte) int {
	switch string(k) {
	case "situation":
		return dSituation
	case "merged_from":
		return dMergedFrom
	case "removed":
		return dRemoved
	case "merged_into":
		return dMergedInto
	}
	return -1
}, "situation", "merged_from", "removed", "merged_into")

func (d *deltaDecoder) delta(x *Delta) *DecodeError {
	return d.object(deltaFields, 0, func(f int) *DecodeError {
		switch f {
		case dSituation:
			return d.situation(&x.Situation, 1)
		case dMergedFrom:
			return slice(d, &x.MergedFrom, 1)
		case dRemoved:
			return d.bool(&x.Removed)
		default:
			return d.str(&x.MergedInto)
		}
	})
}

const (
	sID = iota
	sVersion
	sExercise
	sTitle
	sKind
	sCategory
	sSeverity
	sConfidence
	sScore
	sRank
	sExplanation
	sContributors
	sCountries
	sSectors
	sTechniques
	sNames
	sGeo
	sTLP
	sReleasableTo
	sObservables
	sEventCount
	sEventIDs
	sFirstSeen
	sLastSeen
	sUpdatedAt
)

var situationFields = newFields(func(k []byte) int {
	switch string(k) {
	case "id":
		return sID
	case "version":
		return sVersion
	case "exercise":
		return sExercise
	case "title":
		return sTitle
	case "kind":
		return sKind
	case "category":
		return sCategory
	case "severity":
		return sSeverity
	case "confidence":
		return sConfidence
	case "score":
		return sScore
	case "rank":
		return sRank
	case "explanation":
		return sExplanation
	case "contributors":
		return sContributors
	case "countries":
		return sCountries
	case "sectors":
		return sSectors
	case "techniques":
		return sTechniques
	case "names":
		return sNames
	case "geo":
		return sGeo
	case "tlp":
		return sTLP
	case "releasable_to":
		return sReleasableTo
	case "observables":
		return sObservables
	case "event_count":
		return sEventCount
	case "event_ids":
		return sEventIDs
	case "first_seen":
		return sFirstSeen
	case "last_seen":
		return sLastSeen
	case "updated_at":
		return sUpdatedAt
	}
	return -1
}, "id", "version", "exercise", "title", "kind", "category", "severity", "confidence", "score", "rank",
	"explanation", "contributors", "countries", "sectors", "techniques", "names", "geo", "tlp",
	"releasable_to", "observables", "event_count", "event_ids", "first_seen", "last_seen", "updated_at")

func (d *deltaDecoder) situation(s *Situation, depth int) *DecodeError {
	return d.object(situationFields, depth, func(f int) *DecodeError {
		depth := depth + 1
		switch f {
		case sID:
			return d.str(&s.ID)
		case sVersion:
			return d.uint64(&s.Version)
		case sExercise:
			return d.str(&s.Exercise)
		case sTitle:
			return d.str(&s.Title)
		case sKind:
			return d.kind(&s.Kind)
		case sCategory:
			return d.str(&s.Category)
		case sSeverity:
			return d.severity(&s.Severity)
		case sConfidence:
			return d.float(&s.Confidence)
		case sScore:
			return d.float(&s.Score)
		case sRank:
			return d.float(&s.Rank)
		case sExplanation:
			return d.explanation(&s.Explanation, depth)
		case sContributors:
			return slice(d, &s.Contributors, depth)
		case sCountries:
			return slice(d, &s.Countries, depth)
		case sSectors:
			return slice(d, &s.Sectors, depth)
		case sTechniques:
			return slice(d, &s.Techniques, depth)
		case sNames:
			return slice(d, &s.Names, depth)
		case sGeo:
			return d.geo(&s.Geo, depth)
		case sTLP:
			return d.tlp(&s.TLP)
		case sReleasableTo:
			return slice(d, &s.ReleasableTo, depth)
		case sObservables:
			return slice(d, &s.Observables, depth)
		case sEventCount:
			return d.int(&s.EventCount)
		case sEventIDs:
			return slice(d, &s.EventIDs, depth)
		case sFirstSeen:
			return d.time(&s.FirstSeen)
		case sLastSeen:
			return d.time(&s.LastSeen)
		default:
			return d.time(&s.UpdatedAt)
		}
	})
}

const (
	xSeverity = iota
	xCorroboration
	xEvidence
	xConfidence
	xCorroborations
	xCriticality
	xDecay
	xRecency
	xAgeHours
	xRelevance
	xText
)

var explanationFields = newFields(func(k []byte) int {
	switch string(k) {
	case "severity":
		return xSeverity
	case "corroboration":
		return xCorroboration
	case "evidence":
		return xEvidence
	case "confidence":
		return xConfidence
	case "corroborations":
		return xCorroborations
	case "criticality":
		return xCriticality
	case "decay":
		return xDecay
	case "recency":
		return xRecency
	case "age_hours":
		return xAgeHours
	case "relevance":
		return xRelevance
	case "text":
		return xText
	}
	return -1
}, "severity", "corroboration", "evidence", "confidence", "corroborations", "criticality", "decay",
	"recency", "age_hours", "relevance", "text")

func (d *deltaDecoder) explanation(x *Explanation, depth int) *DecodeError {
	return d.object(explanationFields, depth, func(f int) *DecodeError {
		switch f {
		case xSeverity:
			return d.float(&x.Severity)
		case xCorroboration:
			return d.float(&x.Corroboration)
		case xEvidence:
			return d.float(&x.Evidence)
		case xConfidence:
			return d.float(&x.Confidence)
		case xCorroborations:
			return d.int(&x.Corroborations)
		case xCriticality:
			return d.float(&x.Criticality)
		case xDecay:
			return d.float(&x.Decay)
		case xRecency:
			return d.float(&x.Recency)
		case xAgeHours:
			return d.float(&x.AgeHours)
		case xRelevance:
			return d.float(&x.Relevance)
		default:
			return d.str(&x.Text)
		}
	})
}

var contributorFields = newFields(func(k []byte) int {
	switch string(k) {
	case "name":
		return 0
	case "anonymise":
		return 1
	}
	return -1
}, "name", "anonymise")

func (d *deltaDecoder) contributor(c *Contributor, depth int) *DecodeError {
	return d.object(contributorFields, depth, func(f int) *DecodeError {
		if f == 0 {
			return d.str(&c.Name)
		}
		return d.bool(&c.Anonymise)
	})
}

var nameFields = newFields(func(k []byte) int {
	switch string(k) {
	case "kind":
		return 0
	case "name":
		return 1
	}
	return -1
}, "kind", "name")

func (d *deltaDecoder) name(n *event.Name, depth int) *DecodeError {
	return d.object(nameFields, depth, func(f int) *DecodeError {
		if f == 0 {
			return d.str(&n.Kind)
		}
		return d.str(&n.Name)
	})
}

var observableFields = newFields(func(k []byte) int {
	switch string(k) {
	case "type":
		return 0
	case "value":
		return 1
	}
	return -1
}, "type", "value")

func (d *deltaDecoder) observable(o *event.Observable, depth int) *DecodeError {
	return d.object(observableFields, depth, func(f int) *DecodeError {
		if f == 0 {
			return d.observableType(&o.Type)
		}
		return d.str(&o.Value)
	})
}

var geoFields = newFields(func(k []byte) int {
	switch string(k) {
	case "lat":
		return 0
	case "lon":
		return 1
	}
	return -1
}, "lat", "lon")

// geo reads a Geo as encoding/json reads a pointer: null sets nil; an object is read into
// the Geo already there, or a new one.
func (d *deltaDecoder) geo(dst **event.Geo, depth int) *DecodeError {
	switch d.next() {
	case 'n':
		if err := d.null(); err != nil {
			return err
		}
		*dst = nil
		return nil
	case '{':
	default:
		return d.want("an object")
	}
	if *dst == nil {
		*dst = new(event.Geo)
	}
	g := *dst
	return d.object(geoFields, depth, func(f int) *DecodeError {
		if f == 0 {
			return d.float(&g.Lat)
		}
		return d.float(&g.Lon)
	})
}

// element reads an array element into p, one of the element types of Delta's slices.
// (A type switch, not a function value: through a function value, p would escape, and
// slice's buffer with it.)
func (d *deltaDecoder) element(p any, depth int) *DecodeError {
	switch p := p.(type) {
	case *string:
		return d.str(p)
	case *event.Observable:
		return d.observable(p, depth)
	case *Contributor:
		return d.contributor(p, depth)
	case *event.Name:
		return d.name(p, depth)
	}
	panic("BUG: no decoder for a slice of this type")
}
