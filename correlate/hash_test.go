package correlate

import (
	"math/rand/v2"
	"testing"
)

// bytewiseHash is hashString as first written, byte by byte: snapshots hold its values.
func bytewiseHash(seed uint64, s string) uint64 {
	h := seed ^ hk0 ^ uint64(len(s))*hk2
	for ; len(s) >= 8; s = s[8:] {
		var v uint64
		for i := range 8 {
			v |= uint64(s[i]) << (8 * i)
		}
		h = mix(h^v, hk1)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	return fmix(mix(h^v^hk2, hk1))
}

func TestHashStringMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 80 {
		b := make([]byte, n)
		for range 200 {
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if got, want := hashString(7, string(b)), bytewiseHash(7, string(b)); got != want {
				t.Fatalf("hashString(%q) = %x, want %x", b, got, want)
			}
		}
	}
}
