package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// loadWarningList reads a MISP warning list (the format of github.com/MISP/misp-warninglists:
// {"name", "type", "list": […]}) into observables that never link (correlate.Config.Common,
// picture.CampaignConfig.Common): public resolvers, CDN and cloud front ends, sinkholes. COP
// matches exact values, so it keeps the addresses (a bare address or a /32 or /128 of a
// "cidr" list), host names and URLs, and says how many entries it left out: wider ranges,
// substrings and regular expressions.
func loadWarningList(path string) ([]event.Observable, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("--warninglist: %w", err)
	}
	var wl struct {
		Name string   `json:"name"`
		Type string   `json:"type"`
		List []string `json:"list"`
	}
	if err := json.Unmarshal(b, &wl); err != nil || wl.List == nil {
		return nil, "", fmt.Errorf("--warninglist %s: want a MISP warning list: a JSON object with \"name\", \"type\" and \"list\" (an array of strings)", path)
	}
	var out []event.Observable
	left := 0
	for _, v := range wl.List {
		o, ok := warningValue(wl.Type, v)
		if !ok {
			left++
			continue
		}
		out = append(out, o)
	}
	summary := fmt.Sprintf("warning list %q (%s): %d exact values kept, %d entries left out (COP matches exact values, not ranges, substrings or patterns)",
		wl.Name, path, len(out), left)
	return out, summary, nil
}

// warningValue is the observable an entry of a warning list of type typ names exactly.
func warningValue(typ, v string) (event.Observable, bool) {
	v = strings.TrimSpace(v)
	switch typ {
	case "substring", "regex":
		return event.Observable{}, false
	case "cidr":
		if p, err := netip.ParsePrefix(v); err == nil {
			if !p.IsSingleIP() {
				return event.Observable{}, false
			}
			v = p.Addr().String()
		}
	}
	for _, t := range []event.ObservableType{event.ObsIPv4, event.ObsIPv6, event.ObsDomain, event.ObsURL} {
		if o, err := event.NewObservable(t, v); err == nil {
			return o, true
		}
	}
	return event.Observable{}, false
}

// loadGalaxy adds the actors of the MISP galaxy cluster at path to a (--galaxy).
func loadGalaxy(a picture.Aliases, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--galaxy: %w", err)
	}
	n, err := a.ReadGalaxy(b)
	if err != nil {
		return "", fmt.Errorf("--galaxy %s: %w", path, err)
	}
	return fmt.Sprintf("galaxy %s: %d actors and their synonyms", path, n), nil
}
