package api

import (
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// BenchmarkFocusAdvance is what a client's focus adds to its view's cost per flush: the
// picture of BenchmarkViewTopAdvance (100,000 situations, 1,000 changing between two
// flushes), an analyst's view of its best 300, and a focus on two of its eight countries
// (a map zoomed into an area) holding that area's best 300 too. "view" is the baseline,
// in the same run: the view alone, as before. focus-build-ns is what a new focus costs
// once (a scan of the picture), the price of a map moved to another area.
func BenchmarkFocusAdvance(b *testing.B) {
	const size, changes, n = 100_000, 1_000, DefaultViewTop
	for _, focused := range []bool{false, true} {
		name := "view"
		if focused {
			name = "view+focus"
		}
		b.Run(name, func(b *testing.B) {
			pic, mk, r := benchPicture(size, changes)
			h := boundedHubFor(pic, n)
			h.SetViewTop(n, DefaultCampaignEvery)
			id := access.Identity{Name: "analyst", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber}
			vt := newViewTop(id, access.View{}, h.missions)
			w := wanted{limit: n}
			var build time.Duration
			if focused {
				f := Focus{Countries: []string{"FR", "UA"}, Limit: n}
				w.ft, w.flimit, w.focus = newViewTop(id, access.View{}, h.missions), n, f
				w.ft.focus = &w.focus
			}
			w.lock(vt)
			defer w.unlock(vt)
			vt.advance(pic, n)
			t0 := time.Now()
			w.advance(pic, vt)
			build = time.Since(t0)
			_, held := h.boundedMessageOf(vt, nil, w, "snapshot", time.Now())
			version := uint64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				version++
				batch := make([]picture.Situation, changes)
				for j := range batch {
					batch[j] = mk(r.IntN(size), version)
				}
				pic.Apply(deltas(batch...))
				b.StartTimer()
				w.advance(pic, vt)
				_, held = h.boundedMessageOf(vt, held, w, "delta", time.Now())
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/changes, "ns/change")
			if focused {
				b.ReportMetric(float64(build.Nanoseconds()), "focus-build-ns")
				b.ReportMetric(float64(len(held.versions)), "held")
			}
		})
	}
}
