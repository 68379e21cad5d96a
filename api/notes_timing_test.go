package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// BenchmarkNotesList measures GET /api/v1/notes on a situation with 100 notes against the
// real ClickHouse, with GET /api/v1/situations/{id} of the same situation, in the same
// run, as the baseline (the notes path makes the same look-up of its subject, then reads
// the notes). Reports p50/p99 of each in ms.
func BenchmarkNotesList(b *testing.B) {
	_, chAddr := itest.Services(b)
	ctx := context.Background()
	st, err := store.Open(ctx, chAddr, itest.Database())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	ns := itest.Namespace(b)
	now := time.Now().UTC()
	sid := strings.ToUpper("S-BENCH-" + ns)
	s := picture.Situation{ID: sid, Version: 1, Title: "bench", Kind: event.KindIncident, Severity: event.SeverityHigh,
		TLP: event.TLPGreen, Countries: []string{"BA"}, Contributors: []picture.Contributor{{Name: "feed-a"}}, EventCount: 1,
		FirstSeen: now, LastSeen: now, UpdatedAt: now}
	if err := st.Write(ctx, &store.Batch{Deltas: []picture.Delta{{Situation: s}}}); err != nil {
		b.Fatal(err)
	}
	f := newFixture(b, st, notesIdentities(""), nil)
	tok := f.tokens["cmdr-althea"]
	for i := range 100 {
		body, _ := json.Marshal(map[string]any{"subject_kind": "situation", "subject_id": sid, "text": fmt.Sprintf("note %d: %s", i, strings.Repeat("assessment ", 40)),
			"confidence": i, "tlp": []string{"GREEN", "AMBER"}[i%2]})
		if resp := f.do(b, "POST", "/api/v1/notes", f.tokens["analyst-1"], strings.NewReader(string(body))); resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	timed := func(path string) []time.Duration {
		var out []time.Duration
		for range b.N {
			t0 := time.Now()
			resp := f.do(b, "GET", path, tok, nil)
			readAll(resp)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			out = append(out, time.Since(t0))
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	b.ResetTimer()
	base := timed("/api/v1/situations/" + sid)
	notes := timed("/api/v1/notes?subject_kind=situation&subject_id=" + sid)
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(notes, .5), "notes-p50-ms")
	b.ReportMetric(q(notes, .99), "notes-p99-ms")
	b.ReportMetric(q(base, .5), "situation-p50-ms")
	b.ReportMetric(q(base, .99), "situation-p99-ms")
}
