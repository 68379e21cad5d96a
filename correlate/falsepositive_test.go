package correlate

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// A false-positive sighting is evidence against: it lowers corroboration (and the score)
// by min(1, w × count) × reliability of the contributor that relayed it, the explanation
// shows it, a contributor's highest count counts (not the sum of its reports), and one
// contributor can take away at most its reliability, however many it reports.
func TestFalsePositiveSightingLowersCorroboration(t *testing.T) {
	cfg := DefaultConfig()
	situation := func(fps ...uint32) (sc, corr float64, against float64, text string) {
		t.Helper()
		e := New(cfg)
		evs := []event.Event{ev("DE", "1", "ipv4:192.0.2.7"), ev("FR", "2", "ipv4:192.0.2.7"), ev("IT", "3", "ipv4:192.0.2.7")}
		for i, n := range fps {
			x := ev("EE", "fp"+string(rune('a'+i)), "ipv4:192.0.2.7")
			x.FalsePositives = n
			evs = append(evs, x)
		}
		var s = only(t, apply(e, evs, t0).Deltas)
		return s.Score, s.Explanation.Corroboration, s.Explanation.Against, s.Explanation.Text
	}
	base, baseCorr, _, baseText := situation()
	// EE's report with no false positive is one more corroboration.
	more, _, _, _ := situation(0)
	one, oneCorr, oneAgainst, oneText := situation(1)
	// One false-positive sighting cancels what EE's report brings (a typical report's
	// weight); two take away more than it brings, below the situation without EE.
	two, twoCorr, _, _ := situation(2)
	if !(one < more && near(one, base) && two < base && twoCorr < baseCorr && more > base) {
		t.Fatalf("scores: %v without EE, %v with EE's plain report, %v with one false positive, %v (corroboration %v < %v) with two", base, more, one, two, twoCorr, baseCorr)
	}
	r := cfg.DefaultReliability
	// E = 3 × 0.8 × r (DE, FR, IT) + 0.8 × r (EE's own report) − min(1, 0.8 × 1) × r.
	wantE := 3*0.8*r + 0.8*r - 0.8*r
	if wantCorr := wantE / (wantE + cfg.CorroborationHalf); !near(oneCorr, wantCorr) || !near(oneAgainst, 0.8*r) {
		t.Errorf("corroboration %v against %v; want %v and %v", oneCorr, oneAgainst, wantCorr, 0.8*r)
	}
	if !strings.Contains(oneText, " − against 0.64 for 1 false-positive sighting from 4 contributors") || strings.Contains(baseText, "against") {
		t.Errorf("explanation %q (without: %q)", oneText, baseText)
	}
	// The same contributor's two reports of one false positive each: its highest, 1.
	if twice, _, _, _ := situation(1, 1); !near(twice, one) {
		t.Errorf("two reports of 1 false positive score %v; one scores %v", twice, one)
	}
	// Many false positives from one contributor take away its reliability, no more.
	_, _, many, _ := situation(200)
	if !near(many, r) {
		t.Errorf("200 false positives from one contributor: against %v; want at most its reliability %v", many, r)
	}
	// Weight disabled: nothing against.
	cfg.FalsePositiveWeight = -1
	if off, _, against, _ := situation(3); !near(off, more) || against != 0 {
		t.Errorf("weight off: score %v against %v; want %v, 0", off, against, more)
	}
}

// Evidence against can exceed the evidence for: corroboration is then 0, and so is the
// score, without going negative.
func TestFalsePositivesAloneScoreZero(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "domain:benign.example")
	a.Confidence = 10
	b := ev("FR", "2", "domain:benign.example")
	b.FalsePositives = 4
	s := only(t, apply(e, []event.Event{a, b}, t0).Deltas)
	if s.Score != 0 || s.Explanation.Corroboration != 0 || s.Explanation.Evidence <= 0 || s.Explanation.Against <= s.Explanation.Evidence {
		t.Fatalf("score %v explanation %+v", s.Score, s.Explanation)
	}
}

// Order, batching, redelivery and merges leave the picture with false positives what it
// is: the counts are maxima per contributor, order-independent.
func TestFalsePositivesAnyOrderYieldsTheSamePicture(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		evs := propertyEvents(rng, 5+rng.IntN(40))
		withFP := 0
		for i := range evs {
			// Redeliveries are copies: give both the same count.
			if h := evs[i].ID[0]; h%3 == 0 {
				evs[i].FalsePositives = uint32(h%5) + 1
				withFP++
			}
		}
		want := runOrder(t, slices.Clone(evs), rng)
		for range 5 {
			shuffled := slices.Clone(evs)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if got := runOrder(t, shuffled, rng); !equalPictures(got, want) {
				t.Fatalf("seed %d (%d events with false positives): order changed the picture:\n%s\nwant\n%s", seed, withFP, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// A snapshot keeps each contributor's false-positive count: restored, the engine scores
// the next events as the one that took the snapshot.
func TestSnapshotKeepsFalsePositives(t *testing.T) {
	a := New(DefaultConfig())
	x := ev("DE", "1", "ipv4:192.0.2.9")
	y := ev("FR", "2", "ipv4:192.0.2.9")
	y.FalsePositives = 2
	apply(a, []event.Event{x, y}, t0)
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Restore(&buf, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	z := ev("IT", "3", "ipv4:192.0.2.9")
	sa := only(t, apply(a, []event.Event{z}, t0.Add(time.Minute)).Deltas)
	sb := only(t, apply(b, []event.Event{z}, t0.Add(time.Minute)).Deltas)
	if sa.Explanation.Against == 0 || sa.Explanation.Against != sb.Explanation.Against || sa.Score != sb.Score || sb.Explanation.FalsePositives != 2 {
		t.Fatalf("before %+v\nrestored %+v", sa.Explanation, sb.Explanation)
	}
}
