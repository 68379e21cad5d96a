package misp

import (
	"slices"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// tagFacts gathers what an event's taxonomy and galaxy tags say.
type tagFacts struct {
	tlp        event.TLP // most restrictive tlp:* tag, 0 if none
	techniques []string
	sectors    []string
	countries  []string
	category   string
	names      []event.Name
	confidence int // from misp:confidence-level or admiralty-scale, -1 if none
}

// galaxyNames maps MISP galaxies whose clusters name a threat actor, malware or tool to
// the kind of name. MITRE galaxies ("mitre-malware", "mitre-enterprise-attack-tool", …)
// are read from the word in their name; course-of-action and attack-pattern ones are not
// names.
var galaxyNames = map[string]string{
	"threat-actor": "threat-actor", "microsoft-activity-group": "threat-actor", "360net": "threat-actor",
	"intrusion-set": "intrusion-set",
	"ransomware":    "malware", "malpedia": "malware", "rat": "malware", "botnet": "malware", "banker": "malware",
	"stealer": "malware", "backdoor": "malware", "android": "malware", "malware": "malware",
	"tool": "tool", "exploit-kit": "tool",
}

// galaxyName returns the kind of name a galaxy's clusters give, or "".
func galaxyName(galaxy string) string {
	if k, ok := galaxyNames[galaxy]; ok {
		return k
	}
	if !strings.HasPrefix(galaxy, "mitre-") {
		return ""
	}
	for _, k := range [...]string{"intrusion-set", "malware", "tool", "threat-actor"} {
		if strings.HasSuffix(galaxy, k) {
			return k
		}
	}
	return ""
}

// isTechniqueGalaxy reports whether a mitre-* galaxy's clusters are ATT&CK techniques
// (mitre-attack-pattern, mitre-enterprise-attack-attack-pattern, …), not mitigations,
// software or groups whose names also end in an id.
func isTechniqueGalaxy(galaxy string) bool {
	return strings.HasPrefix(galaxy, "mitre-") && (strings.HasSuffix(galaxy, "attack-pattern") || strings.Contains(galaxy, "technique"))
}

// splitTag splits `ns:predicate="value"` or `ns:value` into namespace, predicate and value,
// all lower case except value.
func splitTag(name string) (ns, pred, value string) {
	ns, rest, ok := strings.Cut(strings.TrimSpace(name), ":")
	if !ok {
		return "", "", ""
	}
	ns = strings.ToLower(ns)
	if p, v, ok := strings.Cut(rest, "="); ok {
		return ns, strings.ToLower(strings.TrimSpace(p)), strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return ns, "", strings.Trim(strings.TrimSpace(rest), `"'`)
}

func (f *tagFacts) add(name string) {
	ns, pred, value := splitTag(name)
	lv := strings.ToLower(value)
	switch {
	case ns == "tlp":
		if lv == "ex:chr" {
			f.tlp = max(f.tlp, event.TLPRed)
		} else if t, err := event.ParseTLP(lv); err == nil {
			f.tlp = max(f.tlp, t)
		}
	case ns == "misp-galaxy" && isTechniqueGalaxy(pred):
		// "Spearphishing Attachment - T1566.001"
		if i := strings.LastIndex(value, " - "); i >= 0 {
			if id := strings.ToUpper(strings.TrimSpace(value[i+3:])); event.IsTechnique(id) {
				f.techniques = append(f.techniques, id)
			}
		}
	case ns == "misp-galaxy" && galaxyName(pred) != "":
		name := value
		if i := strings.LastIndex(value, " - "); i >= 0 && strings.HasPrefix(pred, "mitre-") {
			name = value[:i] // "Cobalt Strike - S0154"
		}
		n := event.Name{Kind: galaxyName(pred), Name: event.NormaliseName(name)}
		if n.Name != "" && len(n.Name) <= event.MaxNameLen && !slices.Contains(f.names, n) {
			f.names = append(f.names, n)
		}
	case ns == "misp-galaxy" && pred == "sector", ns == "sector":
		if s := mapSector(value); s != "" {
			f.sectors = append(f.sectors, s)
		}
	case ns == "misp-galaxy" && pred == "country", ns == "country":
		if c := countryCode(value); c != "" {
			f.countries = append(f.countries, c)
		}
	case ns == "rsit" || ns == "ecsirt":
		if f.category != "" || pred == "" {
			break
		}
		f.category = category(pred, lv)
		if f.category == "" {
			// Outside the taxonomy: Validate maps it if it can and keeps the term in the summary.
			f.category = event.Truncate(pred+"/"+lv, event.MaxQuoted)
		}
	case ns == "misp" && pred == "confidence-level":
		if c, ok := confidenceLevels[lv]; ok {
			f.confidence = c
		}
	case ns == "admiralty-scale" && pred == "information-credibility":
		if c, ok := credibility[lv]; ok {
			f.confidence = c
		}
	}
}

// confidenceLevels are the numerical values of MISP's misp:confidence-level taxonomy.
var confidenceLevels = map[string]int{
	"completely-confident": 100, "usually-confident": 75, "fairly-confident": 50,
	"rarely-confident": 25, "unconfident": 0, "confidence-cannot-be-evaluated": 50,
}

// credibility maps the admiralty scale's information credibility (1 confirmed … 5
// improbable, 6 cannot be judged) to a confidence.
var credibility = map[string]int{"1": 90, "2": 75, "3": 55, "4": 35, "5": 10, "6": 50}

// category maps an rsit:/ecsirt: tag to a taxonomy class/type. ecsirt spells some types
// without hyphens (c2server), so types are compared with hyphens removed.
func category(class, typ string) string {
	if class == "" {
		return ""
	}
	if alias, ok := ecsirtAliases[class+"/"+typ]; ok {
		return alias
	}
	want := class + "/" + strings.ReplaceAll(typ, "-", "")
	for _, c := range event.Categories {
		if strings.ReplaceAll(c, "-", "") == strings.ReplaceAll(want, "-", "") {
			return c
		}
	}
	return ""
}

// ecsirtAliases are eCSIRT types whose RSIT successor has another name.
var ecsirtAliases = map[string]string{
	"malicious-code/malware":                "malicious-code/infected-system",
	"malicious-code/ransomware":             "malicious-code/infected-system",
	"malicious-code/trojan":                 "malicious-code/infected-system",
	"malicious-code/worm":                   "malicious-code/infected-system",
	"intrusions/compromised-system":         "intrusions/system-compromise",
	"intrusions/compromised-application":    "intrusions/application-compromise",
	"intrusion-attempts/exploit-known-vuln": "intrusion-attempts/exploit",
	"intrusion-attempts/login-attempts":     "intrusion-attempts/brute-force",
	"fraud/unauthorized-use-of-resources":   "fraud/unauthorised-use-of-resources",
}

// sectorNames maps MISP sector galaxy values and sector: tags (lower case) to NIS2 sectors.
var sectorNames = map[string]string{
	"energy": "energy", "electricity": "energy", "oil and gas": "energy", "oil-and-gas": "energy", "utilities": "energy",
	"transport": "transport", "transportation": "transport", "aviation": "transport", "maritime": "transport", "railway": "transport",
	"finance": "banking", "financial": "banking", "financial services": "banking", "banking": "banking", "banks": "banking",
	"health": "health", "healthcare": "health", "hospitals": "health", "pharmacy": "health",
	"water": "drinking-water", "drinking water": "drinking-water", "waste water": "waste-water",
	"government, administration": "public-administration", "government": "public-administration",
	"government-national": "public-administration", "public administration": "public-administration",
	"telecoms": "telecom", "telecommunications": "telecom", "telecom": "telecom",
	"defense": "defence", "defence": "defence", "military": "defence",
	"space": "space", "satellite navigation": "space",
	"research": "research", "academia": "research", "education": "research", "universities": "research",
	"manufacturing": "manufacturing", "chemical": "chemicals", "chemicals": "chemicals",
	"food": "food", "agriculture": "food", "postal": "postal-courier", "logistics": "postal-courier",
	"it": "digital-infrastructure", "technology": "digital-infrastructure", "information technology": "digital-infrastructure",
	"digital infrastructure": "digital-infrastructure", "cloud": "digital-infrastructure", "data centres": "digital-infrastructure",
	"submarine cables": "submarine-cable", "submarine cable": "submarine-cable",
}

func mapSector(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if event.IsSector(s) {
		return s
	}
	if m, ok := sectorNames[s]; ok {
		return m
	}
	return sectorNames[strings.ReplaceAll(s, "-", " ")]
}

// countryNames maps English country names (lower case) to ISO 3166-1 alpha-2 codes: the 27
// member states and the countries of CSDP missions, partners and frequent threat origins.
var countryNames = map[string]string{
	"austria": "AT", "belgium": "BE", "bulgaria": "BG", "croatia": "HR", "cyprus": "CY",
	"czechia": "CZ", "czech republic": "CZ", "denmark": "DK", "estonia": "EE", "finland": "FI",
	"france": "FR", "germany": "DE", "greece": "GR", "hungary": "HU", "ireland": "IE", "italy": "IT",
	"latvia": "LV", "lithuania": "LT", "luxembourg": "LU", "malta": "MT", "netherlands": "NL",
	"the netherlands": "NL", "poland": "PL", "portugal": "PT", "romania": "RO", "slovakia": "SK",
	"slovenia": "SI", "spain": "ES", "sweden": "SE",
	"ukraine": "UA", "moldova": "MD", "republic of moldova": "MD", "georgia": "GE", "armenia": "AM",
	"bosnia and herzegovina": "BA", "kosovo": "XK", "serbia": "RS", "montenegro": "ME", "albania": "AL",
	"north macedonia": "MK", "macedonia": "MK", "russia": "RU", "russian federation": "RU",
	"belarus": "BY", "china": "CN", "iran": "IR", "north korea": "KP",
	"democratic people's republic of korea": "KP", "united states": "US", "united states of america": "US",
	"usa": "US", "united kingdom": "GB", "uk": "GB", "norway": "NO", "switzerland": "CH", "iraq": "IQ",
	"somalia": "SO", "libya": "LY", "israel": "IL", "palestine": "PS", "turkey": "TR", "türkiye": "TR",
}

func countryCode(s string) string {
	s = strings.TrimSpace(s)
	if u := strings.ToUpper(s); len(u) == 2 && event.IsCountry(u) {
		return u
	}
	return countryNames[strings.ToLower(s)]
}
