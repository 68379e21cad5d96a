package groundtruth

import (
	"reflect"
	"testing"
	"time"
)

// The demo's stream is the benchmark's scenario: the same seed gives the same reports and
// labels as Generate, and it keeps bounded state however long it runs.
func TestStreamIsGenerateWithoutAnEnd(t *testing.T) {
	o := Options{Events: 5000, Seed: 3, IDKey: []byte("k")}
	evs, truth, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStream(o)
	for i, want := range evs {
		got, l := s.Next(want.ReceivedAt)
		if !reflect.DeepEqual(got, want) || l != truth.Labels[want.ID] {
			t.Fatalf("report %d differs from Generate's", i)
		}
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := range 200_000 {
		s.Next(at.Add(time.Duration(i) * time.Millisecond))
	}
	if g := s.g; len(g.events) != 0 || len(g.labels) != 0 || len(g.waves) > len(g.campaigns) || len(g.recent) > 512 || len(g.open) > 64 {
		t.Errorf("state grows: %d events, %d labels, %d waves, %d recent, %d open incidents", len(g.events), len(g.labels), len(g.waves), len(g.recent), len(g.open))
	}
}
