package correlate

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// TestDecayFlatAgeMatchesPow checks that the shortcut for young situations gives what the
// formula gives, around where it stops applying.
func TestDecayFlatAgeMatchesPow(t *testing.T) {
	for _, delta := range []float64{0.01, 0.1, 0.3, 1, 3, 20} {
		cfg := DefaultConfig()
		cfg.DecaySpeed = delta
		e := New(cfg)
		tau := int64(30 * 24 * 3600 * 1e9)
		edge := int64(e.flatAge * float64(tau))
		for _, age := range []int64{1, edge / 2, edge - 1, edge, edge + 1, 2 * edge, 16 * edge} {
			if age <= 0 || age >= tau {
				continue
			}
			want := max(0, 1-math.Pow(float64(age)/float64(tau), 1/delta))
			if got := e.decay(age, tau); got != want {
				t.Errorf("delta %v age %d: decay %v, want %v", delta, age, got, want)
			}
		}
	}
}

// score applies batches to a fresh engine, one after the other at t0, and returns the
// situation the last batch's first event landed in.
func scoreOf(t *testing.T, e *Engine, batch ...event.Event) picture.Situation {
	t.Helper()
	r := apply(e, batch, t0)
	for _, d := range r.Deltas {
		if !d.Removed && d.Situation.ID == r.Events[0].SituationID {
			return d.Situation
		}
	}
	t.Fatalf("no delta for %s", r.Events[0].SituationID)
	return picture.Situation{}
}

func TestIndependentCorroborationKeepsRaisingTheScore(t *testing.T) {
	e := New(DefaultConfig())
	prev, prevGain := 0.0, math.Inf(1)
	for n := 1; n <= 12; n++ {
		s := scoreOf(t, e, ev(fmt.Sprintf("C%02d", n), "1", "ipv4:192.0.2.1"))
		gain := s.Score - prev
		// Every new contributor raises the score by more than the dashboard's 0.1, less
		// than the one before: diminishing returns, no saturation after five.
		if gain <= 0.1 || gain >= prevGain {
			t.Fatalf("contributor %d: score %v (gain %v after %v), want a rise over 0.1 and under the last", n, s.Score, gain, prevGain)
		}
		if s.Explanation.Corroboration >= 1 || s.Explanation.Corroborations != n {
			t.Fatalf("contributor %d: explanation %+v", n, s.Explanation)
		}
		prev, prevGain = s.Score, gain
	}
}

func TestDuplicateFromSameContributorAddsNoScore(t *testing.T) {
	f := func(first, again event.Event) {
		t.Helper()
		e := New(DefaultConfig())
		before := scoreOf(t, e, first)
		after := scoreOf(t, e, again)
		if after.Score != before.Score || after.Explanation.Evidence != before.Explanation.Evidence {
			t.Fatalf("score %v -> %v, evidence %v -> %v: want unchanged", before.Score, after.Score,
				before.Explanation.Evidence, after.Explanation.Evidence)
		}
	}
	f(ev("DE", "1", "ipv4:192.0.2.1"), ev("DE", "2", "ipv4:192.0.2.1"))                      // a new report of the same
	f(ev("DE", "1", "ipv4:192.0.2.1"), ev("DE", "2", "ipv4:192.0.2.1", "domain:c2.example")) // with one more observable
	lower := ev("DE", "2", "ipv4:192.0.2.1")
	lower.Confidence = 40
	f(ev("DE", "1", "ipv4:192.0.2.1"), lower) // less sure: its highest confidence counts
}

func TestCriticalOutranksHighAtEqualEvidence(t *testing.T) {
	e := New(DefaultConfig())
	high := ev("DE", "1", "ipv4:192.0.2.1")
	crit := ev("DE", "2", "ipv4:192.0.2.2")
	crit.Severity = event.SeverityCritical
	h, c := scoreOf(t, e, high), scoreOf(t, e, crit)
	if c.Score < 2*h.Score || c.Explanation.Evidence != h.Explanation.Evidence {
		t.Fatalf("critical %v, high %v: want critical at least twice high", c.Score, h.Score)
	}
	// Twelve contributors of a high do not reach a critical's score from three.
	e = New(DefaultConfig())
	var many []event.Event
	for i := range 12 {
		many = append(many, ev(fmt.Sprintf("C%02d", i), "1", "ipv4:192.0.2.1"))
	}
	h = scoreOf(t, e, many...)
	var three []event.Event
	for _, c := range []string{"DE", "FR", "IT"} {
		x := ev(c, "2", "ipv4:192.0.2.2")
		x.Severity = event.SeverityCritical
		three = append(three, x)
	}
	c = scoreOf(t, e, three...)
	if c.Score <= h.Score {
		t.Fatalf("critical from 3 contributors %v, high from 12 %v", c.Score, h.Score)
	}
}

func TestFresherOfEqualSituationsRanksHigher(t *testing.T) {
	e := New(DefaultConfig())
	older := ev("DE", "1", "ipv4:192.0.2.1")
	older.ObservedAt = t0.Add(-time.Hour)
	fresh := ev("DE", "2", "ipv4:192.0.2.2")
	o, f := scoreOf(t, e, older), scoreOf(t, e, fresh)
	if f.Score <= o.Score || o.Explanation.Recency >= 1 || f.Explanation.Recency != 1 {
		t.Fatalf("fresh %v (recency %v), an hour older %v (recency %v)", f.Score, f.Explanation.Recency, o.Score, o.Explanation.Recency)
	}
	// The dashboard shows scores to 0.1: an hour apart shows, for a critical.
	older.Severity, fresh.Severity = event.SeverityCritical, event.SeverityCritical
	older.ID, fresh.ID = "o2", "f2"
	older.Observables[0].Value, fresh.Observables[0].Value = "192.0.2.3", "192.0.2.4"
	o, f = scoreOf(t, e, older), scoreOf(t, e, fresh)
	if math.Round(10*f.Score) <= math.Round(10*o.Score) {
		t.Fatalf("critical fresh %v, an hour older %v: the same to 0.1", f.Score, o.Score)
	}
}

// TestTickIsNeverLateWithRecency checks Tick's plan against the score itself: after any
// Tick, the score a moment before the situation is next due is within the threshold of
// the one reported.
func TestTickIsNeverLateWithRecency(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "ipv4:192.0.2.1")
	a.Severity = event.SeverityCritical
	s := scoreOf(t, e, a)
	reported := s.Score
	for now := t0; now.Before(t0.Add(31 * 24 * time.Hour)); now = now.Add(time.Hour) {
		d := e.sits.at(0)
		got, _ := e.scoreAt(d, now.UnixNano())
		ds := e.Tick(now)
		if len(ds) == 1 {
			reported = ds[0].Situation.Score
			continue
		}
		if math.Abs(got-reported) > e.cfg.ScoreThreshold {
			t.Fatalf("at %v the score is %v, the last reported %v, and Tick said nothing", now.Sub(t0), got, reported)
		}
	}
}
