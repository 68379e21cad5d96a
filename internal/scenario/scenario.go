// Package scenario writes scripted exercise campaigns (CyDef-X, CYBER PHALANX style) as
// the native JSON feeds of the member states that would report them, so an exercise runs
// through the same ingest, correlation and pictures as real traffic, tagged as exercise.
//
// Every address is from the documentation ranges and every domain ends in .example, so
// nothing generated names a real system. The output is deterministic for a seed and a
// start time. It does no I/O.
package scenario

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
)

// ErrUnknown is returned for a scenario name this package does not know.
var ErrUnknown = errors.New("unknown scenario")

// Names lists the scenarios Generate knows.
var Names = []string{"energy-cables"}

// Options parameterise a run of a scenario.
type Options struct {
	// Seed varies the infrastructure (addresses, domains, hashes), the timing jitter and
	// the report ids; the same seed and start give the same feeds.
	Seed uint64
	// Start is when the campaign's first phase begins; every observed_at is after it.
	Start time.Time
	// Exercise is the tag set on every event (required: a scenario is never real traffic).
	Exercise string
}

// Feed is what one contributor reports: push it under that contributor's identity.
type Feed struct {
	Contributor string
	Events      []native.Input
}

// Duration is how long after Options.Start the last event of a scenario is observed.
const Duration = 10 * 24 * time.Hour

// Generate returns the feeds of scenario name, one per contributor, sorted by name; each
// feed's events are in observed order.
func Generate(name string, o Options) ([]Feed, error) {
	if o.Exercise == "" {
		return nil, errors.New("no exercise name: scenario traffic must be tagged")
	}
	if o.Start.IsZero() {
		return nil, errors.New("no start time")
	}
	switch name {
	case "energy-cables":
		return energyCables(o), nil
	}
	return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknown, name, strings.Join(Names, ", "))
}

// state is a member state in the scenario: the CSIRT that reports, and the operators hit.
type state struct {
	contributor string
	country     string
	energy      site // an energy operator (grid control, power plant)
	cable       site // a submarine-cable landing station or its operator's NOC
}

type site struct {
	name     string
	lat, lon float64
}

// The four states: the Baltic (EE, FI), the North Sea (DE) and the Mediterranean (IT)
// landing stations of the design card's critical infrastructure.
var states = []state{
	{"ee-cert", "EE", site{"Narva power plants' control centre", 59.38, 28.19}, site{"Kakumäe cable landing station (Baltic)", 59.45, 24.63}},
	{"fi-ncsc", "FI", site{"transmission grid operator's SCADA", 60.17, 24.94}, site{"Hanko cable landing station (Baltic)", 59.82, 22.97}},
	{"de-cert-bw", "DE", site{"North Sea offshore wind grid link", 53.52, 8.11}, site{"Norden cable landing station (North Sea)", 53.60, 7.20}},
	{"it-csirt", "IT", site{"Sicilian grid interconnector", 37.50, 15.09}, site{"Mazara del Vallo cable landing station (Mediterranean)", 37.65, 12.59}},
}

// infra is the adversary's shared infrastructure: what links the phases into one
// situation across states.
type infra struct {
	scanner, staging, c2 string // IPv4
	lure, c2domain       string // domains
	sender               string // phishing e-mail address
	loader, wiper        string // SHA-256
	cve                  string
}

func newInfra(rng *rand.Rand) infra {
	word := func(ws ...string) string { return ws[rng.IntN(len(ws))] }
	lure := word("eu-grid-compliance", "entsoe-notice", "cable-maintenance-portal", "nis2-audit-desk") + "-" + hexs(rng, 4) + ".example"
	return infra{
		scanner:  fmt.Sprintf("198.51.100.%d", 10+rng.IntN(240)),
		staging:  fmt.Sprintf("203.0.113.%d", 10+rng.IntN(120)),
		c2:       fmt.Sprintf("203.0.113.%d", 130+rng.IntN(120)),
		lure:     lure,
		c2domain: word("telemetry", "updates", "cdn-sync", "scada-patch") + "." + word("nordgrid", "seacable", "baltlink") + "-" + hexs(rng, 4) + ".example",
		sender:   "compliance-office@" + lure,
		loader:   hexs(rng, 64),
		wiper:    hexs(rng, 64),
		cve:      word("CVE-2024-3400", "CVE-2023-46805", "CVE-2024-21762"),
	}
}

