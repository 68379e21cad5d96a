package stix

import (
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// TestPatternObservables checks every pattern form COP reads: want lists the observables
// ("type:value") the pattern yields, in order.
func TestPatternObservables(t *testing.T) {
	f := func(pattern string, want ...string) {
		t.Helper()
		var fs facts
		if err := fs.addPattern(pattern); err != nil {
			t.Fatalf("addPattern(%q): %v", pattern, err)
		}
		var got []string
		for _, o := range fs.obs {
			got = append(got, o.String())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("addPattern(%q) = %v, want %v", pattern, got, want)
		}
	}
	f("[ipv4-addr:value = '198.51.100.1']", "ipv4:198.51.100.1")
	f("[ipv4-addr:value = '198.51.100.0/24']", "cidr:198.51.100.0/24")
	f("[ipv4-addr:value = '198.51.100.1/32']", "ipv4:198.51.100.1")
	f("[ipv6-addr:value = '2001:DB8::1']", "ipv6:2001:db8::1")
	f("[ipv6-addr:value = '2001:db8::/32']", "cidr:2001:db8::/32")
	f("[domain-name:value = 'Evil.Example']", "domain:evil.example")
	f("[url:value = 'http://evil.example/a']", "url:http://evil.example/a")
	f("[email-addr:value = 'a@evil.example']", "email:a@evil.example")
	f("[email-message:from_ref.value = 'b@evil.example' AND email-message:to_refs[*].value = 'c@victim.example']",
		"email:b@evil.example", "email:c@victim.example")
	f("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']", "md5:0123456789abcdef0123456789abcdef")
	f("[file:hashes.'SHA-1' = '0123456789abcdef0123456789abcdef01234567']", "sha1:0123456789abcdef0123456789abcdef01234567")
	f("[file:hashes.'SHA-256' = '"+strings.Repeat("ab", 32)+"']", "sha256:"+strings.Repeat("ab", 32))
	f("[file:hashes.SHA256 = '"+strings.Repeat("AB", 32)+"']", "sha256:"+strings.Repeat("ab", 32))
	f("[autonomous-system:number = 64496]", "asn:AS64496")
	f("[network-traffic:dst_ref.value = '203.0.113.5']", "ipv4:203.0.113.5")
	f("[ipv4-addr:value = '192.0.2.1'] AND [ipv4-addr:value = '192.0.2.2']", "ipv4:192.0.2.1", "ipv4:192.0.2.2")
	f("[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2']", "ipv4:192.0.2.1", "ipv4:192.0.2.2")
	f("([ipv4-addr:value = '192.0.2.1'] OR ([domain-name:value = 'a.example'] AND [url:value = 'http://a.example/'])) FOLLOWEDBY [ipv4-addr:value = '192.0.2.3']",
		"ipv4:192.0.2.1", "domain:a.example", "url:http://a.example/", "ipv4:192.0.2.3")
	f("[(ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2') AND domain-name:value = 'b.example']",
		"ipv4:192.0.2.1", "ipv4:192.0.2.2", "domain:b.example")
	f("[ipv4-addr:value = '192.0.2.1'] WITHIN 300 SECONDS", "ipv4:192.0.2.1")
	f("[ipv4-addr:value = '192.0.2.1'] REPEATS 5 TIMES WITHIN 1.5 SECONDS", "ipv4:192.0.2.1")
	f("[ipv4-addr:value = '192.0.2.1'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'", "ipv4:192.0.2.1")
	f("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]", "ipv4:192.0.2.1", "ipv4:192.0.2.2")
	// Operators other than '=' (and IN) name no observable.
	f("[ipv4-addr:value != '192.0.2.1']")
	f("[ipv4-addr:value NOT = '192.0.2.1']")
	f("[url:value MATCHES '^http://evil']")
	f("[domain-name:value LIKE '%.evil.example']")
	f("[ipv4-addr:value ISSUBSET '192.0.2.0/24']")
	f("[file:size > 1024]")
	f("[EXISTS file:name]")
	f("[file:name = 'invoice.exe']")
	f("[domain-name:value = 'it\\'s.example']") // escaped quote: not a domain, dropped
	f("[x-custom:value = 'anything']")
}

func TestPatternSyntaxErrors(t *testing.T) {
	f := func(pattern string) {
		t.Helper()
		if cmps, err := parsePattern(pattern); err == nil {
			t.Fatalf("parsePattern(%q) = %v, want an error", pattern, cmps)
		}
	}
	f("")
	f("ipv4-addr:value = '192.0.2.1'")
	f("[ipv4-addr:value = '192.0.2.1'")
	f("[ipv4-addr:value = '192.0.2.1]")
	f("[ipv4-addr:value '192.0.2.1']")
	f("[ipv4-addr = '192.0.2.1']")
	f("[ipv4-addr:value = '192.0.2.1'] AND")
	f("[ipv4-addr:value = '192.0.2.1'] WITHIN SECONDS")
	f("[ipv4-addr:value = '192.0.2.1'] REPEATS 2")
	f("[ipv4-addr:value IN ('192.0.2.1',)]")
	f("[a:b[x] = 1]")
	f(strings.Repeat("(", 200) + "[a:b = 1]" + strings.Repeat(")", 200))
	f("[ipv4-addr:value = '192.0.2.1'] extra")
}

func TestIndicatorWithoutObservableIsRejectedWithReason(t *testing.T) {
	doc := `{"type":"indicator","spec_version":"2.1","id":"indicator--1","created":"2026-02-01T00:00:00Z",
		"pattern":"[url:value MATCHES 'x']","pattern_type":"stix","valid_from":"2026-02-01T00:00:00Z"}`
	evs, errs := Parse([]byte(doc), event.Source{Contributor: "c", ReceivedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if len(evs) != 0 || len(errs) != 1 {
		t.Fatalf("got %d events, %v", len(evs), errs)
	}
	for _, want := range []string{"indicator--1", "pattern", "no observable", "1 comparisons skipped"} {
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("error %q does not mention %q", errs[0], want)
		}
	}
}

func TestContributorNeverFromPayload(t *testing.T) {
	doc := `{"type":"indicator","spec_version":"2.1","id":"indicator--2","created":"2026-02-01T00:00:00Z",
		"created_by_ref":"identity--x","x_cop_contributor":"someone-else","contributor":"someone-else",
		"pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2026-02-01T00:00:00Z"}`
	evs, errs := Parse([]byte(doc), event.Source{Contributor: "lv-cert", ReceivedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if len(errs) != 0 || len(evs) != 1 || evs[0].Contributor != "lv-cert" || evs[0].ID != (event.Source{Contributor: "lv-cert"}).EventID("indicator--2") {
		t.Fatalf("got %+v, %v", evs, errs)
	}
}

func TestDocumentLimits(t *testing.T) {
	src := event.Source{Contributor: "c", ReceivedAt: time.Now()}
	deep := `{"type":"bundle","id":"bundle--1","objects":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]}`
	if _, errs := Parse([]byte(deep), src); len(errs) != 1 || !strings.Contains(errs[0].Error(), "nested too deeply") {
		t.Fatalf("deep document: %v", errs)
	}
	many := `{"type":"bundle","id":"bundle--1","objects":[` + strings.Repeat(`{},`, MaxObjects) + `{}]}`
	if _, errs := Parse([]byte(many), src); len(errs) != 1 || !strings.Contains(errs[0].Error(), "too many objects") {
		t.Fatalf("large document: %v", errs)
	}
}

// FuzzPattern checks that the pattern parser never panics.
func FuzzPattern(f *testing.F) {
	f.Add("[ipv4-addr:value = '192.0.2.1'] AND ([file:hashes.'SHA-256' = 'ab'] OR [url:value IN ('a','b')]) WITHIN 5 SECONDS")
	f.Add("[a:b[*].c NOT LIKE 'x' AND (EXISTS d:e OR f:g > 3.5)] START t'2026-01-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'")
	f.Fuzz(func(t *testing.T, s string) {
		var fs facts
		_ = fs.addPattern(s)
	})
}
