// Package jsondepth measures how deeply a JSON document nests without decoding it, so
// parsers can refuse hostile nesting before spending memory on it. It does no I/O.
package jsondepth

// Exceeds reports whether doc nests objects and arrays more than max levels deep. Brackets
// inside strings do not count; the document need not be valid JSON.
func Exceeds(doc []byte, max int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}
