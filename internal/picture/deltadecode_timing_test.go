package picture_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/cidcc/cop/internal/picture"
)

// BenchmarkDecodeDelta reads realistic deltas as the picture follower does for every
// cop.picture message, one at a time into a new Delta: with encoding/json (the baseline) and
// with the codec, which reports how many times faster it is than the median of the baseline's
// runs in the same process (with -count, each sub-benchmark runs count times in a row).
func BenchmarkDecodeDelta(b *testing.B) {
	ds := realisticDeltas(42, 256)
	msgs := make([][]byte, len(ds))
	size := 0
	for i := range ds {
		msgs[i], _ = json.Marshal(&ds[i])
		size += len(msgs[i])
	}
	var baseline []float64 // ns/byte of each run of encoding/json
	run := func(name string, decode func([]byte, *picture.Delta) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(msgs)))
			i := 0
			for b.Loop() {
				var d picture.Delta
				if err := decode(msgs[i], &d); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(msgs)
			}
			perByte := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(size/len(msgs))
			b.ReportMetric(perByte, "ns/byte")
			switch {
			case name == "encoding/json":
				baseline = append(baseline, perByte)
			case len(baseline) > 0:
				sorted := slices.Sorted(slices.Values(baseline))
				b.ReportMetric(sorted[len(sorted)/2]/perByte, "x-encoding/json")
			}
		})
	}
	run("encoding/json", func(m []byte, d *picture.Delta) error { return json.Unmarshal(m, d) })
	run("codec", picture.DecodeDelta)
}
