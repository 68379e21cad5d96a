package native

import (
	"unicode/utf8"

	"github.com/cidcc/cop/internal/jsonscan"
)

// The lexical half of the decoder: whitespace, literals, numbers and strings, each checked
// as strictly as encoding/json's scanner, and skip, which walks a value it does not read.

// next returns the byte at d.pos, or 0 at the end (never valid where it is asked for).
func (d *decoder) next() byte {
	if d.pos < len(d.doc) {
		return d.doc[d.pos]
	}
	return 0
}

// ws skips JSON whitespace.
func (d *decoder) ws() { d.pos = jsonscan.WS(d.doc, d.pos) }

func (d *decoder) literal(lit string) status {
	pos, ok := jsonscan.Literal(d.doc, d.pos, lit)
	if !ok {
		return broken
	}
	d.pos = pos
	return decoded
}

// number skips a JSON number.
func (d *decoder) number() bool {
	pos, ok := jsonscan.Number(d.doc, d.pos)
	d.pos = pos
	return ok
}

// skipString moves past the string at d.pos, checking its syntax, and says whether it has
// escapes or bytes above ASCII.
func (d *decoder) skipString() (esc, high bool, st status) {
	end, esc, high, ok := jsonscan.String(d.doc, d.pos)
	if !ok {
		return false, false, broken
	}
	d.pos = end
	return esc, high, decoded
}

// str reads the string at d.pos and returns its value: the document's own bytes when it
// has no escapes and is valid UTF-8, else d.buf, unescaped as encoding/json does (invalid
// UTF-8 and unpaired surrogates become U+FFFD).
func (d *decoder) str() ([]byte, status) {
	start := d.pos + 1
	esc, high, st := d.skipString()
	if st != decoded {
		return nil, st
	}
	s := d.doc[start : d.pos-1]
	if !esc && (!high || utf8.Valid(s)) {
		return s, decoded
	}
	d.buf = jsonscan.AppendUnquoted(d.buf[:0], s)
	return d.buf, decoded
}

// skip moves past the value at d.pos, checking its syntax; depth is the nesting around it.
func (d *decoder) skip(depth int) bool {
	c := d.next()
	switch c {
	case '"':
		_, _, st := d.skipString()
		return st == decoded
	case '{', '[':
		if depth >= maxDepth {
			return false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		d.pos++
		d.ws()
		if d.next() == closing {
			d.pos++
			return true
		}
		for {
			if c == '{' {
				if d.next() != '"' {
					return false
				}
				if _, _, st := d.skipString(); st != decoded {
					return false
				}
				d.ws()
				if d.next() != ':' {
					return false
				}
				d.pos++
				d.ws()
			}
			if !d.skip(depth + 1) {
				return false
			}
			if more, st := d.more(closing); !more {
				return st == decoded
			}
		}
	case 't':
		return d.literal("true") == decoded
	case 'f':
		return d.literal("false") == decoded
	case 'n':
		return d.literal("null") == decoded
	}
	return (c == '-' || c >= '0' && c <= '9') && d.number()
}
