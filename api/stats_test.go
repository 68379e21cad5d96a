package api

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	_, chAddr := itest.Services(t)
	ctx := context.Background()
	st, err := store.Open(ctx, chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// window is an hour no other test writes to: stats queries bound by it see only this
// test's events although cop.events is shared.
func window(rng *rand.Rand) (time.Time, time.Time) {
	t0 := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(80_000)) * time.Hour)
	return t0, t0.Add(time.Hour)
}

func statsEvent(id string, at time.Time, tlp event.TLP, mod func(*event.Event)) event.Event {
	e := event.Event{ID: id, Contributor: "feed-a", SourceID: id, Kind: event.KindIncident, ObservedAt: at, ReceivedAt: at,
		Severity: event.SeverityHigh, Confidence: 50, TLP: tlp, Countries: []string{"BA"}, Title: "secret title " + id,
		Observables: []event.Observable{{Type: event.ObsDomain, Value: id + ".example"}}}
	if mod != nil {
		mod(&e)
	}
	return e
}

func writeEvents(t *testing.T, st *store.Store, events []event.Event) {
	t.Helper()
	b := &store.Batch{Events: events}
	for range events {
		b.Situations = append(b.Situations, "sit-stats")
		b.Duplicate = append(b.Duplicate, false)
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) stats(t *testing.T, token string, q url.Values) (int, store.Stats, string) {
	t.Helper()
	resp := f.do(t, "GET", "/api/v1/stats?"+q.Encode(), token, nil)
	var st store.Stats
	body := readAll(resp)
	json.Unmarshal([]byte(body), &st)
	return resp.StatusCode, st, body
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var statsIdentities = append(slices.Clone(matrixIdentities), access.Identity{Name: "analyst-red", Role: access.RoleAnalyst, MaxTLP: event.TLPRed})

// TestAccessMatrixStats proves each rule on /api/v1/stats against the real ClickHouse: an
// event is counted (its sector tag appears) exactly when the viewer may see it.
func TestAccessMatrixStats(t *testing.T) {
	st := openStore(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t0, t1 := window(rng)
	ns := itest.Namespace(t)
	tagged := func(tag string, tlp event.TLP, mod func(*event.Event)) event.Event {
		return statsEvent(ns+"-"+tag, t0.Add(time.Minute), tlp, func(e *event.Event) {
			e.Sectors = []string{tag}
			if mod != nil {
				mod(e)
			}
		})
	}
	writeEvents(t, st, []event.Event{
		tagged("green", event.TLPGreen, nil),
		tagged("amber-strict", event.TLPAmberStrict, nil),
		tagged("red-named-a1", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1"} }),
		tagged("red-named", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-RED"} }),
		tagged("red-unnamed", event.TLPRed, nil),
		tagged("rel-other", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"CERT-EU"} }),
		tagged("rel-self", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1"} }),
		tagged("anon", event.TLPGreen, func(e *event.Event) { e.Anonymise = true }),
		tagged("exercise", event.TLPGreen, func(e *event.Event) { e.Exercise = "CYDEF-X" }),
		tagged("ua", event.TLPGreen, func(e *event.Event) { e.Countries = []string{"UA"} }),
	})
	f := newFixture(t, st, statsIdentities, nil)
	q := func(exercise string) url.Values {
		v := url.Values{"since": {t0.Format(time.RFC3339)}, "until": {t1.Format(time.RFC3339)}}
		if exercise != "" {
			v.Set("exercise", exercise)
		}
		return v
	}
	for _, c := range []struct {
		rule, viewer, token string
		status              int
	}{
		{"no_token/deny", "", "", 401},
		{"bad_token/deny", "", "cop_" + strings.Repeat("f", 64), 401},
		{"wrong_role_contributor/deny", "feed-a", "", 403},
		{"wrong_role_commander/deny", "cmdr-althea", "", 403},
		{"other_mission_area_commander/deny", "cmdr-green", "", 403},
	} {
		t.Run("stats/"+c.rule, func(t *testing.T) {
			tok := c.token
			if c.viewer != "" {
				tok = f.tokens[c.viewer]
			}
			if status, _, _ := f.stats(t, tok, q("")); status != c.status {
				t.Errorf("status %d, want %d", status, c.status)
			}
		})
	}
	for _, c := range []struct {
		rule, viewer, exercise, tag string
		counted                     bool
	}{
		{"tlp_at_ceiling/allow", "analyst-1", "", "amber-strict", true},
		{"tlp_above_ceiling/deny", "analyst-1", "", "red-named-a1", false},
		{"red_named/allow", "analyst-red", "", "red-named", true},
		{"red_unnamed/deny", "analyst-red", "", "red-unnamed", false},
		{"red_named_to_other/deny", "analyst-red", "", "red-named-a1", false},
		{"not_releasable/deny", "analyst-1", "", "rel-other", false},
		{"releasable_to_self/allow", "analyst-1", "", "rel-self", true},
		{"anonymised_contributor/allow_counted", "analyst-1", "", "anon", true},
		{"exercise_in_real_picture/deny", "analyst-1", "", "exercise", false},
		{"exercise_in_exercise_picture/allow", "analyst-1", "CYDEF-X", "exercise", true},
		{"real_in_exercise_picture/deny", "analyst-1", "CYDEF-X", "green", false},
		{"other_mission_area_analyst/allow", "analyst-1", "", "ua", true},
	} {
		t.Run("stats/"+c.rule, func(t *testing.T) {
			status, s, body := f.stats(t, f.tokens[c.viewer], q(c.exercise))
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if got := s.BySector[c.tag] > 0; got != c.counted {
				t.Errorf("%s counts %s: %v, want %v (by sector %v)", c.viewer, c.tag, got, c.counted, s.BySector)
			}
			if strings.Contains(body, "feed-a") || strings.Contains(body, "secret title") {
				t.Errorf("stats leak a contributor or title: %s", body)
			}
		})
	}
	t.Run("stats/exercise_not_allowed/deny", func(t *testing.T) {
		if status, _, _ := f.stats(t, f.tokens["analyst-red"], q("CYDEF-X")); status != 403 {
			t.Errorf("status %d, want 403", status)
		}
	})
	t.Run("stats/audit_row_written", func(t *testing.T) {
		if err := st.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.audit WHERE identity = 'analyst-1' AND action = 'stats' AND filter LIKE ?`,
			"%"+t0.Format("2006-01-02")+"%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Error("no audit row for analyst-1's stats queries")
		}
		var leaked uint64
		st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.audit WHERE position(filter, 'cop_') > 0`).Scan(&leaked)
		if leaked > 0 {
			t.Errorf("%d audit rows hold a token", leaked)
		}
	})
}
