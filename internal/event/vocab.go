package event

import "strings"

// Sectors are the NIS2 Directive's sectors (annexes I and II) plus COP's defence and
// submarine-cable, in the spelling used on the wire.
var Sectors = []string{
	// Annex I: sectors of high criticality.
	"energy", "transport", "banking", "financial-market-infrastructure", "health",
	"drinking-water", "waste-water", "digital-infrastructure", "ict-service-management",
	"public-administration", "space",
	// Annex II: other critical sectors.
	"postal-courier", "waste-management", "chemicals", "food", "manufacturing",
	"digital-providers", "research",
	// COP additions.
	"defence", "submarine-cable", "telecom",
}

// Categories are the Reference Security Incident Taxonomy's class/type pairs used by the
// CSIRTs network and ENISA.
var Categories = []string{
	"abusive-content/spam", "abusive-content/harmful-speech", "abusive-content/violence",
	"malicious-code/infected-system", "malicious-code/c2-server", "malicious-code/malware-distribution",
	"malicious-code/malware-configuration",
	"information-gathering/scanner", "information-gathering/sniffing", "information-gathering/social-engineering",
	"intrusion-attempts/ids-alert", "intrusion-attempts/brute-force", "intrusion-attempts/exploit",
	"intrusions/privileged-account-compromise", "intrusions/unprivileged-account-compromise",
	"intrusions/application-compromise", "intrusions/system-compromise", "intrusions/burglary",
	"availability/dos", "availability/ddos", "availability/misconfiguration", "availability/sabotage",
	"availability/outage",
	"information-content-security/unauthorised-information-access",
	"information-content-security/unauthorised-information-modification",
	"information-content-security/data-loss", "information-content-security/data-leak",
	"fraud/unauthorised-use-of-resources", "fraud/copyright", "fraud/masquerade", "fraud/phishing",
	"vulnerable/weak-crypto", "vulnerable/ddos-amplifier", "vulnerable/potentially-unwanted-accessible",
	"vulnerable/information-disclosure", "vulnerable/vulnerable-system",
	"other/other", "other/undetermined",
	"test/test",
}

// Countries are the ISO 3166-1 alpha-2 codes, plus EU for the Union as a whole.
const countryCodes = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW EU"

var (
	sectorSet   = setOf(Sectors)
	categorySet = setOf(Categories)
	countrySet  = setOf(strings.Fields(countryCodes))
)

func setOf(xs []string) map[string]struct{} {
	m := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		m[x] = struct{}{}
	}
	return m
}

// IsSector reports whether s is a known sector name.
func IsSector(s string) bool { _, ok := sectorSet[s]; return ok }

// IsCategory reports whether s is a known taxonomy class/type.
func IsCategory(s string) bool { _, ok := categorySet[s]; return ok }

// IsCountry reports whether s is an ISO 3166-1 alpha-2 code (upper case) or EU.
func IsCountry(s string) bool { _, ok := countrySet[s]; return ok }

// categoryAliases are terms outside the taxonomy with a clear equivalent in it: eCSIRT
// types the RSIT renamed, and the words feeds use for a class of activity.
var categoryAliases = map[string]string{
	"malicious-code/malware":                "malicious-code/infected-system",
	"malicious-code/ransomware":             "malicious-code/infected-system",
	"malicious-code/trojan":                 "malicious-code/infected-system",
	"malicious-code/worm":                   "malicious-code/infected-system",
	"malicious-code/virus":                  "malicious-code/infected-system",
	"malicious-code/spyware":                "malicious-code/infected-system",
	"malicious-code/dialer":                 "malicious-code/infected-system",
	"malicious-code/rootkit":                "malicious-code/infected-system",
	"malicious-code/c2server":               "malicious-code/c2-server",
	"intrusions/compromised-system":         "intrusions/system-compromise",
	"intrusions/compromised-application":    "intrusions/application-compromise",
	"intrusions/privileged-account":         "intrusions/privileged-account-compromise",
	"intrusions/unprivileged-account":       "intrusions/unprivileged-account-compromise",
	"intrusion-attempts/exploit-known-vuln": "intrusion-attempts/exploit",
	"intrusion-attempts/login-attempts":     "intrusion-attempts/brute-force",
	"fraud/unauthorized-use-of-resources":   "fraud/unauthorised-use-of-resources",
	"ransomware":                            "malicious-code/infected-system",
	"malware":                               "malicious-code/infected-system",
	"c2":                                    "malicious-code/c2-server",
	"command-and-control":                   "malicious-code/c2-server",
	"botnet":                                "malicious-code/infected-system",
	"scanning":                              "information-gathering/scanner",
	"ddos":                                  "availability/ddos",
	"dos":                                   "availability/dos",
}

// MapCategory returns the taxonomy class/type a contributor's term stands for: the term
// itself, spelt with '-' for spaces and '_' and without case; a known alias (an eCSIRT type
// the RSIT renamed, "ransomware"); or the one class/type whose type part is the term
// ("phishing", "scanner"). It reports false when no equivalent is clear.
func MapCategory(term string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(term))
	t = strings.NewReplacer(" ", "-", "_", "-", " / ", "/").Replace(t)
	if IsCategory(t) {
		return t, true
	}
	if c, ok := categoryAliases[t]; ok {
		return c, true
	}
	squash := strings.NewReplacer("-", "").Replace
	found := ""
	for _, c := range Categories {
		_, typ, _ := strings.Cut(c, "/")
		if squash(c) == squash(t) {
			return c, true
		}
		if !strings.Contains(t, "/") && squash(typ) == squash(t) {
			if found != "" {
				return "", false
			}
			found = c
		}
	}
	return found, found != ""
}
