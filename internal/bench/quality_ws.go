package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// wsSnapshot is one viewer's websocket snapshot of a picture, whole and bounded.
type wsSnapshot struct {
	viewer, view                string
	whole, bounded              int // bytes
	wholeSits, boundedSits      int
	rest                        int // situations counted, not sent
	wholeBuild, boundedBuild    time.Duration
	boundedCampaigns, wholeCamp int
}

// measureSnapshots builds, through the websocket hub itself, the snapshot each viewer's
// views would be sent of live: first of the whole view (--view-top 0, as before), then
// bounded to its best n; both from the same picture, so the first is the second's
// baseline.
func measureSnapshots(live []*picture.Situation, viewers []access.Identity, n int, links picture.CampaignConfig) []wsSnapshot {
	pic := api.NewPicture(api.PictureConfig{MaxSituations: len(live) + 1})
	ds := make([]picture.Delta, len(live))
	for i, s := range live {
		ds[i] = picture.Delta{Situation: *s}
	}
	pic.Apply(ds)
	missions := access.DefaultMissions()
	hub := func(top int) *api.Hub {
		h := api.NewHub(pic, missions, zerolog.Nop(), &metrics.Registry{}, 250*time.Millisecond)
		h.SetViewTop(top, 0)
		h.Campaigns = links
		h.Anon = access.Anonymiser{Keys: keys.Fixed(keys.Set{IDs: keys.Key{Secret: []byte("quality")}, Pseudonyms: keys.Key{Secret: []byte("quality")}})}
		return h
	}
	whole, bounded := hub(0), hub(n)
	var out []wsSnapshot
	for _, id := range viewers {
		views := []access.View{{}}
		if id.Role == access.RoleCommander {
			views = views[:0]
			for _, m := range id.Missions {
				views = append(views, access.View{Mission: m})
			}
		}
		for _, v := range views {
			r := wsSnapshot{viewer: id.Name, view: v.Mission}
			if r.view == "" {
				r.view = "(all)"
			}
			t0 := time.Now()
			m := whole.SnapshotMessage(id, v)
			b, _ := json.Marshal(m)
			r.wholeBuild, r.whole, r.wholeSits, r.wholeCamp = time.Since(t0), len(b), len(m.Situations), len(m.Campaigns)
			t0 = time.Now()
			m = bounded.SnapshotMessage(id, v)
			b, _ = json.Marshal(m)
			r.boundedBuild, r.bounded, r.boundedSits, r.boundedCampaigns = time.Since(t0), len(b), len(m.Situations), len(m.Campaigns)
			if m.Rest != nil {
				r.rest = m.Rest.Total
			}
			out = append(out, r)
		}
	}
	return out
}

func writeSnapshots(w io.Writer, rs []wsSnapshot, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nwebsocket snapshot per demo identity (the hub's own message; baseline --view-top 0 from the same picture)\n")
	fmt.Fprintf(&b, "%-34s %12s %12s %10s %22s %18s\n", "viewer view", "whole bytes", fmt.Sprintf("top %d bytes", n), "ratio", "situations sent/rest", "build whole/top")
	for _, r := range rs {
		fmt.Fprintf(&b, "%-34s %12d %12d %9.1fx %10d/%-11d %8.0fms/%.0fms\n", r.viewer+" "+r.view, r.whole, r.bounded,
			float64(r.whole)/float64(max(r.bounded, 1)), r.boundedSits, r.rest,
			float64(r.wholeBuild.Microseconds())/1000, float64(r.boundedBuild.Microseconds())/1000)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
