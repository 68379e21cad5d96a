package jsonscan

// MaxDepth is how deeply encoding/json lets arrays and objects nest (its scanner's
// maxNestingDepth): it refuses a document that opens one more.
const MaxDepth = 10000

// Skip moves past the value at i, checking its syntax as strictly as encoding/json's
// scanner, and returns the offset after it. depth is the number of arrays and objects open
// around the value: the value may open MaxDepth-depth more, as encoding/json allows.
func Skip(doc []byte, i, depth int) (int, bool) {
	var stack [64]byte
	open := stack[:0] // closing byte of each array or object open inside the value
	for {
		// At a value.
		if i >= len(doc) {
			return i, false
		}
		var ok bool
		switch c := doc[i]; c {
		case '{', '[':
			if depth+len(open) >= MaxDepth {
				return i, false
			}
			closing := byte(']')
			if c == '{' {
				closing = '}'
			}
			i = WS(doc, i+1)
			if i < len(doc) && doc[i] == closing {
				i++
				ok = true
				break
			}
			open = append(open, closing)
			if c == '{' {
				if i, ok = member(doc, i); !ok {
					return i, false
				}
			}
			continue
		case '"':
			i, _, _, ok = String(doc, i)
		case 't':
			i, ok = Literal(doc, i, "true")
		case 'f':
			i, ok = Literal(doc, i, "false")
		case 'n':
			i, ok = Literal(doc, i, "null")
		default:
			i, ok = Number(doc, i)
		}
		if !ok {
			return i, false
		}
		// After a value: close what ends here, up to the next value.
		for {
			if len(open) == 0 {
				return i, true
			}
			i = WS(doc, i)
			if i >= len(doc) {
				return i, false
			}
			closing := open[len(open)-1]
			if doc[i] == closing {
				i++
				open = open[:len(open)-1]
				continue
			}
			if doc[i] != ',' {
				return i, false
			}
			i = WS(doc, i+1)
			if closing == '}' {
				if i, ok = member(doc, i); !ok {
					return i, false
				}
			}
			break
		}
	}
}

// member moves past an object key and its colon, to the value.
func member(doc []byte, i int) (int, bool) {
	if i >= len(doc) || doc[i] != '"' {
		return i, false
	}
	i, _, _, ok := String(doc, i)
	if !ok {
		return i, false
	}
	i = WS(doc, i)
	if i >= len(doc) || doc[i] != ':' {
		return i, false
	}
	return WS(doc, i+1), true
}
