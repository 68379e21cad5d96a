// Package synth generates realistic, fictitious member-state feeds for the demo, the
// integration tests and the benchmarks: national military CERTs, CSIRTs and CERT-EU
// reporting campaigns that share observables (so corroboration and linking have work),
// in COP's native JSON. Addresses come from the documentation ranges and domains end in
// .example, so nothing generated names a real system. Deterministic for a seed.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/geo"
)

// Contributor is a feed source the generator speaks for.
type Contributor struct {
	Name    string // topic suffix and identity name
	Title   string
	Country string
	// Anonymise is how often (0..1) it asks not to be named.
	Anonymise float64
}

// Contributors are the generator's member-state sources.
var Contributors = []Contributor{
	{"fr-comcyber", "FR COMCYBER (military CERT)", "FR", 0},
	{"de-cert-bw", "DE CERT Bundeswehr", "DE", 0},
	{"ee-cert", "CERT-EE (national CSIRT)", "EE", 0.1},
	{"it-csirt", "CSIRT Italia", "IT", 0},
	{"pl-csirt-mon", "PL CSIRT MON (military)", "PL", 0.3},
	{"nl-ncsc", "NCSC-NL", "NL", 0},
	{"es-mcce", "ES Mando Conjunto del Ciberespacio", "ES", 0.2},
	{"cert-eu", "CERT-EU", "EU", 0},
}

// campaign is a coordinated activity several contributors see parts of.
type campaign struct {
	title     string
	category  string
	kind      event.Kind
	severity  event.Severity
	sectors   []string
	countries []string
	technique []string
	index     int
	slug      string
}

func hexs(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

func newCampaigns() []campaign {
	mk := func(title, cat string, kind event.Kind, sev event.Severity, sectors, countries, tech []string) campaign {
		return campaign{title: title, category: cat, kind: kind, severity: sev, sectors: sectors, countries: countries, technique: tech}
	}
	return []campaign{
		mk("C2 infrastructure targeting Baltic energy operators", "malicious-code/c2-server", event.KindIndicator, event.SeverityHigh,
			[]string{"energy"}, []string{"EE", "LV", "LT", "FI"}, []string{"T1071.001", "T1573"}),
		mk("DDoS against Baltic Sea submarine cable operators' portals", "availability/ddos", event.KindIncident, event.SeverityHigh,
			[]string{"submarine-cable", "telecom"}, []string{"SE", "DK", "FI", "EE", "DE"}, []string{"T1498"}),
		mk("Spearphishing wave against ministries of defence", "fraud/phishing", event.KindIncident, event.SeverityMedium,
			[]string{"defence", "public-administration"}, []string{"FR", "DE", "PL", "IT", "ES", "NL"}, []string{"T1566.001", "T1204.002"}),
		mk("Wiper on grid SCADA engineering workstations", "intrusions/system-compromise", event.KindIncident, event.SeverityCritical,
			[]string{"energy"}, []string{"UA", "MD", "RO", "PL"}, []string{"T1485", "T1561.002"}),
		mk("Ransomware on hospital networks", "malicious-code/infected-system", event.KindIncident, event.SeverityHigh,
			[]string{"health"}, []string{"IE", "IT", "DE", "FR"}, []string{"T1486", "T1021.001"}),
		mk("Scanning of VPN concentrators (CVE exploitation)", "intrusion-attempts/exploit", event.KindSighting, event.SeverityMedium,
			[]string{"digital-infrastructure", "public-administration"}, []string{"NL", "BA", "XK", "GR", "CY"}, []string{"T1190"}),
		mk("AIS spoofing and maritime comms jamming support servers", "availability/sabotage", event.KindIncident, event.SeverityHigh,
			[]string{"transport", "telecom"}, []string{"SO", "DJ", "YE", "MT", "LY"}, []string{"T1565"}),
		mk("Credential harvesting against mission staff webmail", "fraud/phishing", event.KindIndicator, event.SeverityMedium,
			[]string{"defence"}, []string{"GE", "AM", "IQ", "BA", "UA"}, []string{"T1566.002", "T1078"}),
	}
}

// waveObservable is observable j of a campaign's wave: addresses from the benchmarking
// range 198.18.0.0/15, distinct per campaign and wave, and one domain.
func waveObservable(cp *campaign, ci, wave, j int) event.Observable {
	if j == 3 {
		return event.Observable{Type: event.ObsDomain, Value: fmt.Sprintf("w%d.c%d-%s.example", wave, ci, cp.slug)}
	}
	idx := (ci*16384 + wave*3 + j) % (1 << 17)
	return event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("198.%d.%d.%d", 18+idx>>16, (idx>>8)&255, idx&255)}
}

// Generator produces events; it is not safe for concurrent use.
type Generator struct {
	n int
	// WaveEvery is how many reports a campaign wave lasts (default 400).
	WaveEvery int
	rng       *rand.Rand
	campaigns []campaign
	seq       map[string]int
	run       string // from the seed: generators with different seeds never repeat an id
	// Spread place observed_at: within Spread before the generation time.
	Spread time.Duration
}