func hexs(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

// energyCables is a coordinated campaign against energy and submarine-cable operators in
// four member states, in four phases: recon, phishing, intrusion, wiper. Each phase reuses
// infrastructure of the one before, so the engine links the whole campaign into few
// situations, corroborated by several states. It is also the drill's escalation: civil
// CSIRTs and a military CERT (de-cert-bw) see it hit critical sectors in four member
// states, which crosses the default escalation rules (internal/crisis) at level 3, so
// an exercise runs the whole crisis chain (TestEnergyCablesCrossesTheDefaultEscalationRules).
func energyCables(o Options) []Feed {
	rng := rand.New(rand.NewPCG(o.Seed, 0x636f702d65786572)) // "cop-exer"
	in := newInfra(rng)
	feeds := map[string][]native.Input{}
	n := 0
	add := func(contributor string, day float64, e native.Input) {
		n++
		at := o.Start.Add(time.Duration(day*24*float64(time.Hour)) + time.Duration(rng.IntN(180))*time.Minute).UTC().Truncate(time.Second)
		e.ID = fmt.Sprintf("%s-%d-%03d", strings.ToUpper(contributor), o.Seed, n)
		e.ObservedAt = at
		e.Exercise = o.Exercise
		if e.Summary == "" {
			e.Summary = "Exercise " + o.Exercise + " inject (scenario energy-cables)."
		}
		feeds[contributor] = append(feeds[contributor], e)
	}
	obs := func(kv ...string) []event.Observable {
		var out []event.Observable
		for i := 0; i+1 < len(kv); i += 2 {
			t, err := event.ParseObservableType(kv[i])
			if err != nil {
				panic("BUG: scenario uses observable type " + kv[i])
			}
			out = append(out, event.Observable{Type: t, Value: kv[i+1]})
		}
		return out
	}
	conf := func(c int) *int { return &c }
	geo := func(s site) *event.Geo { return &event.Geo{Lat: s.lat, Lon: s.lon} }

	// Phase 1, days 0-2: recon. The same scanner, whose reverse zone also serves the
	// staging host, probes VPN portals of both sectors in every state.
	for i, s := range states {
		add(s.contributor, float64(i)*0.4, native.Input{
			Kind: event.KindSighting, Category: "information-gathering/scanner", Severity: event.SeverityLow,
			Observables: obs("ipv4", in.scanner, "ipv4", in.staging),
			Techniques:  []string{"T1595.002", "T1590"}, Sectors: []string{"energy", "submarine-cable"},
			Countries: []string{s.country}, Geo: geo(s.cable), Confidence: conf(60), TLP: event.TLPGreen,
			Title: "VPN portal scanning of energy and cable operators from " + in.scanner,
		})
	}
	// Phase 2, days 2-4: phishing. Lures posing as a NIS2 compliance office, hosted on
	// the staging host, whose "attestation form" is the loader; engineers of three
	// states' operators receive them.
	for i, s := range states[:3] {
		add(s.contributor, 2+float64(i)*0.5, native.Input{
			Kind: event.KindIncident, Category: "fraud/phishing", Severity: event.SeverityMedium,
			Observables: obs("email", in.sender, "domain", in.lure, "url", "https://"+in.lure+"/nis2/attestation", "ipv4", in.staging, "sha256", in.loader),
			Techniques:  []string{"T1566.002", "T1598.003"}, Sectors: []string{"energy"},
			Countries: []string{s.country}, Geo: geo(s.energy), Confidence: conf(70), TLP: event.TLPGreen,
			Title: "Spear-phishing of " + s.energy.name + " engineers (fake NIS2 attestation)",
		})
	}
	// Phase 3, days 5-7: intrusion. The VPN appliances are exploited; the loader beacons
	// to the C2 domain and address. CERT-EU shares the C2 as an indicator.
	for i, s := range states {
		add(s.contributor, 5+float64(i)*0.5, native.Input{
			Kind: event.KindIncident, Category: "intrusions/system-compromise", Severity: event.SeverityHigh,
			Observables: obs("cve", in.cve, "sha256", in.loader, "domain", in.c2domain, "ipv4", in.c2),
			Techniques:  []string{"T1190", "T1071.001", "T1133"}, Sectors: []string{"energy", "submarine-cable"},
			Countries: []string{s.country}, Geo: geo(s.cable), Confidence: conf(80), TLP: event.TLPAmber,
			Title: "VPN appliance compromise at " + s.cable.name + ", C2 beacons to " + in.c2domain,
		})
	}
	add("cert-eu", 6.5, native.Input{
		Kind: event.KindIndicator, Category: "malicious-code/c2-server", Severity: event.SeverityHigh,
		Observables: obs("ipv4", in.c2, "domain", in.c2domain, "sha256", in.loader),
		Techniques:  []string{"T1071.001"}, Sectors: []string{"energy", "submarine-cable"},
		Countries: []string{"EE", "FI", "DE", "IT"}, Confidence: conf(85), TLP: event.TLPGreen,
		Title: "C2 infrastructure of the campaign against energy and cable operators",
	})
	// Phase 4, days 8-10: wiper. The same C2 delivers a wiper to SCADA HMIs and to the
	// landing stations' network management; two states lose operations for hours.
	for i, s := range states {
		sev := event.SeverityHigh
		if i%2 == 0 {
			sev = event.SeverityCritical
		}
		add(s.contributor, 8+float64(i)*0.4, native.Input{
			Kind: event.KindIncident, Category: "availability/sabotage", Severity: sev,
			Observables: obs("sha256", in.wiper, "domain", in.c2domain),
			Techniques:  []string{"T1485", "T1561.002", "T1490"}, Sectors: []string{"energy", "submarine-cable"},
			Countries: []string{s.country}, Geo: geo(s.energy), Confidence: conf(90), TLP: event.TLPAmber,
			Title: "Wiper on " + s.energy.name + " and " + s.cable.name + " network management",
		})
	}

	names := make([]string, 0, len(feeds))
	for c := range feeds {
		names = append(names, c)
	}
	slices.Sort(names)
	out := make([]Feed, 0, len(names))
	for _, c := range names {
		evs := feeds[c]
		slices.SortStableFunc(evs, func(a, b native.Input) int { return a.ObservedAt.Compare(b.ObservedAt) })
		out = append(out, Feed{Contributor: c, Events: evs})
	}
	return out
}
