package event

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON codec of Event: every event crosses cop.events as this JSON, written once by
// ingest and read by every correlator, so encoding/json's reflection was a large share of
// the per-event budget. AppendJSON writes the bytes encoding/json writes for the plain struct
// (field order, omitempty/omitzero, escaping, number and time formats), byte for byte;
// UnmarshalJSON reads that shape in one pass and leaves everything else (unknown keys, keys
// in another case or with escapes, null, values of another type, syntax errors) to
// encoding/json on the plain struct, so what is accepted and what is said stays the same.

// eventFields is Event without its methods: what encoding/json sees by reflection.
type eventFields Event

// AppendJSON appends the JSON of e to dst: the bytes json.Marshal gives for the struct
// without methods. An event encoding/json cannot marshal (a kind, severity, TLP or
// observable type out of range, a time outside RFC 3339, a NaN in geo) yields its error.
//
// Event has no MarshalJSON on purpose: encoding/json re-scans and compacts what a
// MarshalJSON returns, which made json.Marshal(&e) twice as slow as its reflection (see
// BenchmarkEventJSON); writers on the hot path call AppendJSON themselves.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	b, ok := e.appendJSON(dst)
	if !ok {
		return dst, marshalError(*e)
	}
	return b, nil
}

// marshalError returns what encoding/json says of an event the codec refuses: rare and
// always a bug upstream. It takes a copy so that e stays on the caller's stack.
func marshalError(e Event) error {
	_, err := json.Marshal((*eventFields)(&e))
	if err == nil {
		panic("BUG: event codec refused an event encoding/json marshals")
	}
	return err
}

func (e *Event) appendJSON(b []byte) ([]byte, bool) {
	var ok bool
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"contributor":`...)
	b = appendJSONString(b, e.Contributor)
	b = append(b, `,"source_id":`...)
	b = appendJSONString(b, e.SourceID)
	b = append(b, `,"kind":`...)
	if b, ok = appendName(b, kindNames[:], uint8(e.Kind)); !ok {
		return b, false
	}
	b = append(b, `,"observed_at":`...)
	if b, ok = appendJSONTime(b, e.ObservedAt); !ok {
		return b, false
	}
	b = append(b, `,"received_at":`...)
	if b, ok = appendJSONTime(b, e.ReceivedAt); !ok {
		return b, false
	}
	if !e.ValidUntil.IsZero() {
		b = append(b, `,"valid_until":`...)
		if b, ok = appendJSONTime(b, e.ValidUntil); !ok {
			return b, false
		}
	}
	if len(e.Observables) > 0 {
		b = append(b, `,"observables":[`...)
		for i, o := range e.Observables {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			if b, ok = appendName(b, observableTypeNames[:], uint8(o.Type)); !ok {
				return b, false
			}
			b = append(b, `,"value":`...)
			b = appendJSONString(b, o.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.Category != "" {
		b = append(b, `,"category":`...)
		b = appendJSONString(b, e.Category)
	}
	b = appendJSONStrings(b, `,"techniques":`, e.Techniques)
	if len(e.Names) > 0 {
		b = append(b, `,"names":[`...)
		for i, n := range e.Names {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = appendJSONString(b, n.Kind)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, n.Name)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendJSONStrings(b, `,"sectors":`, e.Sectors)
	b = appendJSONStrings(b, `,"countries":`, e.Countries)
	if e.Geo != nil {
		b = append(b, `,"geo":{"lat":`...)
		if b, ok = appendJSONFloat(b, e.Geo.Lat); !ok {
			return b, false
		}
		b = append(b, `,"lon":`...)
		if b, ok = appendJSONFloat(b, e.Geo.Lon); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	b = append(b, `,"severity":`...)
	if b, ok = appendName(b, severityNames[:], uint8(e.Severity)); !ok {
		return b, false
	}
	b = append(b, `,"confidence":`...)
	b = strconv.AppendUint(b, uint64(e.Confidence), 10)
	if e.FalsePositives != 0 {
		b = append(b, `,"false_positives":`...)
		b = strconv.AppendUint(b, uint64(e.FalsePositives), 10)
	}
	b = append(b, `,"tlp":`...)
	if b, ok = appendName(b, tlpNames[:], uint8(e.TLP)); !ok {
		return b, false
	}
	b = appendJSONStrings(b, `,"releasable_to":`, e.ReleasableTo)
	if e.Anonymise {
		b = append(b, `,"anonymise":true`...)
	}
	if e.Exercise != "" {
		b = append(b, `,"exercise":`...)
		b = appendJSONString(b, e.Exercise)
	}
	b = append(b, `,"title":`...)
	b = appendJSONString(b, e.Title)
	if e.Summary != "" {
		b = append(b, `,"summary":`...)
		b = appendJSONString(b, e.Summary)
	}
	return append(b, '}'), true
}

// appendName appends names[v] quoted, as the MarshalText of Kind, Severity, TLP and
// ObservableType does (their names need no escaping); 0 and values past the end are errors.
func appendName(b []byte, names []string, v uint8) ([]byte, bool) {
	if v == 0 || int(v) >= len(names) {
		return b, false
	}
	b = append(b, '"')
	b = append(b, names[v]...)
	return append(b, '"'), true
}

func appendJSONStrings(b []byte, key string, xs []string) []byte {
	if len(xs) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime appends t as time.Time.MarshalJSON does, refusing what it refuses: a year
// outside 0..9999 and a zone offset of 24 hours or more.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	switch {
	case b[n0+len("9999")] != '-':
		return b, false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		h := 10*(b[len(b)-5]-'0') + (b[len(b)-4] - '0')
		if '0' <= c && c <= '9' || h >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// appendJSONFloat appends f as encoding/json writes a float64 (ES6 number formatting);
// NaN and infinities are errors.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// htmlSafe marks the ASCII bytes encoding/json writes as they are: printable, and not
// '"', '\\', nor the HTML-sensitive '<', '>' and '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML escaping: control
// characters, '<', '>', '&', U+2028 and U+2029 escaped, invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
