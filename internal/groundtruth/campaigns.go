package groundtruth

import (
	"fmt"
	"math/rand/v2"

	"github.com/cidcc/cop/internal/event"
)

// Campaign is one true campaign: what the truth table names and what a perfect picture
// would show as one item. Nothing of it but the reported Name and Actor (on some reports)
// appears in the events.
type Campaign struct {
	// ID is the truth table's key ("campaign-01"); it never appears in an event.
	ID string
	// Name and Actor are what contributors call it, when they name it at all.
	Name, Actor string
	Title       string
	Category    string
	Kind        event.Kind
	// Severity is the true severity; Rank orders campaigns by it, 1 the most severe
	// (distinct, so a commander's true top ten is well defined).
	Severity event.Severity
	Rank     int
	// Countries and Sectors are the true targets.
	Countries  []string
	Sectors    []string
	Techniques []string
	// Weight is its share of the campaign traffic, relative to the others.
	Weight int
	// WaveSize is how many reports a wave of its infrastructure lasts.
	WaveSize int
	// CVE, when set, is exploited on about half of its reports.
	CVE  string
	slug string
}

// campaigns are the twelve true campaigns, most severe first. Their targets are spread
// over the CSDP missions' areas (access.DefaultMissions) and EU member states.
func campaigns() []Campaign {
	mk := func(name, actor, title, cat string, kind event.Kind, sev event.Severity, countries, sectors, tech []string, weight int) Campaign {
		return Campaign{Name: name, Actor: actor, Title: title, Category: cat, Kind: kind, Severity: sev,
			Countries: countries, Sectors: sectors, Techniques: tech, Weight: weight}
	}
	cs := []Campaign{
		mk("GRIDLOCK", "VOLT MARTEN", "Wiper on grid SCADA engineering workstations", "availability/sabotage", event.KindIncident, event.SeverityCritical,
			[]string{"UA", "MD", "RO", "PL"}, []string{"energy"}, []string{"T1485", "T1561.002"}, 12),
		mk("DEEP ANCHOR", "SALT HERON", "Intrusion at Red Sea submarine-cable landing stations", "intrusions/system-compromise", event.KindIncident, event.SeverityCritical,
			[]string{"YE", "DJ", "EG", "SA"}, []string{"submarine-cable", "telecom"}, []string{"T1190", "T1071.001"}, 8),
		mk("GHOST TIDE", "SALT HERON", "AIS spoofing and maritime comms jamming support servers", "availability/sabotage", event.KindIncident, event.SeverityHigh,
			[]string{"SO", "DJ", "YE", "MT", "LY"}, []string{"transport", "telecom"}, []string{"T1565"}, 10),
		mk("BALKAN LOCK", "COPPER WOLF", "Ransomware on Balkan public administration networks", "malicious-code/infected-system", event.KindIncident, event.SeverityHigh,
			[]string{"BA", "XK", "GR"}, []string{"public-administration"}, []string{"T1486", "T1021.001"}, 9),
		mk("NORTHERN LIGHTS", "VOLT MARTEN", "C2 infrastructure targeting Baltic energy operators", "malicious-code/c2-server", event.KindIndicator, event.SeverityHigh,
			[]string{"EE", "LV", "LT", "FI"}, []string{"energy"}, []string{"T1071.001", "T1573"}, 10),
		mk("MAILBAG", "IRON STORK", "Credential harvesting against mission staff webmail", "fraud/phishing", event.KindIndicator, event.SeverityHigh,
			[]string{"GE", "AM", "IQ", "BA", "UA"}, []string{"defence"}, []string{"T1566.002", "T1078"}, 9),
		mk("UNDERTOW", "RUST PELICAN", "DDoS against Baltic Sea submarine-cable operators' portals", "availability/ddos", event.KindIncident, event.SeverityHigh,
			[]string{"SE", "DK", "FI", "EE", "DE"}, []string{"submarine-cable", "telecom"}, []string{"T1498"}, 8),
		mk("FEVER", "COPPER WOLF", "Ransomware on hospital networks", "malicious-code/infected-system", event.KindIncident, event.SeverityHigh,
			[]string{"IE", "IT", "DE", "FR"}, []string{"health"}, []string{"T1486", "T1021.001"}, 8),
		mk("PAPER SWORD", "IRON STORK", "Spear-phishing wave against ministries of defence", "fraud/phishing", event.KindIncident, event.SeverityMedium,
			[]string{"FR", "DE", "PL", "IT", "ES", "NL"}, []string{"defence", "public-administration"}, []string{"T1566.001", "T1204.002"}, 10),
		mk("HARBOUR MASTER", "RUST PELICAN", "Intrusion into central Mediterranean port logistics", "intrusions/system-compromise", event.KindIncident, event.SeverityMedium,
			[]string{"MT", "LY", "IT", "GR"}, []string{"transport"}, []string{"T1133", "T1078"}, 6),
		mk("KEYHOLE", "GLASS FERRET", "Exploitation of VPN concentrators", "intrusion-attempts/exploit", event.KindSighting, event.SeverityMedium,
			[]string{"NL", "BA", "XK", "GR", "CY"}, []string{"digital-infrastructure", "public-administration"}, []string{"T1190"}, 6),
		mk("LOUD BANNER", "NOISY CROW", "Hacktivist defacements of ministry websites", "information-content-security/unauthorised-information-modification", event.KindIncident, event.SeverityLow,
			[]string{"MD", "GE", "AM", "RO", "BG"}, []string{"public-administration"}, []string{"T1491.002"}, 4),
	}
	for i := range cs {
		c := &cs[i]
		c.ID = fmt.Sprintf("campaign-%02d", i+1)
		c.Rank = i + 1
		c.slug = fmt.Sprintf("c%02d", i+1)
		c.WaveSize = 200 + 25*((i*7)%9) // 200..400 reports per wave
	}
	cs[10].CVE = "CVE-2024-3400"
	return cs
}

