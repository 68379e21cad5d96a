package correlate

import (
	"math"
	"strconv"
	"time"

	"github.com/cidcc/cop/internal/picture"
)

// lifetime returns τ in ns for d: the longest lifetime of its observables' types.
func (e *Engine) lifetime(d *sitData) int64 {
	var tau int64
	for t := range e.lifetimeNs {
		if d.types&(1<<t) != 0 {
			tau = max(tau, e.lifetimeNs[t])
		}
	}
	if tau == 0 {
		tau = e.defaultTau
	}
	return tau
}

// base is the score before decay and recency: 100 × severity × corroboration ×
// criticality (docs/scoring.md).
func (e *Engine) base(d *sitData) float64 {
	return 100 * e.cfg.SeverityWeight[min(int(d.sev), len(e.cfg.SeverityWeight)-1)] * e.corroboration(d.evid) * e.crit(d)
}

// corroboration is the term E/(E+h) of effective evidence E: it rises with every
// independent contributor, less with each, and never reaches 1.
func (e *Engine) corroboration(evid float64) float64 {
	if !(evid > 0) {
		return 0
	}
	return evid / (evid + e.cfg.CorroborationHalf)
}

// recency is floor + (1 − floor) × 2^(−age/half-life): 1 for a situation seen now.
func (e *Engine) recency(age int64) float64 {
	f := e.cfg.RecencyFloor
	if age <= 0 || f >= 1 {
		return 1
	}
	return f + (1-f)*math.Exp2(-float64(age)*e.recencyInv)
}

// recencyAge is the age at which recency falls to r (the longest age it is at least r):
// +Inf if r is at or below the floor.
func (e *Engine) recencyAge(r float64) float64 {
	f := e.cfg.RecencyFloor
	if r <= f {
		return math.Inf(1)
	}
	if r >= 1 {
		return 0
	}
	return math.Log2((1-f)/(r-f)) / e.recencyInv
}

// decay is MISP's polynomial decay max(0, 1 − (t/τ)^(1/δ)) at age t.
func (e *Engine) decay(age, tau int64) float64 {
	if age <= 0 {
		return 1
	}
	if age >= tau {
		return 0
	}
	x := float64(age) / float64(tau)
	if x <= e.flatAge {
		return 1 // (t/τ)^(1/δ) < 2⁻⁵⁴, so 1 − it rounds to 1: what Pow would give
	}
	return max(0, 1-math.Pow(x, 1/e.cfg.DecaySpeed))
}

// flatAge returns the age, as a share of the lifetime, up to which the decay with speed
// delta rounds to exactly 1: there (t/τ)^(1/δ) ≤ 2⁻⁵⁶, well under the half ulp below 1.
func flatAge(delta float64) float64 {
	if !(delta > 0) {
		return 0
	}
	return math.Pow(2, -56*delta)
}

// scoreAt returns d's score at now and its decay factor.
func (e *Engine) scoreAt(d *sitData, now int64) (score, decay float64) {
	age := now - d.last
	decay = e.decay(age, e.lifetime(d))
	return e.base(d) * decay * e.recency(age), decay
}

// rescore sets d's reported score at now and returns the decay factor. The next Tick
// looks at d and plans from there: a situation touched in many batches between two
// Ticks is planned once, not in each.
func (e *Engine) rescore(d *sitData, now int64) float64 {
	var decay float64
	d.score, decay = e.scoreAt(d, now)
	d.nextCheck = 0
	return decay
}

// plan computes an early enough time at which the score can have fallen more than the
// threshold below the reported one, so that Tick skips d until then without computing
// anything. Decay and recency both only fall with age: if each keeps at least √ρ of
// its value now, ρ the share of the current score the target is, their product keeps
// at least ρ, so the earlier of the two ages where one reaches its bound is never late.
func (e *Engine) plan(d *sitData, now int64) {
	target := d.score - e.cfg.ScoreThreshold
	b := e.base(d)
	if target <= 0 || b <= 0 {
		d.nextCheck = math.MaxUint32 // no report is due any more
		return
	}
	age := now - d.last
	tau := e.lifetime(d)
	dnow, rnow := e.decay(age, tau), e.recency(age)
	cur := dnow * rnow
	x := target / b
	if x >= cur {
		d.nextCheck = unixSecNs(now)
		return
	}
	k := math.Sqrt(x / cur)
	t := float64(tau) * math.Pow(1-dnow*k, e.cfg.DecaySpeed)
	t = min(t, e.recencyAge(rnow*k))
	// Step back a little so floating-point rounding cannot make Tick late.
	d.nextCheck = unixSecNs(d.last + int64(t*0.999)) // rounded down: never late
}

