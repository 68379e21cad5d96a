// Package groundtruth owns labelled synthetic traffic for measuring what the picture shows:
// member-state reports of campaigns that rotate their infrastructure in waves, shared hubs,
// unrelated local incidents and re-sent near-duplicates, with a truth table (which campaign
// and wave each event belongs to) kept beside the events, never in them. Quality runs the
// correlation engine on it and measures the picture against that truth (quality.go).
//
// It does no I/O. Generation is deterministic per seed. Every address is from the
// documentation ranges (hubs), 100.64.0.0/10 (RFC 6598 shared address space: campaign and
// noise infrastructure, which needs more /24s than documentation has) or 2001:db8::/32,
// and every domain ends in .example, so nothing generated names a real system.
package groundtruth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/geo"
	"github.com/cidcc/cop/internal/synth"
)

// Options parameterise a scenario.
type Options struct {
	// Events is how many events to generate (at least 1).
	Events int
	Seed   uint64
	// Start is when the first report arrives (default 2026-01-05T08:00Z); Span is how long
	// the traffic lasts in simulated time (default an hour, at an even rate).
	Start time.Time
	Span  time.Duration
	// IDKey is the key event ids are minted with (event.Source.IDKey).
	IDKey []byte
}

// Shares of the traffic, in thousandths.
const (
	noisePerMille   = 250 // unrelated local incidents
	resendPerMille  = 40  // the same report re-sent by its contributor under a new id
	forwardPerMille = 40  // the same report sent by another contributor
	hubPerMille     = 300 // reports that also carry a hub observable
	namedPerMille   = 300 // campaign reports that name the campaign or its actor
)

// maxOpen is how many local incidents may be open at once.
const maxOpen = 48

// Label is the truth about one event.
type Label struct {
	// Campaign is the Campaign.ID, "" for noise.
	Campaign string
	// Wave is the campaign's infrastructure wave (0 for noise).
	Wave int
	// Noise marks an unrelated local incident; Incident numbers them.
	Noise    bool
	Incident int
}

// Truth is the truth table of a scenario.
type Truth struct {
	// Campaigns are the true campaigns, most severe first (Rank 1).
	Campaigns []Campaign
	// Labels maps every event id to its label.
	Labels map[string]Label
	// Hubs are the shared observables every campaign and the noise draw from.
	Hubs []event.Observable
}

// Campaign returns the campaign with id, or false.
func (t *Truth) Campaign(id string) (Campaign, bool) {
	for _, c := range t.Campaigns {
		if c.ID == id {
			return c, true
		}
	}
	return Campaign{}, false
}

// Generate returns o.Events events in arrival order and their truth table.
func Generate(o Options) ([]event.Event, Truth, error) {
	if o.Events < 1 {
		return nil, Truth{}, fmt.Errorf("events: %d is not a positive count", o.Events)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	}
	if o.Span <= 0 {
		o.Span = time.Hour
	}
	g := newGen(o)
	for i := range o.Events {
		at := o.Start.Add(time.Duration(int64(o.Span) * int64(i) / int64(o.Events)))
		g.next(at)
	}
	return g.events, Truth{Campaigns: g.campaigns, Labels: g.labels, Hubs: g.hubs}, nil
}

// gen is the state of one generation.
type gen struct {
	o         Options
	rng       *rand.Rand
	campaigns []Campaign
	weights   int
	reporters [][]synth.Contributor // per campaign: the contributors that see it
	hubs      []event.Observable
	waves     map[[2]int]wave
	sent      []int // per campaign: reports so far
	open      []incident
	incidents int
	recent    []sent // recent original reports, for re-sending
	events    []event.Event
	labels    map[string]Label
	seq       int
	last      event.Event // the report add added last, and its label
	lastLabel Label
	// stream: Stream's generation keeps no events nor labels, only what it needs next.
	stream bool
}

// sent is a report as generated, kept for re-sending it.
type sent struct {
	ev event.Event
	l  Label
}

// incident is an unrelated local incident: one contributor, a few reports, indicators of
// its own.
type incident struct {
	n       int
	left    int
	by      synth.Contributor
	country string
	sector  string
	cat     int
	sev     event.Severity
	obs     []event.Observable
	// tlp, when set, marks every report of it (a national incident kept close: the
	// demo's AMBER+STRICT and RED traffic).
	tlp event.TLP
}

func newGen(o Options) *gen {
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x67726f756e64)), campaigns: campaigns(), hubs: hubs(),
		waves: map[[2]int]wave{}, labels: make(map[string]Label, o.Events), events: make([]event.Event, 0, o.Events)}
	g.sent = make([]int, len(g.campaigns))
	for _, c := range g.campaigns {
		g.weights += c.Weight
		// Three or four member states see each campaign, and CERT-EU some of every one.
		cs := slices.Clone(synth.Contributors[:7])
		g.rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		g.reporters = append(g.reporters, append(cs[:3+g.rng.IntN(2)], synth.Contributors[7]))
	}
	return g
}

