package stix

import (
	"fmt"
	"strings"
	"testing"
)

// bundleOfIndicators returns a bundle of n indicators with one IPv4 or domain each.
func bundleOfIndicators(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		pattern := fmt.Sprintf("[ipv4-addr:value = '198.51.%d.%d']", i/256%256, i%256)
		if i%2 == 1 {
			pattern = fmt.Sprintf("[domain-name:value = 'c2-%d.example'] OR [url:value = 'http://c2-%d.example/gate']", i, i)
		}
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
			`"created":"2026-02-01T10:00:00.000Z","modified":"2026-02-01T10:00:00.000Z","name":"C2 node %d",`+
			`"indicator_types":["malicious-activity"],"pattern":"%s","pattern_type":"stix","valid_from":"2026-02-01T10:00:00Z",`+
			`"confidence":70,"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}`, i, i, pattern)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkParseSTIX parses a bundle of 1,000 indicators; the goal is ≥ 50,000
// indicators/s per core.
func BenchmarkParseSTIX(b *testing.B) {
	doc := bundleOfIndicators(1000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		evs, errs := Parse(doc, testSource)
		if len(evs) != 1000 || len(errs) != 0 {
			b.Fatalf("got %d events, %v", len(evs), errs)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
}