// Tick re-scores the situations for decay at now and returns those whose score moved by
// more than Config.ScoreThreshold since it was last reported. The slice is reused by the
// next Tick or Apply. Situations not yet due are skipped with one comparison each.
//
// Tick also bounds memory: it first retires the situations that have received no event
// for longer than Config.RetireAfter (Counters.Retired), each with a Removed delta
// without MergedInto, and forgets them with their observables and member lists. Their
// observables start a new situation when reported again; a content duplicate of one of
// their events, still in the dedup window, is stored under the retired id.
func (e *Engine) Tick(now time.Time) []picture.Delta {
	e.Deltas()
	nowNs := now.UnixNano()
	e.tick = e.tick[:0]
	sec := unixSecNs(nowNs)
	if h := int64(e.cfg.RetireAfter); h > 0 {
		for di := e.oldest(); di != noNode && nowNs-e.sits.at(di).fed > h; di = e.oldest() {
			rec := e.retire(di, nowNs)
			e.retiredDelta(&e.tick, &rec, nowNs)
		}
	}
	e.sweepOrphans(nowNs)
	for i := range uint32(e.sits.len()) {
		d := e.sits.at(i)
		if d.flags&flagLive == 0 || sec < d.nextCheck {
			continue
		}
		s, decay := e.scoreAt(d, nowNs)
		if math.Abs(s-d.score) <= e.cfg.ScoreThreshold {
			e.plan(d, nowNs)
			continue
		}
		d.version++
		d.updated = nowNs
		d.score = s
		e.plan(d, nowNs)
		dl := nextDelta(&e.tick)
		e.render(d, e.sitID(d.node), decay, &dl.Situation, &e.tickGeo, len(e.tick)-1)
	}
	e.compactArena()
	return e.tick
}

var severityWords = [...]string{"unknown", "info", "low", "medium", "high", "critical"}

// explain writes the one-line explanation of d's score.
func (e *Engine) explain(d *sitData, ex *picture.Explanation) {
	sev := min(int(d.sev), len(severityWords)-1)
	sector := ""
	if d.critWord != 0 {
		sector = e.words.names[d.critWord-1]
	}
	p := e.text.begin(320 + len(sector))
	p = append(p, severityWords[sev]...)
	p = append(p, " severity "...)
	p = appendFixed(p, ex.Severity, 2)
	p = append(p, " × corroboration "...)
	p = appendFixed(p, ex.Corroboration, 2)
	p = append(p, " (evidence "...)
	p = appendFixed(p, ex.Evidence, 2)
	if ex.FalsePositives > 0 {
		p = append(p, " − against "...)
		p = appendFixed(p, ex.Against, 2)
		p = append(p, " for "...)
		p = strconv.AppendInt(p, int64(ex.FalsePositives), 10)
		if ex.FalsePositives == 1 {
			p = append(p, " false-positive sighting"...)
		} else {
			p = append(p, " false-positive sightings"...)
		}
	}
	p = append(p, " from "...)
	p = strconv.AppendInt(p, int64(ex.Corroborations), 10)
	if ex.Corroborations == 1 {
		p = append(p, " contributor"...)
	} else {
		p = append(p, " contributors"...)
	}
	p = append(p, ", confidence "...)
	p = appendFixed(p, ex.Confidence, 2)
	p = append(p, ") × criticality "...)
	p = appendFixed(p, ex.Criticality, 2)
	if sector != "" {
		p = append(p, " ("...)
		p = append(p, sector...)
		p = append(p, ')')
	}
	p = append(p, " × decay "...)
	p = appendFixed(p, ex.Decay, 2)
	p = append(p, " × recency "...)
	p = appendFixed(p, ex.Recency, 2)
	p = append(p, " at "...)
	p = appendFixed(p, ex.AgeHours, 0)
	p = append(p, "h = "...)
	p = appendFixed(p, ex.Score(), 1)
	ex.Text = e.text.end(p)
}

var fixedScale = [...]float64{1, 10, 100}

// appendFixed appends v formatted as strconv.AppendFloat(p, v, 'f', prec, 64) does, for
// prec 0 to 2, without its general (and slower) algorithm when the result cannot differ:
// v non-negative and small enough that v×10^prec is within 1e-6 of its exact value, and
// not within 1e-6 of a rounding tie. Other values go to strconv.
func appendFixed(p []byte, v float64, prec int) []byte {
	x := v * fixedScale[prec]
	if !(x >= 0 && x < 1e9) || math.Signbit(v) {
		return strconv.AppendFloat(p, v, 'f', prec, 64)
	}
	fl := math.Floor(x)
	fr := x - fl
	if math.Abs(fr-0.5) < 1e-6 {
		return strconv.AppendFloat(p, v, 'f', prec, 64)
	}
	n := uint64(fl)
	if fr > 0.5 {
		n++
	}
	scale := uint64(fixedScale[prec])
	p = strconv.AppendUint(p, n/scale, 10)
	if prec > 0 {
		p = append(p, '.')
		f := n % scale
		for s := scale / 10; s > 0; s /= 10 {
			p = append(p, byte('0'+f/s%10))
		}
	}
	return p
}