// next adds the report arriving at at.
func (g *gen) next(at time.Time) {
	r := g.rng.IntN(1000)
	switch {
	case r < resendPerMille && len(g.recent) > 0:
		g.resend(at, false)
	case r < resendPerMille+forwardPerMille && len(g.recent) > 0:
		g.resend(at, true)
	case r < resendPerMille+forwardPerMille+noisePerMille:
		g.noise(at)
	default:
		g.campaign(at)
	}
}

// add appends ev, mints its id and records its label.
func (g *gen) add(ev event.Event, l Label, original bool) {
	g.seq++
	ev.SourceID = fmt.Sprintf("%s-%d-%07d", strings.ToUpper(ev.Contributor), g.o.Seed, g.seq)
	ev.ID = event.Source{Contributor: ev.Contributor, IDKey: g.o.IDKey}.EventID(ev.SourceID)
	if original {
		if len(g.recent) == 512 {
			g.recent = append(g.recent[:0], g.recent[1:]...)
		}
		g.recent = append(g.recent, sent{ev, l})
	}
	g.last, g.lastLabel = ev, l
	if g.stream {
		return
	}
	g.labels[ev.ID] = l
	g.events = append(g.events, ev)
}

// campaign adds a report of a campaign drawn by weight.
func (g *gen) campaign(at time.Time) {
	ci, r := 0, g.rng.IntN(g.weights)
	for r >= g.campaigns[ci].Weight {
		r -= g.campaigns[ci].Weight
		ci++
	}
	c := &g.campaigns[ci]
	w := g.sent[ci] / c.WaveSize
	g.sent[ci]++
	wv, ok := g.waves[[2]int{ci, w}]
	if !ok {
		wv = newWave(g.o.Seed, ci, c, w)
		g.waves[[2]int{ci, w}] = wv
		delete(g.waves, [2]int{ci, w - 1}) // waves only move on
	}
	by := g.reporters[ci][g.rng.IntN(len(g.reporters[ci]))]
	country := c.Countries[g.rng.IntN(len(c.Countries))]
	ev := g.base(at, by, country)
	ev.Kind, ev.Category = c.Kind, c.Category
	ev.Severity = c.Severity
	if g.rng.IntN(10) < 3 && ev.Severity > event.SeverityLow {
		ev.Severity-- // contributors grade the same activity differently
	}
	ev.Sectors = []string{c.Sectors[g.rng.IntN(len(c.Sectors))]}
	ev.Techniques = slices.Clone(c.Techniques)
	ev.Observables = g.pick(wv.pool, 1+g.rng.IntN(3))
	if c.Category == "fraud/phishing" && g.rng.IntN(2) == 0 {
		ev.Observables = append(ev.Observables, event.Observable{Type: event.ObsEmail, Value: wv.email})
	}
	if c.CVE != "" && g.rng.IntN(2) == 0 {
		ev.Observables = append(ev.Observables, event.Observable{Type: event.ObsCVE, Value: c.CVE})
	}
	g.maybeHub(&ev)
	ev.Title = c.Title + " (" + country + ")"
	ev.Summary = "Reported by " + by.Title + "."
	if g.rng.IntN(1000) < namedPerMille {
		// As a platform would tag it: the actor always, the operation when the report names it.
		actor := event.Name{Kind: "threat-actor", Name: strings.ToLower(c.Actor)}
		if g.rng.IntN(2) == 0 {
			ev.Title = "Operation " + c.Name + ": " + c.Title
			ev.Names = []event.Name{{Kind: "campaign", Name: strings.ToLower(c.Name)}, actor}
		} else {
			ev.Title = c.Title + ", attributed to " + c.Actor
			ev.Names = []event.Name{actor}
		}
		ev.Summary = "Activity of " + c.Actor + " (operation " + c.Name + ") seen in " + country + "."
	}
	g.add(ev, Label{Campaign: c.ID, Wave: w}, true)
}

// noise adds a report of an unrelated local incident: a new one, or one more report of an
// open one.
func (g *gen) noise(at time.Time) {
	// At most maxOpen incidents are open at once: each lasts 2.5 reports on average, so
	// opening one every other noise report would grow the list without end.
	if len(g.open) == 0 || len(g.open) < maxOpen && g.rng.IntN(2) == 0 {
		g.open = append(g.open, g.newIncident())
	}
	k := g.rng.IntN(len(g.open))
	in := &g.open[k]
	ev := g.base(at, in.by, in.country)
	nc := noiseCategories[in.cat]
	ev.Kind, ev.Category, ev.Severity = nc.kind, nc.category, in.sev
	ev.Sectors = []string{in.sector}
	ev.Observables = g.pick(in.obs, 1+g.rng.IntN(len(in.obs)))
	g.maybeHub(&ev)
	if in.tlp != 0 {
		ev.TLP = in.tlp
	}
	ev.Title = nc.title + " at a " + in.sector + " operator (" + in.country + ")"
	ev.Summary = "Local incident handled by " + in.by.Title + "."
	g.add(ev, Label{Noise: true, Incident: in.n}, true)
	if in.left--; in.left == 0 {
		g.open = slices.Delete(g.open, k, k+1)
	}
}

