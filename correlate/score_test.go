package correlate

import (
	"math"
	"testing"
)

// TestDecayFlatAgeMatchesPow checks that the shortcut for young situations gives what the
// formula gives, around where it stops applying.
func TestDecayFlatAgeMatchesPow(t *testing.T) {
	for _, delta := range []float64{0.01, 0.1, 0.3, 1, 3, 20} {
		cfg := DefaultConfig()
		cfg.DecaySpeed = delta
		e := New(cfg)
		tau := int64(30 * 24 * 3600 * 1e9)
		edge := int64(e.flatAge * float64(tau))
		for _, age := range []int64{1, edge / 2, edge - 1, edge, edge + 1, 2 * edge, 16 * edge} {
			if age <= 0 || age >= tau {
				continue
			}
			want := max(0, 1-math.Pow(float64(age)/float64(tau), 1/delta))
			if got := e.decay(age, tau); got != want {
				t.Errorf("delta %v age %d: decay %v, want %v", delta, age, got, want)
			}
		}
	}
}
