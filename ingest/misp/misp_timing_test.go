package misp

import (
	"fmt"
	"strings"
	"testing"
)

func writeEvent(b *strings.Builder, n, attrs int) {
	fmt.Fprintf(b, `{"Event":{"uuid":"5f1c2a3b-0000-4000-8000-%012d","info":"Event %d","date":"2026-02-10",`+
		`"threat_level_id":"2","analysis":"1","distribution":"1","Tag":[{"name":"tlp:green"},{"name":"misp-galaxy:country=\"estonia\""}],"Attribute":[`, n, n)
	for i := range attrs {
		if i > 0 {
			b.WriteByte(',')
		}
		typ, v := "ip-dst", fmt.Sprintf("198.51.%d.%d", i/256%256, i%256)
		switch i % 3 {
		case 1:
			typ, v = "domain", fmt.Sprintf("c2-%d-%d.example", n, i)
		case 2:
			typ, v = "sha256", fmt.Sprintf("%064x", n*100000+i)
		}
		fmt.Fprintf(b, `{"uuid":"a0000000-0000-4000-8000-%012d","type":"%s","category":"Network activity","value":"%s","to_ids":true}`, i, typ, v)
	}
	b.WriteString(`]}}`)
}

// BenchmarkParseMISP parses one event of 1,000 attributes, and 1,000 events of 3.
func BenchmarkParseMISP(b *testing.B) {
	b.Run("1event-1000attrs", func(b *testing.B) {
		var sb strings.Builder
		writeEvent(&sb, 1, 1000)
		doc := []byte(sb.String())
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if evs, errs := Parse(doc, testSource); len(evs) != 1 || len(errs) != 0 {
				b.Fatalf("got %d events, %v", len(evs), errs)
			}
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "attributes/s")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("1000events-3attrs", func(b *testing.B) {
		var sb strings.Builder
		sb.WriteByte('[')
		for n := range 1000 {
			if n > 0 {
				sb.WriteByte(',')
			}
			writeEvent(&sb, n, 3)
		}
		sb.WriteByte(']')
		doc := []byte(sb.String())
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if evs, errs := Parse(doc, testSource); len(evs) != 1000 || len(errs) != 0 {
				b.Fatalf("got %d events, %v", len(evs), errs)
			}
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
