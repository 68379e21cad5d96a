package picture

import (
	"strconv"
	"time"
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

// The values. Each leaves its destination as it was for null, as encoding/json does for
// strings, numbers, booleans, structs, times and names; a value of another JSON type is
// an error.

// str reads a string, unescaped as encoding/json does: invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func (d *deltaDecoder) str(dst *string) *DecodeError {
	switch d.next() {
	case '"':
	case 'n':
		return d.null()
	default:
		return d.want("a string")
	}
	start := d.pos
	end, esc, high, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		d.pos = end
		return d.syntax("invalid string")
	}
	d.pos = end
	s := d.doc[start+1 : end-1]
	if esc || high && !utf8.Valid(s) {
		var buf [128]byte
		*dst = string(jsonscan.AppendUnquoted(buf[:0], s))
		return nil
	}
	if d.text == "" {
		d.text = string(d.doc)
	}
	*dst = d.text[start+1 : end-1]
	return nil
}

// The names of kinds, severities, TLPs and observable types: the spelling COP writes by
// exact lookup, anything else by the type's UnmarshalText, as encoding/json does (both
// give the same value for COP's spelling).

func (d *deltaDecoder) kind(dst *event.Kind) *DecodeError {
	s, null, err := d.enum()
	if err != nil || null {
		return err
	}
	if v, ok := event.KindOf(s); ok {
		*dst = v
		return nil
	}
	return d.parsed(dst.UnmarshalText(s))
}

func (d *deltaDecoder) severity(dst *event.Severity) *DecodeError {
	s, null, err := d.enum()
	if err != nil || null {
		return err
	}
	if v, ok := event.SeverityOf(s); ok {
		*dst = v
		return nil
	}
	return d.parsed(dst.UnmarshalText(s))
}

func (d *deltaDecoder) tlp(dst *event.TLP) *DecodeError {
	s, null, err := d.enum()
	if err != nil || null {
		return err
	}
	if v, ok := event.TLPOf(s); ok {
		*dst = v
		return nil
	}
	return d.parsed(dst.UnmarshalText(s))
}

func (d *deltaDecoder) observableType(dst *event.ObservableType) *DecodeError {
	s, null, err := d.enum()
	if err != nil || null {
		return err
	}
	if v, ok := event.ObservableTypeOf(s); ok {
		*dst = v
		return nil
	}
	return d.parsed(dst.UnmarshalText(s))
}

// enum reads the string of a name: the document's bytes, or d.buf when it needs unescaping.
func (d *deltaDecoder) enum() (s []byte, null bool, err *DecodeError) {
	switch d.next() {
	case '"':
	case 'n':
		return nil, true, d.null()
	default:
		return nil, false, d.want("a string")
	}
	d.start = d.pos
	end, esc, high, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		d.pos = end
		return nil, false, d.syntax("invalid string")
	}
	d.pos = end
	s = d.doc[d.start+1 : end-1]
	if !esc && !high {
		return s, false, nil
	}
	d.buf = jsonscan.AppendUnquoted(d.buf[:0], s)
	return d.buf, false, nil
}

// parsed turns the error of an UnmarshalText into the error of the value just read.
func (d *deltaDecoder) parsed(err error) *DecodeError {
	if err != nil {
		return d.failAt(d.start, err.Error())
	}
	return nil
}

// time reads a time as encoding/json does, by time.Time.UnmarshalJSON of the string with
// its quotes: RFC 3339, escapes not undone.
func (d *deltaDecoder) time(dst *time.Time) *DecodeError {
	switch d.next() {
	case '"':
	case 'n':
		return d.null()
	default:
		return d.want("an RFC 3339 time string")
	}
	start := d.pos
	end, _, _, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		d.pos = end
		return d.syntax("invalid string")
	}
	d.pos = end
	if dst.UnmarshalJSON(d.doc[start:end]) != nil {
		return d.failAt(start, "want an RFC 3339 time such as \"2026-12-01T23:00:00Z\", got "+event.Clip(string(d.doc[start:end])))
	}
	return nil
}

