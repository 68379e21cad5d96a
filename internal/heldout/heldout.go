// Package heldout reads a hand-written labelled scenario (testdata/heldout/*.scn) and
// expands it into events and their truth, for `cop bench quality --scenario FILE`. It is
// deliberately not internal/groundtruth's generator: the scenario's campaigns, waves,
// reused infrastructure, renamings and noise are written out in the file, and this
// package only draws the reports they describe (deterministically for the file's seed),
// so that the picture is measured on campaigns COP's generator was not built around.
// The file format is described at the top of testdata/heldout/winter-2026.scn, its
// extensions (pools, bursts, spellings, unlisted hubs, scanners, revisions) at the top of
// testdata/heldout/spring-2027.scn.
package heldout

import (
	"bufio"
	"cmp"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/geo"
	"github.com/cidcc/cop/internal/groundtruth"
)

type wave struct {
	from, to float64
	reports  int
	cat      string
	tech     []string
	sev      event.Severity
	names    []event.Name
	named    float64
	obs      []event.Observable
	victim   bool
	// Extensions (spring-2027.scn); zero in files that do not use them.
	kind      event.Kind
	reporters []string
	countries []string
	sectors   []string
	aliases   [][]string // per name, its spellings; a report's contributor picks one
	bare      float64    // share of reports without the wave's own observables
	pool      []event.Observable
	bursts    int  // reports come in this many short bursts
	decay     bool // most reports early, a long quiet tail
}

type campaign struct {
	c         groundtruth.Campaign
	reporters []string
	waves     []wave
}

type localKind struct {
	category string
	kind     event.Kind
	sev      event.Severity
	tech     []string
	title    string
}

type block struct {
	from, to float64
	reports  int
	category string
	title    string
}

type scenario struct {
	seed      uint64
	start     time.Time
	hubs      []event.Observable
	hubshare  float64
	resend    float64
	campaigns []*campaign
	local     block
	kinds     []localKind
	countries []string
	sectors   []string
	hubonly   block
	bare      block
	// Extensions (spring-2027.scn).
	unlisted []event.Observable // shared like hubs, but not in the truth's Hubs (no warning list names them)
	revise   float64            // share re-sent later with changed fields
	scans    []scan
}

// scan is commodity scanning: reports from many contributors, each naming one of a set
// of scanner addresses that belong to no campaign.
type scan struct {
	block
	pool []event.Observable
}

// Load reads a scenario and returns its events in arrival order and their truth. idKey
// mints the event ids (event.Source.IDKey).
func Load(r io.Reader, idKey []byte) ([]event.Event, groundtruth.Truth, error) {
	sc, err := parse(r)
	if err != nil {
		return nil, groundtruth.Truth{}, err
	}
	return sc.expand(idKey)
}

