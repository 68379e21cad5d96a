package picture

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonscan"
)

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
		return d.failAt(d.pos, "invalid JSON: want "+what+", got the end of the document")
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