// number moves past the number at d.pos and returns its text, or reports that the value
// is something else.
func (d *deltaDecoder) number(null *bool, what string) ([]byte, *DecodeError) {
	c := d.next()
	if c == 'n' {
		*null = true
		return nil, d.null()
	}
	if c != '-' && (c < '0' || c > '9') {
		return nil, d.want(what)
	}
	start := d.pos
	end, ok := jsonscan.Number(d.doc, d.pos)
	if !ok {
		d.pos = end
		return nil, d.syntax("invalid number")
	}
	d.pos = end
	return d.doc[start:end], nil
}

// float reads a number as encoding/json does: strconv.ParseFloat of its text, which fails
// out of range.
func (d *deltaDecoder) float(dst *float64) *DecodeError {
	var null bool
	b, err := d.number(&null, "a number")
	if err != nil || null {
		return err
	}
	f, perr := strconv.ParseFloat(string(b), 64)
	if perr != nil {
		return d.failAt(d.pos-len(b), "want a number within ±1.8e308, got "+event.Clip(string(b)))
	}
	*dst = f
	return nil
}

// uint64 reads a number as encoding/json does: strconv.ParseUint of its text, so no sign,
// fraction or exponent.
func (d *deltaDecoder) uint64(dst *uint64) *DecodeError {
	var null bool
	b, err := d.number(&null, "a whole number")
	if err != nil || null {
		return err
	}
	v, perr := strconv.ParseUint(string(b), 10, 64)
	if perr != nil {
		return d.failAt(d.pos-len(b), "want a whole number from 0 to 18446744073709551615, got "+event.Clip(string(b)))
	}
	*dst = v
	return nil
}

// int reads a number as encoding/json does: strconv.ParseInt of its text.
func (d *deltaDecoder) int(dst *int) *DecodeError {
	var null bool
	b, err := d.number(&null, "a whole number")
	if err != nil || null {
		return err
	}
	v, perr := strconv.ParseInt(string(b), 10, strconv.IntSize)
	if perr != nil {
		return d.failAt(d.pos-len(b), "want a whole number from -2⁶³ to 2⁶³-1, got "+event.Clip(string(b)))
	}
	*dst = int(v)
	return nil
}

func (d *deltaDecoder) bool(dst *bool) *DecodeError {
	switch d.next() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.null()
	}
	return d.want("true or false")
}

// The lexical half: jsonscan's, which checks as strictly as encoding/json's scanner.

// next returns the byte at d.pos, or 0 at the end (never valid where it is asked for).
func (d *deltaDecoder) next() byte {
	if d.pos < len(d.doc) {
		return d.doc[d.pos]
	}
	return 0
}

func (d *deltaDecoder) ws() { d.pos = jsonscan.WS(d.doc, d.pos) }

func (d *deltaDecoder) null() *DecodeError { return d.literal("null") }

func (d *deltaDecoder) literal(lit string) *DecodeError {
	pos, ok := jsonscan.Literal(d.doc, d.pos, lit)
	if !ok {
		return d.syntax("invalid literal, want " + lit)
	}
	d.pos = pos
	return nil
}

// want reports a value of the wrong JSON type, or a syntax error where a value should be.
func (d *deltaDecoder) want(what string) *DecodeError {
	var got string
	switch c := d.next(); {
	case d.pos >= len(d.doc):
		return d.syntax("want " + what + ", got the end of the document")
	case c == '"':
		got = "a string"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == 'n':
		got = "null"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	default:
		return d.syntax("want " + what + ", got " + strconv.QuoteRune(rune(c)))
	}
	return d.failAt(d.pos, "want "+what+", got "+got)
}

func (d *deltaDecoder) syntax(reason string) *DecodeError {
	if d.pos >= len(d.doc) {
		reason += " (unexpected end of the document)"
	}
	return d.failAt(d.pos, "invalid JSON: "+reason)
}

func (d *deltaDecoder) failAt(pos int, reason string) *DecodeError {
	return &DecodeError{Offset: pos, Reason: reason}
}
