package native

import (
	"bytes"

	"github.com/cidcc/cop/internal/event"
)

// ParseLegacy is the encoding/json path, the reference the decoder is compared with, with
// the explanation Parse adds when nothing came out.
func ParseLegacy(doc []byte, src event.Source) ([]event.Event, []error) {
	doc = bytes.TrimSpace(doc)
	evs, errs := parseLegacy(doc, src)
	return evs, explainNothing(doc, evs, errs)
}

// DecodedByDecoder reports whether the hand-written decoder took doc on itself rather than
// handing the whole of it to encoding/json.
func DecodedByDecoder(doc []byte, src event.Source) bool {
	_, _, ok := parseFast(bytes.TrimSpace(doc), src)
	return ok
}
