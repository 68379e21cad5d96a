package api

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// BenchmarkViewTopAdvance is what one view of the bounded picture costs per flush: a
// picture of 100,000 situations, 1,000 of them changing between two flushes (new scores,
// so some enter and some leave the top), a commander's view of its best 300. Each
// iteration advances the view over the changes and builds the diff its clients are
// sent. The baseline, in the same run, is the rebuild a per-flush sort of every visible
// situation would cost (full-scan-ns): the view pays it only when its top runs short.
// Grouping the view's campaigns (campaign-group-ns) reads every situation it may see too:
// it is done at most every DefaultCampaignEvery while the picture changes.
func BenchmarkViewTopAdvance(b *testing.B) {
	const size, changes, n = 100_000, 1_000, DefaultViewTop
	pic, mk, r := benchPicture(size, changes)
	h := boundedHubFor(pic, n)
	h.SetViewTop(n, DefaultCampaignEvery) // as cop serve: campaigns grouped again at most every 5 s
	id := access.Identity{Name: "cmdr", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}}
	vt := newViewTop(id, access.View{Mission: "EUFOR-ALTHEA"}, h.missions)
	vt.mu.Lock()
	defer vt.mu.Unlock()
	vt.advance(pic, n)
	_, held := h.boundedMessage(vt, nil, n, "snapshot", time.Now())
	t0 := time.Now()
	vt.rebuild(pic)
	scan := time.Since(t0)
	t0 = time.Now()
	vt.campOf = nil // group again
	vt.campaigns(pic, 0, time.Now())
	group := time.Since(t0)
	scans := vt.scans
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
		vt.advance(pic, n)
		_, held = h.boundedMessage(vt, held, n, "delta", time.Now())
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/changes, "ns/change")
	b.ReportMetric(float64(scan.Nanoseconds()), "full-scan-ns")
	b.ReportMetric(float64(group.Nanoseconds()), "campaign-group-ns")
	b.ReportMetric(float64(vt.scans-scans)/float64(b.N), "scans/op")
	b.ReportMetric(float64(len(vt.top)), "top-entries")
}

// benchPicture is the picture of the bounded-view benchmarks: size GREEN situations in
// eight countries with random scores, history for four times changes; mk, which makes
// situation i at version v with a new random score; and the random source they draw from.
func benchPicture(size, changes int) (*Picture, func(i int, v uint64) picture.Situation, *rand.Rand) {
	pic := NewPicture(PictureConfig{MaxSituations: size * 2, History: 4 * changes})
	r := rand.New(rand.NewPCG(1, 2))
	countries := []string{"BA", "HR", "RS", "FR", "DE", "UA", "SO", "EE"}
	mk := func(i int, v uint64) picture.Situation {
		return sit(fmt.Sprintf("s%06d", i), event.TLPGreen, func(s *picture.Situation) {
			s.Version, s.Score = v, float64(r.IntN(1000))/10
			s.Countries = []string{countries[r.IntN(len(countries))]}
		})
	}
	all := make([]picture.Situation, size)
	for i := range all {
		all[i] = mk(i, 1)
	}
	pic.Apply(deltas(all...))
	return pic, mk, r
}
