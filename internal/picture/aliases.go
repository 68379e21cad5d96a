package picture

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"
)

// Aliases maps the names vendors give one threat actor or intrusion set to one name, so
// that "Fancy Bear", "APT 28" and "Forest Blizzard" from three contributors make one actor
// link (CampaignConfig.Aliases). Keys are folded names (Fold); values are the name a
// campaign's link shows. Stored names are left as their contributors gave them.
type Aliases map[string]string

// Fold is a name as alias tables compare it: lower case, letters and digits only, so
// "APT-28", "apt 28" and "APT28" are one.
func Fold(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Canonical is the name name stands for: its alias table entry, or name itself.
func (a Aliases) Canonical(name string) string {
	if c, ok := a[Fold(name)]; ok {
		return c
	}
	return name
}

// Add records that every one of names is the actor canonical. A name already given
// another actor keeps its first: a table is read in order, the built-in one first.
func (a Aliases) Add(canonical string, names ...string) {
	for _, n := range append([]string{canonical}, names...) {
		if f := Fold(n); f != "" {
			if _, ok := a[f]; !ok {
				a[f] = strings.ToLower(canonical)
			}
		}
	}
}

var defaultAliases = sync.OnceValue(DefaultAliases)

//go:embed aliases.json
var builtinAliases []byte

// DefaultAliases are the synonyms of widely reported actors, as vendors and the MISP
// threat-actor galaxy name them (aliases.json); a deployment adds its own with `cop serve
// --galaxy` (ReadGalaxy).
func DefaultAliases() Aliases {
	a := Aliases{}
	var table [][]string
	if err := json.Unmarshal(builtinAliases, &table); err != nil {
		panic("BUG: aliases.json: " + err.Error())
	}
	for _, names := range table {
		a.Add(names[0], names[1:]...)
	}
	return a
}

// ReadGalaxy adds to a the actors of a MISP galaxy cluster file (the format of
// github.com/MISP/misp-galaxy's clusters/threat-actor.json and mitre-intrusion-set.json:
// {"values": [{"value": name, "meta": {"synonyms": [...]}}]}), and says how many it read.
func (a Aliases) ReadGalaxy(b []byte) (int, error) {
	var g struct {
		Values *[]struct {
			Value string `json:"value"`
			Meta  struct {
				Synonyms []string `json:"synonyms"`
			} `json:"meta"`
		} `json:"values"`
	}
	if err := json.Unmarshal(b, &g); err != nil || g.Values == nil {
		return 0, fmt.Errorf("want a MISP galaxy cluster: a JSON object with \"values\", an array of {\"value\": name, \"meta\": {\"synonyms\": [names]}}")
	}
	n := 0
	for _, v := range *g.Values {
		if strings.TrimSpace(v.Value) == "" {
			continue
		}
		a.Add(v.Value, v.Meta.Synonyms...)
		n++
	}
	return n, nil
}
