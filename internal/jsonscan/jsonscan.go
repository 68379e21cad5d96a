// Package jsonscan is the lexical half of COP's hand-written JSON decoders (the native feed
// format, the canonical event on cop.events, the delta on cop.picture): whitespace,
// literals, numbers, strings and whole values skipped (Skip), each checked as strictly as
// encoding/json's scanner, and string unescaping as encoding/json does it. Positions are
// byte offsets into the document; it keeps no state and knows no schema.
package jsonscan

import (
	"encoding/binary"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// WS returns the offset of the first byte at or after i that is not JSON whitespace.
func WS(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Literal reports whether doc holds lit at i, and the offset after it.
func Literal(doc []byte, i int, lit string) (int, bool) {
	if len(doc)-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// Number moves past the JSON number at i, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
// and returns the offset after it.
func Number(doc []byte, i int) (int, bool) {
	start := i
	digits := func() bool {
		j := i
		for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(doc) && doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case !digits():
		return start, false
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if !digits() {
			return start, false
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if !digits() {
			return start, false
		}
	}
	return i, true
}

// Plain marks the bytes a string holds as they are: printable ASCII but '"' and '\\'.
var Plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the offset of the first 8-byte word at or after i that holds a byte
// Plain does not mark (or the offset where fewer than 8 bytes remain): strings are mostly
// plain, and a word is tested at once (SWAR).
func plainRun(doc []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(doc)-i >= 8 {
		v := binary.LittleEndian.Uint64(doc[i:])
		q := v ^ ('"' * ones)   // zero where '"'
		bs := v ^ ('\\' * ones) // zero where '\\'
		// A byte's high bit is set in special when it is below 0x20, zero in q or bs, or
		// at or above 0x80; the tests may also flag a plain byte after a special one in
		// the same word, never miss one.
		special := ((v - 0x20*ones) | (q - ones) | (bs - ones) | v) & highs
		if special != 0 {
			return i
		}
		i += 8
	}
	return i
}

// String moves past the string whose opening quote is at i and returns the offset after
// its closing quote, and whether it holds escapes or bytes above ASCII.
func String(doc []byte, i int) (end int, esc, high, ok bool) {
	i++
	for {
		i = plainRun(doc, i)
		for i < len(doc) && Plain[doc[i]] {
			i++
		}
		if i >= len(doc) {
			return i, false, false, false
		}
		switch c := doc[i]; {
		case c == '"':
			return i + 1, esc, high, true
		case c == '\\':
			esc = true
			if i+1 >= len(doc) {
				return i, false, false, false
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if getu4(doc[i:]) < 0 {
					return i, false, false, false
				}
				i += 6
			default:
				return i, false, false, false
			}
		case c < 0x20:
			return i, false, false, false
		default:
			high = true
			i++
		}
	}
}

// AppendUnquoted appends to dst the value of s, the inside of a string String accepted,
// unescaped as encoding/json does: invalid UTF-8 and unpaired surrogates become U+FFFD.
func AppendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr)
		}
	}
	return dst
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
