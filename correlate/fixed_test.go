package correlate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendFixed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []float64{0, math.Copysign(0, -1), 0.5, 0.005, 0.015, 0.125, 0.285, 0.995, 1, 2.5, 3.5, 0.05, 0.25,
		99.95, 1e9, 1e12, -1, math.NaN(), math.Inf(1), math.Inf(-1), 1e-300, math.MaxFloat64}
	for i := 0; i < 200000; i++ {
		vals = append(vals, r.Float64(), r.Float64()*100, r.Float64()*1e6, float64(r.IntN(100000))/1000, float64(r.IntN(10000))/200)
	}
	for _, v := range vals {
		for prec := 0; prec <= 2; prec++ {
			want := strconv.AppendFloat(nil, v, 'f', prec, 64)
			if got := appendFixed(nil, v, prec); string(got) != string(want) {
				t.Fatalf("appendFixed(%v, %d) = %s, want %s", v, prec, got, want)
			}
		}
	}
}
