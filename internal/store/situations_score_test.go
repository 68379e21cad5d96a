package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// TestSituationPagesByScoreGiveBestFirstEachOnce: situations read by score, five at a
// time, following cursors: best first, ties by id, every visible one exactly once, and the
// same reversed with Asc. Scores repeat (ties straddle page boundaries) and carry more
// decimals than any display, so the cursor must keep the exact float.
func TestSituationPagesByScoreGiveBestFirstEachOnce(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	var deltas []picture.Delta
	want := 0
	for i := range 23 {
		s := picture.Situation{ID: fmt.Sprintf("S-%02d", i), Version: 1, Exercise: ex, Title: "t",
			Kind: event.KindIncident, TLP: event.TLPGreen, Severity: event.SeverityHigh, FirstSeen: t0, LastSeen: t0,
			// Updated in the reverse order of score: by updated_at would read worst first.
			Score: 10 + float64(i%7)*11.123456789, UpdatedAt: t0.Add(time.Duration(30-i) * time.Minute)}
		if i%6 == 5 {
			s.TLP = event.TLPRed // above the caller's ceiling
		} else {
			want++
		}
		deltas = append(deltas, picture.Delta{Situation: s})
	}
	if err := st.Write(context.Background(), &store.Batch{Deltas: deltas, StoredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	for _, asc := range []bool{false, true} {
		var got []*store.StoredSituation
		var after *store.Cursor
		for pages := 0; ; pages++ {
			if pages > 6 {
				t.Fatalf("asc=%v: more than 6 pages of 5 for %d situations", asc, want)
			}
			next, err := st.EachSituation(context.Background(), c, store.SituationFilter{Limit: 5, After: after, ByScore: true, Asc: asc},
				func(s *store.StoredSituation) (bool, error) { got = append(got, s); return true, nil })
			if err != nil {
				t.Fatal(err)
			}
			if next == nil {
				break
			}
			if !next.ByScore {
				t.Fatalf("a score page's cursor is not in score order: %+v", next)
			}
			// Through the URL form, as the API hands it out.
			back, err := store.ParseCursor(next.String())
			if err != nil || !back.ByScore || back.Score != next.Score || back.ID != next.ID {
				t.Fatalf("cursor %v/%s came back as %v/%s (%v)", next.Score, next.ID, back.Score, back.ID, err)
			}
			after = &back
		}
		seen := map[string]bool{}
		for i, s := range got {
			if seen[s.ID] {
				t.Errorf("asc=%v: %s read twice", asc, s.ID)
			}
			seen[s.ID] = true
			if i == 0 {
				continue
			}
			p := got[i-1]
			better := p.Score > s.Score || p.Score == s.Score && p.ID < s.ID
			if asc {
				better = p.Score < s.Score || p.Score == s.Score && p.ID > s.ID
			}
			if !better {
				t.Errorf("asc=%v: %s (%v) before %s (%v)", asc, p.ID, p.Score, s.ID, s.Score)
			}
		}
		if len(got) != want {
			t.Errorf("asc=%v: read %d situations, want %d", asc, len(got), want)
		}
	}
}
