package heldout

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/groundtruth"
)

// The format's extensions leave a file that does not use them expanding exactly as
// before: the digest of winter-2026.scn's events and truth was taken before they were
// added (at 52feb57).
func TestWinterScenarioUnchangedByExtensions(t *testing.T) {
	evs, truth, err := Load(strings.NewReader(string(load(t))), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, ev := range evs {
		j, _ := json.Marshal(ev)
		h.Write(j)
		l, _ := json.Marshal(truth.Labels[ev.ID])
		h.Write(l)
	}
	j, _ := json.Marshal(truth.Campaigns)
	h.Write(j)
	if got, want := fmt.Sprintf("%d %x", len(evs), h.Sum(nil)), "23903 62d87391f4f940dc6296323bb58a5800d2b1df750e8ea99504636adaa76b6af6"; got != want {
		t.Fatalf("winter-2026.scn expands to %s, want %s", got, want)
	}
}

func loadSmall(t *testing.T, in string) ([]event.Event, groundtruth.Truth) {
	t.Helper()
	evs, truth, err := Load(strings.NewReader(in), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	return evs, truth
}

const small = `seed 7
hubs ip:192.0.2.53
unlistedhubs ip:192.0.2.90
hubshare 0.5
campaign A rank 1 severity high
title Bots
kind sighting
category intrusion-attempts/exploit
countries DE
sectors telecom
reporters de-cert-bw cert-eu nl-ncsc it-csirt
`

func TestPoolsSpreadOverManySubnets(t *testing.T) {
	evs, _ := loadSmall(t, small+"wave 0 1 2000 pool=ip:198.18.0.0/15*400 pool=host:ff.example*30 pool=dga:example*50\n")
	ips, nets, hosts, regs := map[string]bool{}, map[netip.Prefix]bool{}, map[string]bool{}, map[string]bool{}
	for _, ev := range evs {
		for _, o := range ev.Observables {
			switch {
			case o.Type == event.ObsIPv4 && strings.HasPrefix(o.Value, "198.1"):
				a := netip.MustParseAddr(o.Value)
				if !netip.MustParsePrefix("198.18.0.0/15").Contains(a) {
					t.Fatalf("%s outside its pool's prefix", a)
				}
				ips[o.Value] = true
				nets[netip.PrefixFrom(a, 24).Masked()] = true
			case o.Type == event.ObsDomain && strings.HasSuffix(o.Value, ".ff.example"):
				hosts[o.Value] = true
			case o.Type == event.ObsDomain && strings.Count(o.Value, ".") == 1:
				regs[o.Value] = true
			}
		}
	}
	if len(ips) != 400 || len(nets) < 200 || len(hosts) != 30 || len(regs) != 50 {
		t.Fatalf("%d addresses in %d /24s, %d hosts, %d registrable domains; want 400 in >= 200, 30, 50", len(ips), len(nets), len(hosts), len(regs))
	}
}

func TestSpellingsBelongToContributors(t *testing.T) {
	evs, _ := loadSmall(t, small+"wave 0 1 2000 bare=0.5 names=threat-actor:volt-typhoon/VANGUARD-PANDA/Storm_0558@1 ip:100.64.0.1\n")
	by := map[string]string{}
	spellings, bare := map[string]bool{}, 0
	for _, ev := range evs {
		if len(ev.Names) != 1 {
			t.Fatalf("%d names on a wave named on every report", len(ev.Names))
		}
		n := ev.Names[0].Name
		if prev, ok := by[ev.Contributor]; ok && prev != n {
			t.Fatalf("%s spells it %q and %q", ev.Contributor, prev, n)
		}
		by[ev.Contributor], spellings[n] = n, true
		if !slices.ContainsFunc(ev.Observables, func(o event.Observable) bool { return o.Value == "100.64.0.1" }) {
			bare++
		}
	}
	for n := range spellings {
		if !slices.Contains([]string{"volt typhoon", "VANGUARD PANDA", "Storm-0558"}, n) {
			t.Fatalf("spelling %q", n)
		}
	}
	if len(spellings) < 2 || bare < 800 || bare > 1200 {
		t.Fatalf("%d spellings, %d of 2000 reports without the wave's indicator", len(spellings), bare)
	}
}

func TestUnlistedHubsAreSharedButNotInTheTruth(t *testing.T) {
	evs, truth := loadSmall(t, small+"wave 0 1 1000 ip:100.64.0.1\nlocalcountries DE\nlocalsectors energy\nhubonly 0 1 300 information-gathering/scanner Hub only\n")
	unlisted := 0
	for _, ev := range evs {
		for _, o := range ev.Observables {
			if o.Value == "192.0.2.90" {
				unlisted++
			}
		}
	}
	if len(truth.Hubs) != 1 || truth.Hubs[0].Value != "192.0.2.53" || unlisted < 200 {
		t.Fatalf("truth hubs %v, %d reports carry the unlisted hub", truth.Hubs, unlisted)
	}
}

func TestBurstsScansAndRevisions(t *testing.T) {
	evs, truth := loadSmall(t, small+`wave 0 10 3000 shape=bursts:2 names=malware:x@0 ip:100.64.0.1 ip:100.64.0.2
localcountries DE
localsectors energy
scan 0 10 500 ip:100.100.0.0/16*5 information-gathering/scanner Scanning
revise 0.1
`)
	var hours [10]int
	scanners, revised := map[int]bool{}, 0
	type key struct {
		by    string
		at    string
		title string
	}
	first := map[key]event.Event{}
	for _, ev := range evs {
		l := truth.Labels[ev.ID]
		if l.Noise {
			scanners[l.Incident] = true
			continue
		}
		k := key{ev.Contributor, ev.ObservedAt.String(), ev.Title}
		if f, ok := first[k]; ok && (f.Severity != ev.Severity || f.Confidence != ev.Confidence) {
			revised++
		} else if !ok {
			first[k] = ev
			hours[int(ev.ReceivedAt.Sub(evs[0].ReceivedAt).Hours())%10]++
		}
	}
	busy := 0
	for _, n := range hours {
		if n > 300 {
			busy++
		}
	}
	if busy > 4 || len(scanners) != 5 || revised < 200 {
		t.Fatalf("%d busy hours of 10 (%v), %d scanners, %d revised re-sends", busy, hours, len(scanners), revised)
	}
}
