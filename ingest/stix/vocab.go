package stix

import (
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// tlpMarkings maps the standard TLP marking-definition ids to COP's TLP: TLP 1.0 from the
// STIX 2.1 specification (section 7.2.1.4) and TLP 2.0 from the OASIS TLP 2.0 extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
var tlpMarkings = map[string]event.TLP{
	// TLP 1.0
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": event.TLPClear, // WHITE
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": event.TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": event.TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": event.TLPRed,
	// TLP 2.0
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": event.TLPClear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": event.TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": event.TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": event.TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": event.TLPRed,
	// OpenCTI's AMBER+STRICT, seen in feeds exported from it before TLP 2.0 ids existed.
	"marking-definition--826578e1-40ad-459f-bc73-ede076f81f37": event.TLPAmberStrict,
}

// defaultTLP applies when an object carries no marking COP recognises: AMBER is the
// conservative choice, since an unmarked object may still be sensitive to its contributor.
const defaultTLP = event.TLPAmber

// defaultConfidence applies when an object has no confidence property (STIX leaves it
// undefined; 50 is "neither confirmed nor doubted").
const defaultConfidence = 50

// sectorNames maps STIX 2.1 industry-sector-ov values (and a few common variants) to COP's
// NIS2 sector names. Values that map to no NIS2 sector are dropped.
var sectorNames = map[string]string{
	"energy":                        "energy",
	"utilities":                     "energy",
	"transportation":                "transport",
	"aviation":                      "transport",
	"financial-services":            "banking",
	"banking":                       "banking",
	"insurance":                     "banking",
	"healthcare":                    "health",
	"pharmaceuticals":               "health",
	"government":                    "public-administration",
	"government-national":           "public-administration",
	"government-public":             "public-administration",
	"government-regional":           "public-administration",
	"government-local":              "public-administration",
	"government-emergency-services": "public-administration",
	"telecommunications":            "telecom",
	"telecommunications-wireless":   "telecom",
	"defense":                       "defence",
	"defence":                       "defence",
	"government-defense":            "defence",
	"water":                         "drinking-water",
	"technology":                    "digital-infrastructure",
	"infrastructure":                "digital-infrastructure",
	"chemical":                      "chemicals",
	"manufacturing":                 "manufacturing",
	"automotive":                    "manufacturing",
	"aerospace":                     "space",
	"education":                     "research",
	"logistics":                     "postal-courier",
	"agriculture":                   "food",
}

// mapSector returns COP's sector for a STIX sector value, or "" when none fits. COP's own
// names are accepted as they are (an x_cop_sectors list uses them).
func mapSector(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if event.IsSector(s) {
		return s
	}
	return sectorNames[s]
}

// categoryHints maps words in an object's name or description to a Reference Security
// Incident Taxonomy category. Only unambiguous words are listed; otherwise the category
// stays empty rather than guessed.
var categoryHints = []struct{ word, category string }{
	{"command and control", "malicious-code/c2-server"},
	{"command-and-control", "malicious-code/c2-server"},
	{" c2", "malicious-code/c2-server"},
	{"c&c", "malicious-code/c2-server"},
	{"phishing", "fraud/phishing"},
	{"ddos", "availability/ddos"},
	{"denial of service", "availability/dos"},
	{"scanner", "information-gathering/scanner"},
	{"scanning", "information-gathering/scanner"},
	{"brute force", "intrusion-attempts/brute-force"},
	{"brute-force", "intrusion-attempts/brute-force"},
	{"malware distribution", "malicious-code/malware-distribution"},
	{"ransomware", "malicious-code/infected-system"},
	{"sabotage", "availability/sabotage"},
	{"data leak", "information-content-security/data-leak"},
	{"exploit", "intrusion-attempts/exploit"},
}

// guessCategory derives a category from the object's name and types; see categoryHints.
func guessCategory(o *object) string {
	if o.XCOPCategory != "" {
		return o.XCOPCategory
	}
	text := " " + strings.ToLower(o.Name) + " " + strings.ToLower(o.Description)
	for _, h := range categoryHints {
		if strings.Contains(text, h.word) {
			return h.category
		}
	}
	for _, t := range o.IndicatorTypes {
		if t == "compromised" {
			return "intrusions/system-compromise"
		}
	}
	return ""
}

// countryCode returns the ISO 3166-1 alpha-2 code of a STIX location country (already a
// code in STIX 2.1) or "" if it is not one.
func countryCode(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "UK" {
		s = "GB"
	}
	if event.IsCountry(s) {
		return s
	}
	return ""
}
