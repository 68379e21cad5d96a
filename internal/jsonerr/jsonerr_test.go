package jsonerr_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonerr"
)

type input struct {
	Confidence int          `json:"confidence"`
	Sectors    []string     `json:"sectors"`
	At         time.Time    `json:"at"`
	TLP        event.TLP    `json:"tlp"`
	Names      []event.Name `json:"names"`
	Geo        *event.Geo   `json:"geo"`
}

func decode(b []byte) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	return d.Decode(new(input))
}

// TestMessagesNameTheFieldWithoutGoTypes: what a contributor reads names the field and
// what was expected, never a Go struct or type.
func TestMessagesNameTheFieldWithoutGoTypes(t *testing.T) {
	for _, c := range []struct{ doc, field, reason string }{
		{`{"confidence": 80.0}`, "confidence", "got the number 80.0, want a whole number"},
		{`{"sectors": "energy"}`, "sectors", "got a string, want a list of strings"},
		{`{"geo": {"lat": "1"}}`, "geo.lat", "got a string, want a number"},
		{`{"names": [1]}`, "names", `got a number, want an object with "kind", "name"`},
		{`{"titel": "x"}`, `"titel"`, "not a field of this format"},
		{`{"at": "20 Nov 2026"}`, "at", `"20 Nov 2026": want an RFC 3339 time such as 2026-02-01T10:00:00Z`},
		{`{"tlp": "PURPLE"}`, "tlp", `unknown value "PURPLE": want one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED`},
		{`{"confidence": }`, "", "malformed JSON at byte 16: invalid character '}' looking for beginning of value"},
	} {
		doc := []byte(c.doc)
		err := decode(doc)
		field, reason := jsonerr.Describe(err)
		if field == "" {
			field = jsonerr.Locate(doc, decode)
		}
		if field != c.field || reason != c.reason {
			t.Errorf("%s: %q, %q; want %q, %q", c.doc, field, reason, c.field, c.reason)
		}
		if strings.Contains(reason, "Go ") || strings.Contains(reason, "jsonerr_test") || strings.Contains(reason, "json:") {
			t.Errorf("%s: reason %q shows Go internals", c.doc, reason)
		}
	}
}