// noiseCountries are where unrelated local incidents happen: everywhere COP has members or
// missions.
var noiseCountries = []string{"EE", "LV", "LT", "PL", "FI", "DE", "FR", "IT", "ES", "NL", "SE", "DK", "GR", "MT", "CY",
	"BA", "XK", "UA", "MD", "GE", "AM", "RO", "BG", "SO", "DJ", "YE", "LY", "IQ", "IE", "PT", "EG"}

var noiseSectors = []string{"energy", "health", "transport", "public-administration", "banking", "telecom", "defence",
	"manufacturing", "research", "drinking-water"}

var noiseCategories = []struct {
	category string
	kind     event.Kind
	title    string
}{
	{"malicious-code/infected-system", event.KindIncident, "Commodity malware on a workstation"},
	{"fraud/phishing", event.KindIncident, "Phishing e-mail reported by staff"},
	{"intrusion-attempts/brute-force", event.KindSighting, "Brute-force attempts on a remote-access portal"},
	{"abusive-content/spam", event.KindSighting, "Spam run from a compromised mailbox"},
	{"information-gathering/scanner", event.KindSighting, "Port scan of a public web server"},
}

// Hubs are the shared observables of the scenario (below), normalised: what a deployment's
// warning list (correlate.Config.Common) would name. The demo gives them to its engine.
func Hubs() []event.Observable {
	out := hubs()
	for i, o := range out {
		out[i] = normalised(o.Type, o.Value)
	}
	return out
}

// hubs are observables that appear in many campaigns and in the noise: stand-ins for
// public resolvers (8.8.8.8, 1.1.1.1, 9.9.9.9 and an IPv6 one), CDN and cloud addresses,
// and URL shorteners' domains, all in the documentation ranges.
func hubs() []event.Observable {
	out := []event.Observable{
		{Type: event.ObsIPv4, Value: "192.0.2.53"}, {Type: event.ObsIPv4, Value: "198.51.100.53"},
		{Type: event.ObsIPv4, Value: "203.0.113.53"}, {Type: event.ObsIPv6, Value: "2001:db8::53"},
		{Type: event.ObsDomain, Value: "lnk.example"}, {Type: event.ObsDomain, Value: "shrt.example"},
	}
	for i := range 8 {
		out = append(out, event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("192.0.2.%d", 80+i)}) // CDN edge
	}
	for i := range 16 {
		out = append(out, event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("198.51.100.%d", 160+i)}) // cloud
	}
	return out
}

// wave is a campaign's infrastructure for one wave: addresses in the wave's /24 (adjacent
// to the previous wave's), a /64 of the campaign's IPv6 /48, two hosts under the
// campaign's registrable domain (a new registrable domain every fourth wave), a payload URL
// and a sample. Reports of the wave draw from it.
type wave struct {
	pool  []event.Observable
	email string
}

// newWave builds wave w of campaign c from its own random stream, so a wave's
// infrastructure does not depend on how traffic interleaves.
func newWave(seed uint64, ci int, c *Campaign, w int) wave {
	rng := rand.New(rand.NewPCG(seed, uint64(ci+1)<<32|uint64(w)))
	// Campaign infrastructure is in 100.64.0.0/10 (RFC 6598 shared address space): the
	// documentation ranges have only three /24s. Campaign ci owns 100.(64+4ci).0.0/14.
	// A demo that runs for hours wraps round its /14 after 1,024 waves.
	net := 4*ci*256 + w%1024
	hosts := rng.Perm(254)
	ip := func() event.Observable {
		h := hosts[0] + 1
		hosts = hosts[1:]
		return event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("100.%d.%d.%d", 64+net/256, net%256, h)}
	}
	// Every fourth wave moves to a new registrable domain; the waves in between rotate
	// hosts under it.
	block := rand.New(rand.NewPCG(seed, uint64(ci+1)<<32|uint64(w/4)|1<<31))
	reg := c.slug + "-" + hexs(block, 4) + ".example"
	host := func() string { return words[rng.IntN(len(words))] + "-" + hexs(rng, 4) + "." + reg }
	d0, d1 := host(), host()
	for d1 == d0 {
		d1 = host()
	}
	pool := []event.Observable{
		ip(), ip(), ip(),
		{Type: event.ObsIPv6, Value: fmt.Sprintf("2001:db8:%x:%x::%x", ci+1, w%0x10000, 1+rng.IntN(0xfffe))},
		{Type: event.ObsDomain, Value: d0}, {Type: event.ObsDomain, Value: d1},
		{Type: event.ObsURL, Value: "https://" + d0 + "/" + words[rng.IntN(len(words))] + "/" + hexs(rng, 6)},
		{Type: event.ObsSHA256, Value: hexs(rng, 64)},
	}
	for i, o := range pool {
		pool[i] = normalised(o.Type, o.Value)
	}
	return wave{pool: pool, email: words[rng.IntN(len(words))] + "@" + d1}
}

var words = []string{"update", "portal", "cdn", "sync", "mail", "login", "secure", "api", "files", "vpn", "office", "telemetry"}

func hexs(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

// normalised is the observable as event.NewObservable writes it, so generated values are
// already what validation would make of them.
func normalised(t event.ObservableType, v string) event.Observable {
	o, err := event.NewObservable(t, v)
	if err != nil {
		panic("BUG: groundtruth generates an invalid observable: " + err.Error())
	}
	return o
}
