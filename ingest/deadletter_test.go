package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
)

// emptyObjectsPush is issue 14's push: one padded object, then n empty ones, all invalid.
func emptyObjectsPush(n int) []byte {
	var b strings.Builder
	b.WriteString(`[{"title": "` + strings.Repeat("p", 66_000) + `"}`)
	for range n {
		b.WriteString(`,{}`)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// TestRejectedElementsShareOneBoundedLetter: 10,001 rejected objects in a 96 KB document
// made 10,001 letters of 64 KiB each (655 MB in ClickHouse); they are one letter, its raw
// bytes once, its reasons listed up to the cap and counted.
func TestRejectedElementsShareOneBoundedLetter(t *testing.T) {
	doc := emptyObjectsPush(10_000)
	res := Accept(FormatNative, doc, event.Source{Contributor: "ee-cert", ReceivedAt: time.Now().UTC()}, "http:t1", "")
	if len(res.Events) != 0 || res.Letter == nil {
		t.Fatalf("%d events, letter %v; want none and one letter", len(res.Events), res.Letter != nil)
	}
	l := res.Letter
	if l.Rejected != 10_001 || len(l.Reasons) != deadletter.MaxReasons {
		t.Errorf("rejected %d with %d reasons; want 10001 with %d", l.Rejected, len(l.Reasons), deadletter.MaxReasons)
	}
	if len(l.Raw) > deadletter.MaxRaw || l.RawSize != len(doc) {
		t.Errorf("raw %d bytes, size %d; want at most %d, size %d", len(l.Raw), l.RawSize, deadletter.MaxRaw, len(doc))
	}
	if !strings.HasPrefix(l.Reasons[0], "event 0: ") || !strings.HasPrefix(l.Reasons[99], "event 99: ") {
		t.Errorf("reasons do not name their elements: %.40q … %.40q", l.Reasons[0], l.Reasons[99])
	}
	v, _ := json.Marshal(l)
	row := len(l.Raw) + len(l.Reason)
	for _, r := range l.Reasons {
		row += len(r)
	}
	t.Logf("%d-byte document: 1 letter, %d bytes encoded, %d bytes of raw and reasons (raw %d, %d reasons)", len(doc), len(v), row, len(l.Raw), len(l.Reasons))
	if len(v) > 200_000 {
		t.Errorf("letter %d bytes encoded; want at most 200,000", len(v))
	}
}

// TestReasonsQuoteHugeValuesBounded: a value of a megabyte (a 10⁶-digit number, a huge
// id, kind or STIX id) is named in a reason of bounded length, in every parser, before
// the dead letter caps it again.
func TestReasonsQuoteHugeValuesBounded(t *testing.T) {
	big := strings.Repeat("9", 1_000_000)
	f := func(name string, f Format, doc string) {
		t.Helper()
		_, _, errs := Parse(f, []byte(doc), event.Source{Contributor: "ee-cert", ReceivedAt: time.Now().UTC()})
		if len(errs) == 0 {
			t.Errorf("%s: accepted", name)
			return
		}
		for _, err := range errs {
			if n := len(err.Error()); n > 2048 {
				t.Errorf("%s: parse error of %d bytes: %.80q…", name, n, err.Error())
			}
		}
		l := Accept(f, []byte(doc), event.Source{Contributor: "ee-cert", ReceivedAt: time.Now().UTC()}, "http:t2", "").Letter
		for _, r := range append([]string{l.Reason}, l.Reasons...) {
			if len(r) > deadletter.MaxReason {
				t.Errorf("%s: reason of %d bytes", name, len(r))
			}
		}
	}
	ev := `"kind": "incident", "observed_at": "2026-02-01T10:00:00Z", "severity": "high", "tlp": "GREEN", "title": "t"`
	f("native confidence", FormatNative, `{"id": "a", `+ev+`, "confidence": `+big+`}`)
	f("native id", FormatNative, `{"id": "`+big+`", `+ev+`, "category": "x"}`)
	f("native kind", FormatNative, `{"id": "a", "kind": "`+big+`"}`)
	// A category outside the taxonomy no longer rejects the event (issue 18, point 10): it
	// is named, clipped, in the summary.
	if _, evs, errs := Parse(FormatNative, []byte(`{"id": "a", `+ev+`, "category": "`+big+`"}`), event.Source{Contributor: "ee-cert", ReceivedAt: time.Now().UTC()}); len(errs) != 0 || len(evs) != 1 || len(evs[0].Summary) > 512 || evs[0].Category != "" {
		t.Errorf("native category: %d events, %v", len(evs), errs)
	}
	f("native sector", FormatNative, `{"id": "a", `+ev+`, "sectors": ["`+big+`"]}`)
	f("native observable", FormatNative, `{"id": "a", `+ev+`, "observables": [{"type": "domain", "value": "`+big+`"}]}`)
	f("native unknown field", FormatNative, `{"id": "a", `+ev+`, "`+big+`": 1}`)
	f("stix", FormatSTIX, `{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "spec_version": "2.1",
		"id": "indicator--`+big+`", "created": "2026-02-01T10:00:00Z", "modified": "2026-02-01T10:00:00Z",
		"pattern_type": "stix", "pattern": "[domain-name:value = '`+big+`']", "valid_from": "`+big+`", "confidence": `+big+`}]}`)
	f("stix pattern", FormatSTIX, `{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "spec_version": "2.1",
		"id": "indicator--1", "created": "2026-02-01T10:00:00Z", "modified": "2026-02-01T10:00:00Z",
		"pattern_type": "stix", "pattern": "[`+big+`:value = 'x']", "valid_from": "2026-02-01T10:00:00Z"}]}`)
	f("stix pattern operator", FormatSTIX, `{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "spec_version": "2.1",
		"id": "indicator--1", "created": "2026-02-01T10:00:00Z", "modified": "2026-02-01T10:00:00Z",
		"pattern_type": "stix", "pattern": "[x`+big+`:value.`+big+` ~ 'x']", "valid_from": "2026-02-01T10:00:00Z"}]}`)
	var types strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&types, `{"type": "x-%d-%s", "value": "v"},`, i, big[:500])
	}
	f("misp skipped types", FormatMISP, `{"Event": {"uuid": "u", "info": "x", "date": "2026-02-01", "threat_level_id": "1",
		"Attribute": [`+strings.TrimSuffix(types.String(), ",")+`]}}`)
	f("misp", FormatMISP, `{"Event": {"uuid": "`+big+`", "info": "x", "date": "`+big+`", "threat_level_id": "1",
		"Attribute": [{"type": "`+big+`", "value": "`+big+`", "uuid": "`+big+`"}, {"type": "ip-dst", "value": "`+big+`"}]}}`)
}
