package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// describe renders changes as "id:prevVersion→curVersion>mergedInto" (0: none).
func describe(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		v := func(s *picture.Situation) uint64 {
			if s == nil {
				return 0
			}
			return s.Version
		}
		fmt.Fprintf(&b, "%s:%d→%d>%s ", c.ID, v(c.Prev), v(c.Cur), c.MergedInto)
	}
	return strings.TrimSpace(b.String())
}

func TestPictureSinceGivesTheVersionsHeldAtBothEnds(t *testing.T) {
	p := NewPicture(PictureConfig{History: 8})
	a, b, c := sit("a", event.TLPGreen, nil), sit("b", event.TLPGreen, nil), sit("c", event.TLPGreen, nil)
	p.Apply(deltas(a, b))                                           // seq 1, 2
	p.Apply(deltas(withVersion(a, 2, nil), withVersion(a, 3, nil))) // 3, 4
	p.Apply([]picture.Delta{removal("b", "a")})                     // 5
	p.Apply(deltas(c))                                              // 6
	p.Apply(deltas(withVersion(a, 1, nil)))                         // older than held: ignored
	f := func(from uint64, want string, wantOK bool) {
		t.Helper()
		changes, to, ok := p.Since(from)
		if ok != wantOK || to != 6 {
			t.Fatalf("Since(%d): ok %v to %d, want %v to 6", from, ok, to, wantOK)
		}
		if got := describe(changes); got != want {
			t.Errorf("Since(%d) = %q, want %q", from, got, want)
		}
	}
	f(0, "a:0→3> b:0→0>a c:0→1>", true)
	f(2, "a:1→3> b:1→0>a c:0→1>", true)
	f(4, "b:1→0>a c:0→1>", true)
	f(6, "", true)
	f(7, "", false)                                                                         // ahead of the picture
	p.Apply(deltas(withVersion(c, 2, nil), withVersion(c, 3, nil), withVersion(c, 4, nil))) // 7, 8, 9
	changes, to, ok := p.Since(0)
	if ok || changes != nil || to != 9 {
		t.Errorf("Since(0) after the history of 8 moved on: ok %v, %d changes, want a refusal", ok, len(changes))
	}
	if _, _, ok := p.Since(1); !ok {
		t.Error("Since(1) refused although changes 2…9 are all kept")
	}
}

func TestPictureDropsMergedAndRetiredSituations(t *testing.T) {
	reg := &metrics.Registry{}
	p := NewPicture(PictureConfig{RetireAfter: time.Hour, Metrics: reg})
	old := sit("old", event.TLPGreen, func(s *picture.Situation) { s.UpdatedAt = time.Now().Add(-2 * time.Hour) })
	p.Apply(deltas(sit("a", event.TLPGreen, nil), sit("b", event.TLPGreen, nil), old))
	if p.Len() != 2 {
		t.Fatalf("%d situations held, want 2: one not updated for longer than RetireAfter is retired", p.Len())
	}
	p.Apply([]picture.Delta{removal("b", "a")})
	if p.Len() != 1 {
		t.Fatalf("%d situations held after b merged into a, want 1", p.Len())
	}
	// A situation that ages past RetireAfter while held goes at the next sweep.
	p.Apply(deltas(sit("c", event.TLPGreen, nil)))
	p.mu.Lock()
	h := p.situations["c"]
	s := *h.s
	s.UpdatedAt = time.Now().Add(-2 * time.Hour)
	h.s = &s
	p.situations["c"] = h
	p.swept = time.Time{}
	p.mu.Unlock()
	p.Apply(nil)
	if p.Len() != 1 {
		t.Errorf("%d situations held after the sweep, want 1 (c retired)", p.Len())
	}
	// old was retired on arrival, never held: only c counts as retired.
	for name, want := range map[string]uint64{"merged": 1, "retired": 1, "cap": 0} {
		if got := reg.Counter(`cop_picture_dropped_total{reason="`+name+`"}`, "").Load(); got != want {
			t.Errorf("dropped %s = %d, want %d", name, got, want)
		}
	}
}

func TestPictureCapDropsTheLeastRecentlyChangedFirst(t *testing.T) {
	reg := &metrics.Registry{}
	p := NewPicture(PictureConfig{MaxSituations: 100, Metrics: reg})
	var all []picture.Situation
	for i := range 100 {
		all = append(all, sit(fmt.Sprintf("s%03d", i), event.TLPGreen, nil))
	}
	p.Apply(deltas(all...))
	// s000…s009 change again: now the most recent.
	var again []picture.Situation
	for _, s := range all[:10] {
		again = append(again, withVersion(s, 2, nil))
	}
	p.Apply(deltas(again...))
	p.Apply(deltas(sit("new", event.TLPGreen, nil)))
	if p.Len() != 95 {
		t.Fatalf("%d situations held, want 95 (cap 100, cut to 95%%)", p.Len())
	}
	if got := reg.Counter(`cop_picture_dropped_total{reason="cap"}`, "").Load(); got != 6 {
		t.Errorf("dropped cap = %d, want 6", got)
	}
	snap, _ := p.Snapshot()
	var held []string
	for _, s := range snap {
		held = append(held, s.ID)
	}
	slices.Sort(held)
	for _, id := range []string{"s000", "s009", "new", "s016", "s099"} {
		if !slices.Contains(held, id) {
			t.Errorf("%s was dropped; it changed more recently than s010…s015", id)
		}
	}
	for _, id := range []string{"s010", "s015"} {
		if slices.Contains(held, id) {
			t.Errorf("%s kept; it is among the least recently changed", id)
		}
	}
	// Clients hear of the drops as changes.
	changes, _, _ := p.Since(111)
	if got := describe(changes); !strings.Contains(got, "s010:1→0>") {
		t.Errorf("Since lacks the drop of s010: %s", got)
	}
}

// The history keeps only the markings of replaced versions: they must decide visibility
// exactly as the whole situation does, for every viewer and view of the access matrix.
func TestMarkingsDecideVisibilityAsTheWholeSituation(t *testing.T) {
	missions := access.DefaultMissions()
	views := []access.View{{}, {Exercise: "CYDEF-X"}, {Mission: "EUFOR-ALTHEA"}, {Mission: "EUAM-UKRAINE", MinScore: 40},
		{Sectors: []string{"energy"}}, {MinScore: 60}}
	for _, s := range append(matrixSituations(), sit("geo", event.TLPGreen, func(s *picture.Situation) {
		s.Countries = nil
		s.Geo = &event.Geo{Lat: 44, Lon: 18}
		s.Sectors = []string{"energy"}
	})) {
		m := s.Markings()
		for _, id := range matrixIdentities {
			for _, v := range views {
				if got, want := id.SituationVisible(m, v, missions), id.SituationVisible(&s, v, missions); got != want {
					t.Errorf("%s in %+v: markings of %s visible %v, situation %v", id.Name, v, s.ID, got, want)
				}
			}
		}
	}
}