// New returns a generator for seed.
func New(seed uint64) *Generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cs := newCampaigns()
	for i := range cs {
		cs[i].index = i
		cs[i].slug = strings.ToLower(strings.Fields(cs[i].title)[0])
	}
	return &Generator{rng: rng, campaigns: cs, seq: map[string]int{}, run: strconv.FormatUint(seed%(1<<32), 36),
		Spread: 6 * time.Hour, WaveEvery: 400}
}

// Next returns the contributor and the native input of a new, distinct report observed
// before now. Its id is unique per contributor.
func (g *Generator) Next(now time.Time) (Contributor, native.Input) {
	c := Contributors[g.rng.IntN(len(Contributors))]
	return c, g.For(c, now)
}

// For returns a new report from contributor c.
func (g *Generator) For(c Contributor, now time.Time) native.Input {
	g.seq[c.Name]++
	rng := g.rng
	cp := &g.campaigns[rng.IntN(len(g.campaigns))]
	country := cp.countries[rng.IntN(len(cp.countries))]
	in := native.Input{
		ID:         fmt.Sprintf("%s-%d-%s-%06d", c.Name, now.Year(), g.run, g.seq[c.Name]),
		Kind:       cp.kind,
		ObservedAt: now.Add(-time.Duration(rng.Int64N(int64(g.Spread)))).Truncate(time.Second).UTC(),
		Category:   cp.category,
		Techniques: cp.technique[:1+rng.IntN(len(cp.technique))],
		Sectors:    cp.sectors[:1+rng.IntN(len(cp.sectors))],
		Countries:  []string{country},
		Severity:   cp.severity,
		Title:      cp.title + " (" + country + ")",
		Summary:    "Synthetic report generated for the COP demo; all indicators are fictitious.",
		Anonymise:  rng.Float64() < c.Anonymise,
	}
	conf := 40 + rng.IntN(56)
	in.Confidence = &conf
	switch r := rng.IntN(100); {
	case r < 15:
		in.TLP = event.TLPClear
	case r < 60:
		in.TLP = event.TLPGreen
	case r < 92:
		in.TLP = event.TLPAmber
	case r < 97:
		in.TLP = event.TLPAmberStrict
	default:
		in.TLP = event.TLPRed
		in.ReleasableTo = []string{"EUFOR-ALTHEA", "EUNAVFOR-ATALANTA"}[rng.IntN(2):][:1]
	}
	if rng.IntN(3) > 0 {
		// Inside the country it names (internal/geo), not a degree or two around its capital.
		if lat, lon, ok := geo.Near(country, rng.Float64(), rng.Float64()); ok {
			in.Geo = &event.Geo{Lat: lat, Lon: lon}
		}
	}
	// A campaign unfolds in waves: each wave's infrastructure is shared by the reports of
	// that wave (so they link and corroborate), a new wave starts every WaveEvery reports,
	// and about a third of reports are local incidents with indicators of their own.
	g.n++
	ci := cp.index
	if rng.IntN(3) == 0 {
		in.Observables = append(in.Observables, event.Observable{Type: event.ObsDomain,
			Value: fmt.Sprintf("local-%s.%s.example", hexs(rng, 8), c.Name)})
		if rng.IntN(2) == 0 {
			in.Observables = append(in.Observables, event.Observable{Type: event.ObsSHA256, Value: hexs(rng, 64)})
		}
		return in
	}
	wave := g.n/g.WaveEvery - rng.IntN(3)
	if wave < 0 {
		wave = 0
	}
	for i, n := 0, 1+rng.IntN(3); i < n; i++ {
		in.Observables = append(in.Observables, waveObservable(cp, ci, wave, rng.IntN(4)))
	}
	return in
}

// Malformed returns a message that must end in the dead letter, of one of several kinds
// contributors really send: truncated JSON, a missing field, a bad value, not JSON at all.
func (g *Generator) Malformed(i int) []byte {
	switch i % 5 {
	case 0:
		return []byte(`{"id":"broken-` + fmt.Sprint(i) + `","kind":"incident","observed_at":"2026-11-2`)
	case 1:
		return []byte(`{"id":"nosev-` + fmt.Sprint(i) + `","kind":"incident","observed_at":"2026-11-20T10:00:00Z","title":"no severity","tlp":"GREEN"}`)
	case 2:
		return []byte(`{"id":"badip-` + fmt.Sprint(i) + `","kind":"indicator","observed_at":"2026-11-20T10:00:00Z","severity":"high","tlp":"GREEN","observables":[{"type":"ipv4","value":"999.1.2.3"}]}`)
	case 3:
		return []byte("\x00\x01 this is not a feed \xff")
	default:
		return []byte(`{"id":"badtlp-` + fmt.Sprint(i) + `","kind":"report","observed_at":"2026-11-20T10:00:00Z","severity":"low","tlp":"PURPLE","title":"x"}`)
	}
}
