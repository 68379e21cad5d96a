package bench

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// TestProbeValuesFindsEveryObservableOfAPictureMessage checks the e2e client's scan
// against the hub's encoding: every observable value of every situation, in order, and a
// message without situations gives none.
func TestProbeValuesFindsEveryObservableOfAPictureMessage(t *testing.T) {
	f := func(m api.Message) {
		t.Helper()
		v, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, s := range m.Situations {
			for _, o := range s.Observables {
				want = append(want, o.Value)
			}
		}
		probeValues(v, func(b []byte) { got = append(got, string(b)) })
		if !slices.Equal(got, want) {
			t.Errorf("probeValues(%s) = %q; want %q", v, got, want)
		}
	}
	f(api.Message{Type: "delta"})
	f(api.Message{Type: "snapshot", Situations: []picture.Situation{
		{ID: "s1", Title: "value", Kind: event.KindIndicator, Severity: event.SeverityHigh, TLP: event.TLPGreen, Observables: []event.Observable{
			{Type: event.ObsSHA256, Value: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			{Type: event.ObsDomain, Value: "example.org"}}},
		{ID: "s2", Kind: event.KindIndicator, Severity: event.SeverityHigh, TLP: event.TLPGreen, Observables: []event.Observable{{Type: event.ObsIPv4, Value: "192.0.2.1"}}},
	}})
}
