package misp

import (
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// TestAttributeTypes checks every attribute type COP reads: want lists the observables
// ("type:value") the attribute yields.
func TestAttributeTypes(t *testing.T) {
	f := func(typ, value string, want ...string) {
		t.Helper()
		obs, ok, err := observables(&attribute{Type: typ, Value: value})
		if !ok || err != nil {
			t.Fatalf("observables(%s %q): supported=%v err=%v", typ, value, ok, err)
		}
		var got []string
		for _, o := range obs {
			got = append(got, o.String())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("observables(%s %q) = %v, want %v", typ, value, got, want)
		}
	}
	h64, h40, h32 := strings.Repeat("ab", 32), strings.Repeat("cd", 20), strings.Repeat("ef", 16)
	f("ip-src", "198.51.100.1", "ipv4:198.51.100.1")
	f("ip-dst", "2001:DB8::1", "ipv6:2001:db8::1")
	f("ip-dst", "198.51.100.0/24", "cidr:198.51.100.0/24")
	f("ip-dst", "198.51.100.9/32", "ipv4:198.51.100.9")
	f("ip-dst", "198.51.100[.]2", "ipv4:198.51.100.2")
	f("ip-dst|port", "203.0.113.4|443", "ipv4:203.0.113.4")
	f("ip-src|port", "2001:db8::4|22", "ipv6:2001:db8::4")
	f("domain", "Evil[.]Example", "domain:evil.example")
	f("hostname", "www.evil.example.", "domain:www.evil.example")
	f("hostname|port", "www.evil.example|8080", "domain:www.evil.example")
	f("domain|ip", "evil.example|192.0.2.4", "ipv4:192.0.2.4", "domain:evil.example")
	f("url", "hxxp://evil[.]example/x", "url:http://evil.example/x")
	f("md5", strings.ToUpper(h32), "md5:"+h32)
	f("sha1", h40, "sha1:"+h40)
	f("sha256", h64, "sha256:"+h64)
	f("filename|md5", "a.exe|"+h32, "md5:"+h32)
	f("filename|sha1", "a.exe|"+h40, "sha1:"+h40)
	f("filename|sha256", "a.exe|"+h64, "sha256:"+h64)
	f("email", "x@evil.example", "email:x@evil.example")
	f("email-src", "X@Evil.Example", "email:x@evil.example")
	f("email-dst", "y[@]victim.example", "email:y@victim.example")
	f("vulnerability", "cve-2024-3400", "cve:CVE-2024-3400")
	f("AS", "AS64496", "asn:AS64496")
	f("AS", "64496", "asn:AS64496")
}

func TestAttributeMalformedValues(t *testing.T) {
	f := func(typ, value string) {
		t.Helper()
		if obs, ok, err := observables(&attribute{Type: typ, Value: value}); !ok || err == nil {
			t.Fatalf("observables(%s %q) = %v, %v, want an error", typ, value, obs, ok)
		}
	}
	f("ip-dst", "not-an-address")
	f("ip-dst|port", "192.0.2.1")
	f("domain|ip", "evil.example|999.1.1.1")
	f("filename|sha256", "a.exe")
	f("md5", "abc")
	f("vulnerability", "CVE-24")
	f("AS", "ASX")
}

func TestAttributeTypesCOPCannotRepresentAreSkipped(t *testing.T) {
	for _, typ := range []string{"comment", "text", "filename", "regkey", "mutex", "link", "user-agent", "yara"} {
		if _, ok, _ := observables(&attribute{Type: typ, Value: "x"}); ok {
			t.Errorf("type %s is supported, want skipped", typ)
		}
	}
}

func TestTags(t *testing.T) {
	f := func(tag string, check func(tagFacts) bool) {
		t.Helper()
		tf := tagFacts{confidence: -1}
		tf.add(tag)
		if !check(tf) {
			t.Fatalf("tag %q gave %+v", tag, tf)
		}
	}
	tlp := func(want event.TLP) func(tagFacts) bool { return func(f tagFacts) bool { return f.tlp == want } }
	f("tlp:white", tlp(event.TLPClear))
	f("tlp:clear", tlp(event.TLPClear))
	f("tlp:green", tlp(event.TLPGreen))
	f("TLP:AMBER", tlp(event.TLPAmber))
	f("tlp:amber+strict", tlp(event.TLPAmberStrict))
	f("tlp:red", tlp(event.TLPRed))
	f("tlp:ex:chr", tlp(event.TLPRed))
	f("tlp:unclear", tlp(0))
	f(`misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`, func(f tagFacts) bool { return len(f.techniques) == 1 && f.techniques[0] == "T1566.001" })
	f(`misp-galaxy:mitre-enterprise-attack-attack-pattern="Phishing - T1566"`, func(f tagFacts) bool { return len(f.techniques) == 1 && f.techniques[0] == "T1566" })
	f(`misp-galaxy:mitre-attack-pattern="Initial Access - TA0001"`, func(f tagFacts) bool { return len(f.techniques) == 0 })
	sector := func(want string) func(tagFacts) bool {
		return func(f tagFacts) bool { return len(f.sectors) == 1 && f.sectors[0] == want }
	}
	f(`misp-galaxy:sector="Energy"`, sector("energy"))
	f(`misp-galaxy:sector="Telecoms"`, sector("telecom"))
	f(`misp-galaxy:sector="Government, Administration"`, sector("public-administration"))
	f(`misp-galaxy:sector="Military"`, sector("defence"))
	f(`sector:energy`, sector("energy"))
	f(`sector:"Financial Services"`, sector("banking"))
	country := func(want string) func(tagFacts) bool {
		return func(f tagFacts) bool { return len(f.countries) == 1 && f.countries[0] == want }
	}
	f(`misp-galaxy:country="estonia"`, country("EE"))
	f(`misp-galaxy:country="Bosnia and Herzegovina"`, country("BA"))
	f(`country:EE`, country("EE"))
	f(`country:"kosovo"`, country("XK"))
	f(`country:"North Korea"`, country("KP"))
	cat := func(want string) func(tagFacts) bool { return func(f tagFacts) bool { return f.category == want } }
	f(`rsit:malicious-code="c2-server"`, cat("malicious-code/c2-server"))
	f(`ecsirt:malicious-code="c2server"`, cat("malicious-code/c2-server"))
	f(`ecsirt:availability="ddos"`, cat("availability/ddos"))
	f(`ecsirt:intrusions="compromised-system"`, cat("intrusions/system-compromise"))
	// Outside the taxonomy: kept for Validate to map or note in the summary (issue 18, point 10).
	f(`rsit:made-up="thing"`, cat("made-up/thing"))
	// A mitigation is not a technique (issue 18, point 5), nor a name.
	f(`misp-galaxy:mitre-course-of-action="Account Discovery Mitigation - T1087"`, func(f tagFacts) bool { return len(f.techniques) == 0 && len(f.names) == 0 })
	f(`misp-galaxy:mitre-enterprise-attack-course-of-action="Account Discovery Mitigation - T1087"`, func(f tagFacts) bool { return len(f.techniques) == 0 && len(f.names) == 0 })
	name := func(kind, want string) func(tagFacts) bool {
		return func(f tagFacts) bool { return len(f.names) == 1 && f.names[0] == event.Name{Kind: kind, Name: want} }
	}
	f(`misp-galaxy:threat-actor="Sofacy"`, name("threat-actor", "sofacy"))
	f(`misp-galaxy:ransomware="LockBit  3.0"`, name("malware", "lockbit 3.0"))
	f(`misp-galaxy:tool="Mimikatz"`, name("tool", "mimikatz"))
	f(`misp-galaxy:mitre-tool="Cobalt Strike - S0154"`, name("tool", "cobalt strike"))
	f(`misp-galaxy:mitre-malware="X-Agent - S0161"`, name("malware", "x-agent"))
	f(`misp-galaxy:mitre-intrusion-set="APT28 - G0007"`, name("intrusion-set", "apt28"))
	f(`misp-galaxy:mitre-enterprise-attack-intrusion-set="APT28 - G0007"`, name("intrusion-set", "apt28"))
	conf := func(want int) func(tagFacts) bool { return func(f tagFacts) bool { return f.confidence == want } }
	f(`misp:confidence-level="completely-confident"`, conf(100))
	f(`misp:confidence-level="rarely-confident"`, conf(25))
	f(`admiralty-scale:information-credibility="1"`, conf(90))
	f(`admiralty-scale:information-credibility="5"`, conf(10))
}

func TestEventDefaults(t *testing.T) {
	src := event.Source{Contributor: "fi-ncsc", ReceivedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	f := func(extra string, check func(event.Event) bool) {
		t.Helper()
		doc := `{"Event":{"uuid":"u-1","info":"x","date":"2026-02-01",` + extra +
			`"Attribute":[{"uuid":"a","type":"ip-dst","value":"192.0.2.1","to_ids":false}]}}`
		evs, errs := Parse([]byte(doc), src)
		if len(errs) != 0 || len(evs) != 1 || !check(evs[0]) {
			t.Fatalf("%s: got %+v, %v", extra, evs, errs)
		}
	}
	f(``, func(e event.Event) bool {
		return e.TLP == event.TLPAmber && e.Severity == event.SeverityMedium && e.Confidence == 50 && e.Kind == event.KindReport
	})
	f(`"distribution":"0",`, func(e event.Event) bool { return e.TLP == event.TLPAmberStrict })
	f(`"distribution":"1",`, func(e event.Event) bool { return e.TLP == event.TLPAmber })
	f(`"distribution":"2",`, func(e event.Event) bool { return e.TLP == event.TLPGreen })
	f(`"distribution":"3",`, func(e event.Event) bool { return e.TLP == event.TLPClear })
	f(`"distribution":"4",`, func(e event.Event) bool { return e.TLP == event.TLPAmberStrict })
	f(`"distribution":"3","Tag":[{"name":"tlp:red"}],`, func(e event.Event) bool { return e.TLP == event.TLPRed })
	f(`"threat_level_id":"1",`, func(e event.Event) bool { return e.Severity == event.SeverityHigh })
	f(`"threat_level_id":"2",`, func(e event.Event) bool { return e.Severity == event.SeverityMedium })
	f(`"threat_level_id":"3",`, func(e event.Event) bool { return e.Severity == event.SeverityLow })
	f(`"threat_level_id":"4",`, func(e event.Event) bool { return e.Severity == event.SeverityInfo })
	f(`"analysis":"0",`, func(e event.Event) bool { return e.Confidence == 40 })
	f(`"analysis":"1",`, func(e event.Event) bool { return e.Confidence == 60 })
	f(`"analysis":"2",`, func(e event.Event) bool { return e.Confidence == 80 })
	f(`"analysis":"2","Tag":[{"name":"misp:confidence-level=\"unconfident\""}],`, func(e event.Event) bool { return e.Confidence == 0 })
	f(`"contributor":"someone-else","Orgc":{"name":"someone-else"},`, func(e event.Event) bool {
		return e.Contributor == "fi-ncsc" && e.ID == event.Source{Contributor: "fi-ncsc"}.EventID("u-1") && e.SourceID == "u-1"
	})
}

func TestDocumentLimits(t *testing.T) {
	src := event.Source{Contributor: "c", ReceivedAt: time.Now()}
	deep := `{"Event":{"uuid":"u","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`
	if _, errs := Parse([]byte(deep), src); len(errs) != 1 || !strings.Contains(errs[0].Error(), "nested too deeply") {
		t.Fatalf("deep document: %v", errs)
	}
	many := `{"Event":{"uuid":"u","info":"x","date":"2026-02-01","Attribute":[` + strings.Repeat(`{},`, MaxAttributes) + `{}]}}`
	if _, errs := Parse([]byte(many), src); len(errs) != 1 || !strings.Contains(errs[0].Error(), "too many attributes") {
		t.Fatalf("large document: %v", errs)
	}
}