func (g *gen) newIncident() incident {
	g.incidents++
	in := incident{n: g.incidents, left: 1 + g.rng.IntN(4), by: synth.Contributors[g.rng.IntN(len(synth.Contributors))],
		country: noiseCountries[g.rng.IntN(len(noiseCountries))], sector: noiseSectors[g.rng.IntN(len(noiseSectors))],
		cat: g.rng.IntN(len(noiseCategories)), sev: event.SeverityLow + event.Severity(g.rng.IntN(2))}
	if g.rng.IntN(10) == 0 {
		in.sev = event.SeverityHigh
	}
	// One in five incidents is kept close: AMBER+STRICT (the admin and the analyst see
	// it, commanders do not). Campaign reports stay CLEAR to AMBER: one stricter report
	// would mark a whole situation so. No RED: RED is for named recipients, which no
	// demo viewer is.
	if g.rng.IntN(5) == 0 {
		in.tlp = event.TLPAmberStrict
	}
	// Noise infrastructure is in 100.96.0.0/11, apart from the campaigns'.
	in.obs = []event.Observable{
		{Type: event.ObsIPv4, Value: fmt.Sprintf("100.%d.%d.%d", 96+g.rng.IntN(32), g.rng.IntN(256), 1+g.rng.IntN(254))},
		{Type: event.ObsDomain, Value: words[g.rng.IntN(len(words))] + "-" + hexs(g.rng, 6) + ".example"},
		{Type: event.ObsSHA256, Value: hexs(g.rng, 64)},
	}
	return in
}

// resend re-sends a recent report under a new source id: by its contributor (the same
// content, or a near-duplicate with a revised confidence), or forwarded by another.
func (g *gen) resend(at time.Time, forward bool) {
	r := g.recent[g.rng.IntN(len(g.recent))]
	orig, l := r.ev, r.l
	ev := orig
	ev.Observables = slices.Clone(orig.Observables)
	ev.ReceivedAt = at
	switch {
	case forward:
		for ev.Contributor == orig.Contributor {
			c := synth.Contributors[g.rng.IntN(len(synth.Contributors))]
			ev.Contributor, ev.Anonymise = c.Name, g.rng.Float64() < c.Anonymise
		}
	case g.rng.IntN(3) == 0:
		ev.Confidence = min(100, ev.Confidence+5)
	}
	g.add(ev, l, false)
}

// base is the part of a report every kind shares.
func (g *gen) base(at time.Time, by synth.Contributor, country string) event.Event {
	tlp := event.TLPGreen
	switch g.rng.IntN(10) {
	case 0:
		tlp = event.TLPClear
	case 1, 2, 3:
		tlp = event.TLPAmber
	}
	return event.Event{
		Contributor: by.Name,
		ObservedAt:  at.Add(-time.Duration(g.rng.IntN(1800)) * time.Second),
		ReceivedAt:  at,
		Countries:   []string{country},
		Geo:         near(country, g.rng),
		Confidence:  uint8(50 + g.rng.IntN(41)),
		TLP:         tlp,
		Anonymise:   g.rng.Float64() < by.Anonymise,
	}
}

// near is a position inside country's box, near its anchor (internal/geo); nil for a
// country geo does not know.
func near(country string, rng *rand.Rand) *event.Geo {
	lat, lon, ok := geo.Near(country, rng.Float64(), rng.Float64())
	if !ok {
		return nil
	}
	return &event.Geo{Lat: lat, Lon: lon}
}

// pick returns n distinct observables of pool in random order.
func (g *gen) pick(pool []event.Observable, n int) []event.Observable {
	idx := g.rng.Perm(len(pool))[:min(n, len(pool))]
	out := make([]event.Observable, len(idx))
	for i, k := range idx {
		out[i] = pool[k]
	}
	return out
}

func (g *gen) maybeHub(ev *event.Event) {
	if g.rng.IntN(1000) >= hubPerMille {
		return
	}
	h := g.hubs[g.rng.IntN(len(g.hubs))]
	if h.Type == event.ObsDomain && g.rng.IntN(2) == 0 {
		// A shortened link: the URL is new, the shortener's domain is the hub.
		ev.Observables = append(ev.Observables, event.Observable{Type: event.ObsURL, Value: "https://" + h.Value + "/" + hexs(g.rng, 7)})
	}
	ev.Observables = append(ev.Observables, h)
}
