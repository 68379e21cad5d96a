package native

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
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
func (d *decoder) ws() {
	for d.pos < len(d.doc) {
		switch d.doc[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) literal(lit string) status {
	if len(d.doc)-d.pos < len(lit) || string(d.doc[d.pos:d.pos+len(lit)]) != lit {
		return broken
	}
	d.pos += len(lit)
	return decoded
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) number() bool {
	doc, i := d.doc, d.pos
	if i < len(doc) && doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		for i++; i < len(doc) && doc[i] >= '0' && doc[i] <= '9'; i++ {
		}
	default:
		return false
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if i >= len(doc) || doc[i] < '0' || doc[i] > '9' {
			return false
		}
		for ; i < len(doc) && doc[i] >= '0' && doc[i] <= '9'; i++ {
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if i >= len(doc) || doc[i] < '0' || doc[i] > '9' {
			return false
		}
		for ; i < len(doc) && doc[i] >= '0' && doc[i] <= '9'; i++ {
		}
	}
	d.pos = i
	return true
}

// plain marks the bytes a string holds as they are: printable ASCII but '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString moves past the string at d.pos, checking its syntax, and says whether it has
// escapes or bytes above ASCII.
func (d *decoder) skipString() (esc, high bool, st status) {
	doc := d.doc
	i := d.pos + 1
	for {
		for i < len(doc) && plain[doc[i]] {
			i++
		}
		if i >= len(doc) {
			return false, false, broken
		}
		switch c := doc[i]; {
		case c == '"':
			d.pos = i + 1
			return esc, high, decoded
		case c == '\\':
			esc = true
			if i+1 >= len(doc) {
				return false, false, broken
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(doc)-i < 6 || !isHex(doc[i+2]) || !isHex(doc[i+3]) || !isHex(doc[i+4]) || !isHex(doc[i+5]) {
					return false, false, broken
				}
				i += 6
			default:
				return false, false, broken
			}
		case c < 0x20:
			return false, false, broken
		default:
			high = true
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
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
	b := d.buf[:0]
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	d.buf = b
	return b, decoded
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
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