func parse(r io.Reader) (*scenario, error) {
	sc := &scenario{start: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)}
	var cur *campaign
	s := bufio.NewScanner(r)
	n := 0
	for s.Scan() {
		n++
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d (%s): %s", n, f[0], fmt.Sprintf(format, a...))
		}
		rest := strings.TrimSpace(strings.TrimPrefix(line, f[0]))
		need := func(k int) error {
			if len(f) < k+1 {
				return fail("want %d values, got %d", k, len(f)-1)
			}
			return nil
		}
		var err error
		switch f[0] {
		case "seed":
			if err = need(1); err == nil {
				sc.seed, err = strconv.ParseUint(f[1], 10, 64)
			}
		case "start":
			if err = need(1); err == nil {
				sc.start, err = time.Parse(time.RFC3339, f[1])
			}
		case "hubs":
			sc.hubs, err = observables(f[1:])
		case "unlistedhubs":
			sc.unlisted, err = observables(f[1:])
		case "revise":
			if err = need(1); err == nil {
				sc.revise, err = strconv.ParseFloat(f[1], 64)
			}
		case "scan":
			var b scan
			if err = need(5); err != nil {
				break
			}
			if b.from, b.to, b.reports, err = span(f); err != nil {
				break
			}
			if b.pool, err = pool(f[4], sc.seed); err != nil {
				break
			}
			b.category, b.title = f[5], strings.Join(f[6:], " ")
			sc.scans = append(sc.scans, b)
		case "hubshare":
			if err = need(1); err == nil {
				sc.hubshare, err = strconv.ParseFloat(f[1], 64)
			}
		case "resend":
			if err = need(1); err == nil {
				sc.resend, err = strconv.ParseFloat(f[1], 64)
			}
		case "campaign":
			if err = need(5); err != nil {
				break
			}
			cur = &campaign{c: groundtruth.Campaign{ID: f[1], Name: strings.ToLower(f[1])}}
			if cur.c.Rank, err = strconv.Atoi(f[3]); err == nil {
				cur.c.Severity, err = event.ParseSeverity(f[5])
			}
			sc.campaigns = append(sc.campaigns, cur)
		case "title", "kind", "category", "techniques", "countries", "sectors", "reporters", "wave":
			if cur == nil {
				return nil, fail("outside a campaign")
			}
			switch f[0] {
			case "title":
				cur.c.Title = rest
			case "kind":
				cur.c.Kind, err = event.ParseKind(rest)
			case "category":
				cur.c.Category = rest
			case "techniques":
				cur.c.Techniques = f[1:]
			case "countries":
				cur.c.Countries = f[1:]
			case "sectors":
				cur.c.Sectors = f[1:]
			case "reporters":
				cur.reporters = f[1:]
			case "wave":
				var w wave
				if w, err = parseWave(f[1:], cur, sc.seed); err == nil {
					cur.waves = append(cur.waves, w)
				}
			}
		case "local", "hubonly", "bare":
			var b block
			if err = need(3); err != nil {
				break
			}
			if b.from, b.to, b.reports, err = span(f); err != nil {
				break
			}
			if len(f) > 4 {
				b.category, b.title = f[4], strings.Join(f[5:], " ")
			}
			switch f[0] {
			case "local":
				sc.local = b
			case "hubonly":
				sc.hubonly = b
			default:
				sc.bare = b
			}
		case "localkind":
			if err = need(5); err != nil {
				break
			}
			k := localKind{category: f[1], title: strings.Join(f[5:], " ")}
			if k.kind, err = event.ParseKind(f[2]); err != nil {
				break
			}
			if k.sev, err = event.ParseSeverity(f[3]); err != nil {
				break
			}
			if f[4] != "-" {
				k.tech = strings.Split(f[4], ",")
			}
			sc.kinds = append(sc.kinds, k)
		case "localcountries":
			sc.countries = f[1:]
		case "localsectors":
			sc.sectors = f[1:]
		default:
			return nil, fail("unknown directive")
		}
		if err != nil {
			return nil, fail("%v", err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(sc.campaigns) == 0 {
		return nil, fmt.Errorf("scenario: no campaign")
	}
	if sc.local.reports > 0 && (len(sc.kinds) == 0 || len(sc.countries) == 0 || len(sc.sectors) == 0) {
		return nil, fmt.Errorf("scenario: local noise needs localkind, localcountries and localsectors")
	}
	for _, c := range sc.campaigns {
		if len(c.reporters) == 0 || len(c.c.Countries) == 0 || len(c.c.Sectors) == 0 || len(c.waves) == 0 {
			return nil, fmt.Errorf("campaign %s: needs reporters, countries, sectors and a wave", c.c.ID)
		}
	}
	return sc, nil
}

func parseWave(f []string, c *campaign, seed uint64) (wave, error) {
	w := wave{cat: c.c.Category, tech: c.c.Techniques, sev: c.c.Severity}
	if len(f) < 3 {
		return w, fmt.Errorf("want FROM TO REPORTS")
	}
	var err error
	if w.from, err = strconv.ParseFloat(f[0], 64); err != nil {
		return w, err
	}
	if w.to, err = strconv.ParseFloat(f[1], 64); err != nil {
		return w, err
	}
	if w.reports, err = strconv.Atoi(f[2]); err != nil {
		return w, err
	}
	var obs []string
	for _, t := range f[3:] {
		k, v, _ := strings.Cut(t, "=")
		switch k {
		case "cat":
			w.cat = v
		case "tech":
			w.tech = strings.Split(v, ",")
		case "sev":
			if w.sev, err = event.ParseSeverity(v); err != nil {
				return w, err
			}
		case "names":
			list, share, _ := strings.Cut(v, "@")
			if w.named, err = strconv.ParseFloat(share, 64); err != nil {
				return w, fmt.Errorf("names: want kind:name|…@share, got %q", v)
			}
			for _, kn := range strings.Split(list, "|") {
				kind, name, ok := strings.Cut(kn, ":")
				if !ok {
					return w, fmt.Errorf("names: want kind:name, got %q", kn)
				}
				// name/other/OTHER: the spellings different contributors use; "_" is a hyphen.
				spell := strings.Split(strings.ReplaceAll(strings.ReplaceAll(name, "-", " "), "_", "-"), "/")
				w.names = append(w.names, event.Name{Kind: kind, Name: spell[0]})
				w.aliases = append(w.aliases, spell)
			}
		case "victim":
			w.victim = true
		case "kind":
			if w.kind, err = event.ParseKind(v); err != nil {
				return w, err
			}
		case "reporters":
			w.reporters = strings.Split(v, ",")
		case "countries":
			w.countries = strings.Split(v, ",")
		case "sectors":
			w.sectors = strings.Split(v, ",")
		case "bare":
			if w.bare, err = strconv.ParseFloat(v, 64); err != nil {
				return w, fmt.Errorf("bare: want a share, got %q", v)
			}
		case "pool":
			p, err := pool(v, seed)
			if err != nil {
				return w, err
			}
			w.pool = append(w.pool, p...)
		case "shape":
			switch {
			case v == "decay":
				w.decay = true
			case strings.HasPrefix(v, "bursts:"):
				if w.bursts, err = strconv.Atoi(strings.TrimPrefix(v, "bursts:")); err != nil || w.bursts < 1 {
					return w, fmt.Errorf("shape: want bursts:N with N >= 1, got %q", v)
				}
			default:
				return w, fmt.Errorf("shape: want decay or bursts:N, got %q", v)
			}
		default:
			obs = append(obs, t)
		}
	}
	w.obs, err = observables(obs)
	return w, err
}

func observables(ts []string) ([]event.Observable, error) {
	var out []event.Observable
	for _, t := range ts {
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("observable %q: want type:value", t)
		}
		var typ event.ObservableType
		switch k {
		case "ip":
			typ = event.ObsIPv4
		case "ip6":
			typ = event.ObsIPv6
		case "dom":
			typ = event.ObsDomain
		case "url":
			typ = event.ObsURL
		case "email":
			typ = event.ObsEmail
		case "cve":
			typ = event.ObsCVE
		case "sha":
			sum := sha256.Sum256([]byte(v))
			typ, v = event.ObsSHA256, hex.EncodeToString(sum[:])
		case "sha1":
			sum := sha1.Sum([]byte(v))
			typ, v = event.ObsSHA1, hex.EncodeToString(sum[:])
		case "md5":
			sum := md5.Sum([]byte(v))
			typ, v = event.ObsMD5, hex.EncodeToString(sum[:])
		case "cidr":
			typ = event.ObsCIDR
		case "asn":
			typ = event.ObsASN
		default:
			return nil, fmt.Errorf("observable %q: type %q is not one of ip, ip6, dom, url, email, cve, sha, sha1, md5, cidr, asn", t, k)
		}
		o, err := event.NewObservable(typ, v)
		if err != nil {
			return nil, fmt.Errorf("observable %q: %v", t, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// pool expands KIND:BASE*N into N observables, drawn from their own generator (seeded by
// the file's seed and the token) so that they do not shift the reports' draws:
// ip:PREFIX*N and ip6:PREFIX*N are N distinct addresses in PREFIX (a botnet's bots across
// many /24s, a fast-flux domain's addresses); host:DOMAIN*N are N hosts under DOMAIN;
// dga:SUFFIX*N are N registrable domains under SUFFIX (a domain-generation algorithm).
// The same token gives the same values, so two waves can share a pool.
func pool(tok string, seed uint64) ([]event.Observable, error) {
	kind, rest, ok := strings.Cut(tok, ":")
	base, count, ok2 := strings.Cut(rest, "*")
	n, err := strconv.Atoi(count)
	if !ok || !ok2 || err != nil || n < 1 {
		return nil, fmt.Errorf("pool %q: want ip:PREFIX*N, ip6:PREFIX*N, host:DOMAIN*N or dga:SUFFIX*N", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	var k uint64
	for _, b := range sum[:8] {
		k = k<<8 | uint64(b)
	}
	rng := rand.New(rand.NewPCG(seed, k))
	seen := map[string]bool{}
	var out []event.Observable
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	for tries := 0; len(out) < n; tries++ {
		if tries > 20*n {
			return nil, fmt.Errorf("pool %q: %s does not hold %d distinct values", tok, base, n)
		}
		var t event.ObservableType
		var v string
		switch kind {
		case "ip", "ip6":
			p, err := netip.ParsePrefix(base)
			if err != nil || (kind == "ip") != p.Addr().Is4() {
				return nil, fmt.Errorf("pool %q: %q is not an %s prefix", tok, base, map[string]string{"ip": "IPv4", "ip6": "IPv6"}[kind])
			}
			b := p.Masked().Addr().AsSlice()
			for i := p.Bits(); i < len(b)*8; i++ {
				if rng.IntN(2) == 1 {
					b[i/8] |= 1 << (7 - i%8)
				}
			}
			if b[len(b)-1] == 0 || b[len(b)-1] == 255 {
				continue
			}
			a, _ := netip.AddrFromSlice(b)
			t, v = map[string]event.ObservableType{"ip": event.ObsIPv4, "ip6": event.ObsIPv6}[kind], a.String()
		case "host", "dga":
			l := make([]byte, 6+rng.IntN(7))
			for i := range l {
				l[i] = letters[rng.IntN(len(letters))]
			}
			t, v = event.ObsDomain, string(l)+"."+base
		default:
			return nil, fmt.Errorf("pool %q: kind %q is not one of ip, ip6, host, dga", tok, kind)
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		o, err := event.NewObservable(t, v)
		if err != nil {
			return nil, fmt.Errorf("pool %q: %v", tok, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// or is a, or b if a is empty.
func or[T any](a, b []T) []T {
	if len(a) > 0 {
		return a
	}
	return b
}

// spelling is the spelling of a name a contributor uses: vendors and CERTs keep their own.
func spelling(alts []string, by string) string {
	if len(alts) < 2 {
		return alts[0]
	}
	sum := sha256.Sum256([]byte(by))
	return alts[int(sum[0])%len(alts)]
}

type draft struct {
	ev event.Event
	l  groundtruth.Label
	w  *wave
}

func (sc *scenario) expand(idKey []byte) ([]event.Event, groundtruth.Truth, error) {
	rng := rand.New(rand.NewPCG(sc.seed, 0x68656c64))
	truth := groundtruth.Truth{Labels: map[string]groundtruth.Label{}, Hubs: sc.hubs}
	var ds []draft
	shared := append(slices.Clone(sc.hubs), sc.unlisted...)
	when := func(from, to float64) time.Time {
		h := from + rng.Float64()*(to-from)
		return sc.start.Add(time.Duration(h * float64(time.Hour))).Truncate(time.Millisecond)
	}
	report := func(at time.Time, by, country string) event.Event {
		ev := event.Event{Contributor: by, ReceivedAt: at, ObservedAt: at.Add(-time.Duration(rng.IntN(1200)) * time.Second),
			Countries: []string{country}, Confidence: uint8(40 + rng.IntN(51)), TLP: []event.TLP{event.TLPClear, event.TLPGreen, event.TLPGreen, event.TLPAmber}[rng.IntN(4)]}
		if lat, lon, ok := geo.Near(country, rng.Float64(), rng.Float64()); ok && rng.IntN(4) > 0 {
			ev.Geo = &event.Geo{Lat: lat, Lon: lon}
		}
		if len(shared) > 0 && rng.Float64() < sc.hubshare {
			ev.Observables = append(ev.Observables, shared[rng.IntN(len(shared))])
		}
		return ev
	}
	for _, c := range sc.campaigns {
		truth.Campaigns = append(truth.Campaigns, c.c)
		for wi := range c.waves {
			w := &c.waves[wi]
			countries, reporters, sectors, kind := or(w.countries, c.c.Countries), or(w.reporters, c.reporters), or(w.sectors, c.c.Sectors), cmp.Or(w.kind, c.c.Kind)
			at := func() time.Time { return when(w.from, w.to) }
			if w.bursts > 0 {
				centres := make([]float64, w.bursts)
				for i := range centres {
					centres[i] = w.from + rng.Float64()*(w.to-w.from)
				}
				width := max((w.to-w.from)/float64(20*w.bursts), 0.05)
				at = func() time.Time {
					c := centres[rng.IntN(len(centres))]
					h := c + math.Abs(rng.NormFloat64())*width
					return when(min(h, w.to), min(h, w.to))
				}
			} else if w.decay {
				at = func() time.Time {
					u := rng.Float64()
					h := w.from + u*u*u*(w.to-w.from)
					return when(h, h)
				}
			}
			for range w.reports {
				country := countries[rng.IntN(len(countries))]
				ev := report(at(), reporters[rng.IntN(len(reporters))], country)
				ev.Kind, ev.Category, ev.Techniques, ev.Severity = kind, w.cat, slices.Clone(w.tech), w.sev
				if rng.IntN(4) == 0 && ev.Severity > event.SeverityLow {
					ev.Severity--
				}
				ev.Sectors = []string{sectors[rng.IntN(len(sectors))]}
				if w.bare == 0 || rng.Float64() >= w.bare {
					for _, k := range rng.Perm(len(w.obs))[:min(len(w.obs), 1+rng.IntN(2))] {
						ev.Observables = append(ev.Observables, w.obs[k])
					}
					if len(w.pool) > 0 {
						for range 1 + rng.IntN(2) {
							ev.Observables = append(ev.Observables, w.pool[rng.IntN(len(w.pool))])
						}
					}
				}
				if w.victim && rng.IntN(3) > 0 {
					u, _ := event.NewObservable(event.ObsURL, fmt.Sprintf("https://www.ministry-%d.%s.example/", rng.IntN(400), strings.ToLower(country)))
					ev.Observables = append(ev.Observables, u)
				}
				ev.Title = c.c.Title + " (" + country + ")"
				if len(w.names) > 0 && rng.Float64() < w.named {
					ev.Names = slices.Clone(w.names)
					for i := range ev.Names {
						ev.Names[i].Name = spelling(w.aliases[i], ev.Contributor)
					}
					ev.Title = c.c.Title + " — " + ev.Names[0].Name
				}
				ds = append(ds, draft{ev, groundtruth.Label{Campaign: c.c.ID, Wave: wi}, w})
			}
		}
	}
	// Local incidents: one contributor, one to five reports within two hours, indicators
	// of their own in 100.99.0.0/16.
	contributors := []string{"fr-comcyber", "de-cert-bw", "ee-cert", "it-csirt", "pl-csirt-mon", "nl-ncsc", "es-mcce", "cert-eu"}
	incident := 0
	for left := sc.local.reports; left > 0; {
		incident++
		k := sc.kinds[rng.IntN(len(sc.kinds))]
		by, country, sector := contributors[rng.IntN(len(contributors))], sc.countries[rng.IntN(len(sc.countries))], sc.sectors[rng.IntN(len(sc.sectors))]
		own, _ := observables([]string{fmt.Sprintf("ip:100.99.%d.%d", rng.IntN(256), 1+rng.IntN(254)),
			fmt.Sprintf("dom:%s-%d.example", []string{"portal", "login", "update", "files"}[rng.IntN(4)], rng.IntN(1_000_000)),
			fmt.Sprintf("sha:local-%d", incident)})
		t0 := sc.local.from + rng.Float64()*(sc.local.to-sc.local.from)
		for range min(left, 1+rng.IntN(5)) {
			left--
			ev := report(when(t0, min(sc.local.to, t0+2)), by, country)
			ev.Kind, ev.Category, ev.Severity, ev.Techniques, ev.Sectors = k.kind, k.category, k.sev, k.tech, []string{sector}
			for _, i := range rng.Perm(3)[:1+rng.IntN(3)] {
				ev.Observables = append(ev.Observables, own[i])
			}
			ev.Title = k.title + " (" + country + ")"
			ds = append(ds, draft{ev, groundtruth.Label{Noise: true, Incident: incident}, nil})
		}
	}
	extra := func(b block, hubs bool) {
		for range b.reports {
			incident++
			country := sc.countries[rng.IntN(len(sc.countries))]
			ev := report(when(b.from, b.to), contributors[rng.IntN(len(contributors))], country)
			ev.Observables = nil
			if hubs {
				for range 1 + rng.IntN(2) {
					ev.Observables = append(ev.Observables, shared[rng.IntN(len(shared))])
				}
			}
			ev.Kind, ev.Category, ev.Severity, ev.Sectors = event.KindSighting, b.category, event.SeverityLow, []string{sc.sectors[rng.IntN(len(sc.sectors))]}
			ev.Title = b.title + " (" + country + ")"
			ds = append(ds, draft{ev, groundtruth.Label{Noise: true, Incident: incident}, nil})
		}
	}
	if len(shared) > 0 {
		extra(sc.hubonly, true)
	}
	extra(sc.bare, false)
	// Commodity scanning: each scanner address is an incident of its own, seen by anyone.
	for _, b := range sc.scans {
		first := incident
		incident += len(b.pool)
		for range b.reports {
			i := rng.IntN(len(b.pool))
			country := sc.countries[rng.IntN(len(sc.countries))]
			ev := report(when(b.from, b.to), contributors[rng.IntN(len(contributors))], country)
			ev.Observables = append(ev.Observables, b.pool[i])
			ev.Kind, ev.Category, ev.Severity, ev.Sectors = event.KindSighting, b.category, event.SeverityLow, []string{sc.sectors[rng.IntN(len(sc.sectors))]}
			ev.Title = b.title + " (" + country + ")"
			ds = append(ds, draft{ev, groundtruth.Label{Noise: true, Incident: first + 1 + i}, nil})
		}
	}
	// Revised reports: the same report re-sent later by its contributor with changed
	// fields: a raised severity or a revised confidence, a further indicator of its wave,
	// the names a later analysis gave it.
	for i, n := 0, int(sc.revise*float64(len(ds))); i < n; i++ {
		d := ds[rng.IntN(len(ds))]
		d.ev.Observables = slices.Clone(d.ev.Observables)
		d.ev.Names = slices.Clone(d.ev.Names)
		d.ev.ReceivedAt = d.ev.ReceivedAt.Add(time.Duration(300+rng.IntN(4*3600)) * time.Second)
		if d.ev.Severity < event.SeverityCritical && rng.IntN(2) == 0 {
			d.ev.Severity++
		} else {
			d.ev.Confidence = uint8(max(20, min(100, int(d.ev.Confidence)+rng.IntN(41)-20)))
		}
		if w := d.w; w != nil {
			if len(w.obs) > 0 && rng.IntN(2) == 0 {
				if o := w.obs[rng.IntN(len(w.obs))]; !slices.Contains(d.ev.Observables, o) {
					d.ev.Observables = append(d.ev.Observables, o)
				}
			}
			if len(w.names) > 0 && len(d.ev.Names) == 0 && rng.IntN(3) == 0 {
				for i, nm := range w.names {
					d.ev.Names = append(d.ev.Names, event.Name{Kind: nm.Kind, Name: spelling(w.aliases[i], d.ev.Contributor)})
				}
			}
		}
		ds = append(ds, d)
	}
	// Re-sent reports: the same content under a new id, by the same contributor or another.
	for i, n := 0, int(sc.resend*float64(len(ds))); i < n; i++ {
		d := ds[rng.IntN(len(ds))]
		d.ev.Observables = slices.Clone(d.ev.Observables)
		d.ev.ReceivedAt = d.ev.ReceivedAt.Add(time.Duration(1+rng.IntN(600)) * time.Second)
		if rng.IntN(2) == 0 {
			d.ev.Contributor = contributors[rng.IntN(len(contributors))]
		}
		ds = append(ds, d)
	}
	slices.SortStableFunc(ds, func(a, b draft) int { return a.ev.ReceivedAt.Compare(b.ev.ReceivedAt) })
	seq := map[string]int{}
	out := make([]event.Event, len(ds))
	for i, d := range ds {
		seq[d.ev.Contributor]++
		d.ev.SourceID = fmt.Sprintf("%s-H%d-%06d", strings.ToUpper(d.ev.Contributor), sc.seed, seq[d.ev.Contributor])
		d.ev.ID = event.Source{Contributor: d.ev.Contributor, IDKey: idKey}.EventID(d.ev.SourceID)
		d.ev.Summary = "Held-out scenario report."
		out[i] = d.ev
		truth.Labels[d.ev.ID] = d.l
	}
	slices.SortFunc(truth.Campaigns, func(a, b groundtruth.Campaign) int { return cmp.Compare(a.Rank, b.Rank) })
	return out, truth, nil
}

// span reads a block's or a scan's FROM TO REPORTS (f[1:4]).
func span(f []string) (from, to float64, reports int, err error) {
	if from, err = strconv.ParseFloat(f[1], 64); err != nil {
		return
	}
	if to, err = strconv.ParseFloat(f[2], 64); err != nil {
		return
	}
	reports, err = strconv.Atoi(f[3])
	return
}
