package picture

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

func randomDelta(r *rand.Rand) Delta {
	s := Situation{ID: "s-" + strconv.Itoa(r.IntN(1000)), Kind: event.KindIndicator, Version: r.Uint64N(99), Title: []string{"", "Wiper <grid> & \"SCADA\"", "é\u2028x"}[r.IntN(3)],
		Severity: event.Severity(1 + r.IntN(4)), Score: r.Float64() * 100, TLP: event.TLP(1 + r.IntN(4)),
		Countries: []string{"EE", "BA"}[:r.IntN(3)], EventCount: r.IntN(50), UpdatedAt: time.Unix(r.Int64N(2e9), 0).UTC()}
	for range r.IntN(3) {
		s.Contributors = append(s.Contributors, Contributor{Name: "c" + strconv.Itoa(r.IntN(9)), Anonymise: r.IntN(2) == 0})
		s.Observables = append(s.Observables, event.Observable{Type: event.ObsIPv4, Value: "198.51.100." + strconv.Itoa(r.IntN(255))})
	}
	d := Delta{Situation: s, Removed: r.IntN(3) == 0}
	if r.IntN(3) == 0 {
		d.MergedInto = "s-<" + strconv.Itoa(r.IntN(9)) + ">"
	}
	for range r.IntN(3) {
		d.MergedFrom = append(d.MergedFrom, "s-&"+strconv.Itoa(r.IntN(9)))
	}
	return d
}

// EncodeDelta gives exactly the bytes of json.Marshal, for the delta and its situation.
func TestEncodeDeltaIsJSONMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		d := randomDelta(r)
		delta, sit, err := EncodeDelta(&d)
		if err != nil {
			t.Fatal(err)
		}
		wantDelta, _ := json.Marshal(&d)
		wantSit, _ := json.Marshal(&d.Situation)
		if !bytes.Equal(delta, wantDelta) || !bytes.Equal(sit, wantSit) {
			t.Fatalf("delta %d:\n got %s\nwant %s\n got %s\nwant %s", i, delta, wantDelta, sit, wantSit)
		}
	}
}

// BenchmarkEncodeDelta: what the correlator encodes per delta, the situation once inside
// the delta ("once") against the delta and the situation each encoded ("twice").
func BenchmarkEncodeDelta(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ds := make([]Delta, 256)
	for i := range ds {
		ds[i] = randomDelta(r)
		for k := range 20 {
			ds[i].Situation.Observables = append(ds[i].Situation.Observables, event.Observable{Type: event.ObsDomain, Value: "host" + strconv.Itoa(k) + ".example.org"})
			ds[i].Situation.EventIDs = append(ds[i].Situation.EventIDs, strconv.FormatUint(r.Uint64(), 16)+strconv.FormatUint(r.Uint64(), 16))
		}
	}
	b.Run("once", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := EncodeDelta(&ds[i%len(ds)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("twice", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			d := &ds[i%len(ds)]
			if _, err := json.Marshal(d); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(&d.Situation); err != nil {
				b.Fatal(err)
			}
		}
	})
}
