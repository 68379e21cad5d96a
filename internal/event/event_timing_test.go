package event

import (
	"strings"
	"testing"
)

// BenchmarkValidate validates a typical indicator: two IPv4 addresses (one defanged), a
// domain, a hash, and the usual lists.
func BenchmarkValidate(b *testing.B) {
	e := validEvent()
	obs := []Observable{{ObsIPv4, "203.0.113[.]7"}, {ObsIPv4, "198.51.100.4"},
		{ObsDomain, "update.grid-ops.example"}, {ObsSHA256, strings.Repeat("ab", 32)}}
	b.ReportAllocs()
	for b.Loop() {
		e := e
		e.ID = ""
		e.Observables = append(e.Observables[:0:0], obs...)
		e.Techniques, e.Sectors, e.Countries = []string{"T1071"}, []string{"energy"}, []string{"EE"}
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
