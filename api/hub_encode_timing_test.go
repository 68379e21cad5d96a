package api

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// BenchmarkHubDeltaMessages is what the websocket hub spends building one flush's delta
// messages for 24 viewers of distinct scopes (commanders of two missions, analysts,
// contributors) over 300 changed situations, a tenth of them with an anonymised
// contributor: each viewer's message prepared for sending. ns/flush splices situations
// encoded once per flush (Hub.deltaBytes); baseline-ns/flush, in the same run, encodes
// each viewer's whole message (json.Marshal of Hub.delta), as the hub did.
func BenchmarkHubDeltaMessages(b *testing.B) {
	h := NewHub(NewPicture(PictureConfig{}), access.DefaultMissions(), zerolog.Nop(), &metrics.Registry{}, time.Second)
	h.Anon = testAnon
	countries := []string{"BA", "SO", "DE", "UA"}
	changes := make([]Change, 300)
	for i := range changes {
		s := sit(fmt.Sprintf("s%04d", i), event.TLPGreen, func(s *picture.Situation) {
			s.Countries = []string{countries[i%len(countries)]}
			s.Contributors = []picture.Contributor{{Name: "feed-a", Anonymise: i%10 == 0}, {Name: "feed-b"}, {Name: "feed-c"}}
			s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("192.0.2.%d", i%250)},
				{Type: event.ObsDomain, Value: fmt.Sprintf("host%d.example.org", i)}}
			s.Explanation.Text = "corroborated by 3 contributors; severity high; seen in the last hour"
		})
		changes[i] = Change{ID: s.ID, Cur: &s}
	}
	type viewer struct {
		id access.Identity
		v  access.View
	}
	var vs []viewer
	for i := range 8 {
		m := []string{"EUFOR-ALTHEA", "EUNAVFOR-ATALANTA"}[i%2]
		vs = append(vs, viewer{access.Identity{Name: fmt.Sprintf("cmdr-%d", i), Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{m}}, access.View{Mission: m}})
		vs = append(vs, viewer{access.Identity{Name: fmt.Sprintf("analyst-%d", i), Role: access.RoleAnalyst, MaxTLP: event.TLPAmber}, access.View{}})
		vs = append(vs, viewer{access.Identity{Name: fmt.Sprintf("feed-%d", i), Role: access.RoleContributor, MaxTLP: event.TLPGreen}, access.View{}})
	}
	now := time.Now()
	prep := func(msg []byte) {
		if _, err := websocket.NewPreparedMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
	}
	var base time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		enc := sitBytes{}
		for _, w := range vs {
			msg, _, err := h.deltaBytes(enc, &w.id, w.v, changes, 1, 2, now)
			if err != nil {
				b.Fatal(err)
			}
			prep(msg)
		}
		b.StopTimer()
		t0 := time.Now()
		for _, w := range vs {
			msg, err := json.Marshal(h.delta(&w.id, w.v, changes, 1, 2, now))
			if err != nil {
				b.Fatal(err)
			}
			prep(msg)
		}
		base += time.Since(t0)
		b.StartTimer()
	}
	b.StopTimer()
	spliced := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(spliced, "ns/flush")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/flush")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N)/spliced, "speedup")
}
