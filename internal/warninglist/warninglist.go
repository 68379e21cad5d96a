// Package warninglist reads MISP warning lists (the format of
// github.com/MISP/misp-warninglists: {"name", "type", "list": […]}) into the observables that
// never link situations nor campaigns (correlate.Config.Common,
// picture.CampaignConfig.Common), and holds COP's built-in lists: public DNS resolvers,
// URL shorteners and file-sharing and cloud-storage hosts, values every deployment sees in
// unrelated reports. It matches exact values only; it does not touch the engine.
package warninglist

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// List is one warning list read: its name, the exact values COP keeps, and how many
// entries it left out (wider ranges, substrings, regular expressions).
type List struct {
	Name     string
	Values   []event.Observable
	LeftOut  int
	Entries  int
	listType string
}

// Summary says in one line what was kept of l, read from where.
func (l List) Summary(where string) string {
	return fmt.Sprintf("warning list %q (%s): %d exact values kept, %d entries left out (COP matches exact values, not ranges, substrings or patterns)",
		l.Name, where, len(l.Values), l.LeftOut)
}

// Parse reads one MISP warning list. COP keeps the addresses (a bare address or a /32
// or /128 of a "cidr" list), host names and URLs.
func Parse(b []byte) (List, error) {
	var wl struct {
		Name string   `json:"name"`
		Type string   `json:"type"`
		List []string `json:"list"`
	}
	if err := json.Unmarshal(b, &wl); err != nil || wl.List == nil {
		return List{}, fmt.Errorf("want a MISP warning list: a JSON object with \"name\", \"type\" and \"list\" (an array of strings)")
	}
	l := List{Name: wl.Name, Entries: len(wl.List), listType: wl.Type}
	for _, v := range wl.List {
		o, ok := value(wl.Type, v)
		if !ok {
			l.LeftOut++
			continue
		}
		l.Values = append(l.Values, o)
	}
	return l, nil
}

// value is the observable an entry of a warning list of type typ names exactly.
func value(typ, v string) (event.Observable, bool) {
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

//go:embed builtin/*.json
var builtin embed.FS

// Builtin are COP's own lists (builtin/*.json), which `cop serve` and `cop demo` apply
// unless told not to (--builtin-warninglists=false).
func Builtin() []List {
	des, err := builtin.ReadDir("builtin")
	if err != nil {
		panic("BUG: built-in warning lists: " + err.Error())
	}
	var out []List
	for _, de := range des {
		b, err := builtin.ReadFile("builtin/" + de.Name())
		if err != nil {
			panic("BUG: built-in warning list " + de.Name() + ": " + err.Error())
		}
		l, err := Parse(b)
		if err != nil || l.LeftOut > 0 {
			panic(fmt.Sprintf("BUG: built-in warning list %s: %v, %d entries left out", de.Name(), err, l.LeftOut))
		}
		out = append(out, l)
	}
	return out
}

// BuiltinValues are the values of every built-in list.
func BuiltinValues() []event.Observable {
	var out []event.Observable
	for _, l := range Builtin() {
		out = append(out, l.Values...)
	}
	return out
}
