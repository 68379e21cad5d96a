package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewObservableNormalises(t *testing.T) {
	f := func(typ ObservableType, in, want string) {
		t.Helper()
		o, err := NewObservable(typ, in)
		if err != nil {
			t.Fatalf("NewObservable(%s, %q): %v", typ, in, err)
		}
		if o.Value != want {
			t.Fatalf("NewObservable(%s, %q) = %q, want %q", typ, in, o.Value, want)
		}
	}
	f(ObsIPv4, "203.0.113[.]7", "203.0.113.7")
	f(ObsIPv4, "::ffff:198.51.100.1", "198.51.100.1")
	f(ObsIPv6, "2001:DB8:0:0::1", "2001:db8::1")
	f(ObsCIDR, "192.0.2.77/24", "192.0.2.0/24")
	f(ObsDomain, "Evil[.]Example.COM.", "evil.example.com")
	f(ObsDomain, "bücher.example", "xn--bcher-kva.example")
	f(ObsURL, "hxxp://EVIL[.]example:80/a/b?x=1#frag", "http://evil.example/a/b?x=1")
	f(ObsURL, "hxxps[://]evil[.]example", "https://evil.example/")
	f(ObsURL, "evil.example/path", "http://evil.example/path")
	f(ObsEmail, "Phish[@]Mail[.]Example", "phish@mail.example")
	f(ObsIPv4, "203.0.113.7", "203.0.113.7")
	f(ObsIPv6, "2001:0db8:0000::1", "2001:db8::1")
	f(ObsIPv6, "2001:db8::1", "2001:db8::1")
	f(ObsIPv6, "2001:db8::1%eth0", "2001:db8::1")
	f(ObsSHA256, strings.Repeat("AB", 32), strings.Repeat("ab", 32))
	f(ObsSHA256, strings.Repeat("ab", 32), strings.Repeat("ab", 32))
	f(ObsMD5, strings.Repeat("0F", 16), strings.Repeat("0f", 16))
	f(ObsCVE, "cve-2024-3400", "CVE-2024-3400")
	f(ObsASN, "as64496", "AS64496")
	f(ObsASN, "64496", "AS64496")
}

func TestNewObservableRejects(t *testing.T) {
	f := func(typ ObservableType, in string) {
		t.Helper()
		if o, err := NewObservable(typ, in); err == nil {
			t.Fatalf("NewObservable(%s, %q) = %v, want an error", typ, in, o)
		} else if !errors.Is(err, ErrInvalidObservable) {
			t.Fatalf("error %v is not ErrInvalidObservable", err)
		}
	}
	f(ObsIPv4, "300.1.1.1")
	f(ObsIPv4, "2001:db8::1")
	f(ObsIPv6, "192.0.2.1")
	f(ObsDomain, "bad domain.example")
	f(ObsDomain, "")
	f(ObsSHA256, "abc")
	f(ObsSHA1, strings.Repeat("g", 40))
	f(ObsCVE, "CVE-24-1")
	f(ObsASN, "ASX")
	f(ObsEmail, "no-at-sign")
}

func TestGuessObservable(t *testing.T) {
	f := func(in string, want Observable) {
		t.Helper()
		o, err := GuessObservable(in)
		if err != nil || o != want {
			t.Fatalf("GuessObservable(%q) = %v, %v; want %v", in, o, err, want)
		}
	}
	f("198.51.100[.]4", Observable{ObsIPv4, "198.51.100.4"})
	f("2001:db8::7", Observable{ObsIPv6, "2001:db8::7"})
	f("10.0.0.0/8", Observable{ObsCIDR, "10.0.0.0/8"})
	f("hxxp://x[.]example/p", Observable{ObsURL, "http://x.example/p"})
	f(strings.Repeat("a", 40), Observable{ObsSHA1, strings.Repeat("a", 40)})
	f("CVE-2023-4966", Observable{ObsCVE, "CVE-2023-4966"})
	f("AS13335", Observable{ObsASN, "AS13335"})
	f("Example.ORG", Observable{ObsDomain, "example.org"})
}

func validEvent() Event {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	return Event{
		Contributor: "fr-comcyber", SourceID: "r-1", Kind: KindIndicator,
		ObservedAt: now.Add(-time.Hour), ReceivedAt: now,
		Observables: []Observable{{ObsIPv4, "203.0.113[.]7"}, {ObsIPv4, "203.0.113.7"}},
		Category:    "Malicious-Code/C2-Server", Techniques: []string{"t1071"},
		Sectors: []string{"Energy"}, Countries: []string{"ee", "EE"},
		Severity: SeverityHigh, Confidence: 80, TLP: TLPAmber, Title: " C2 ",
	}
}

func TestEventIDIsKeyed(t *testing.T) {
	a := Source{Contributor: "fr-comcyber", IDKey: []byte("key one")}
	b := Source{Contributor: "fr-comcyber", IDKey: []byte("key two")}
	if id := a.EventID("r-1"); len(id) != 32 || id != a.EventID("r-1") {
		t.Fatalf("id %q is not 32 stable hex digits", id)
	}
	if a.EventID("r-1") == b.EventID("r-1") {
		t.Error("the same report has the same id under two keys: the id does not depend on the key")
	}
	if a.EventID("r-1") == (Source{Contributor: "de-bsi", IDKey: a.IDKey}).EventID("r-1") {
		t.Error("two contributors' reports with the same local id collide")
	}
}

func TestValidateNormalisesValidEvent(t *testing.T) {
	e := validEvent()
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(e.Observables) != 1 || e.Observables[0].Value != "203.0.113.7" {
		t.Fatalf("observables %v: want one, refanged and deduplicated", e.Observables)
	}
	if e.Category != "malicious-code/c2-server" || e.Techniques[0] != "T1071" || e.Sectors[0] != "energy" ||
		len(e.Countries) != 1 || e.Countries[0] != "EE" || e.Title != "C2" {
		t.Fatalf("not normalised: %+v", e)
	}
}

func TestValidateNamesEachBadField(t *testing.T) {
	f := func(mutate func(*Event), field string) {
		t.Helper()
		e := validEvent()
		mutate(&e)
		err := e.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("want a FieldError for %s, got %v", field, err)
		}
		if !strings.Contains(err.Error(), field) {
			t.Fatalf("error %q does not name %s", err, field)
		}
	}
	f(func(e *Event) { e.Contributor = "" }, "contributor")
	f(func(e *Event) { e.SourceID = "" }, "id")
	f(func(e *Event) { e.Kind = 0 }, "kind")
	f(func(e *Event) { e.ObservedAt = time.Time{} }, "observed_at")
	f(func(e *Event) { e.ObservedAt = e.ReceivedAt.Add(48 * time.Hour) }, "observed_at")
	f(func(e *Event) { e.ValidUntil = e.ObservedAt.Add(-time.Second) }, "valid_until")
	f(func(e *Event) { e.Observables[0].Value = "999.1.1.1" }, "observables[0]")
	// A category outside the taxonomy is no longer an error (issue 18, point 10): see
	// TestValidateKeepsCategoriesOutsideTheTaxonomy.
	f(func(e *Event) { e.Names = []Name{{Kind: "nonsense", Name: "x"}} }, "names[0].kind")
	f(func(e *Event) { e.Techniques = []string{"X1"} }, "techniques[0]")
	f(func(e *Event) { e.Sectors = []string{"knitting"} }, "sectors[0]")
	f(func(e *Event) { e.Countries = []string{"XX"} }, "countries[0]")
	f(func(e *Event) { e.Geo = &Geo{Lat: 91} }, "geo")
	f(func(e *Event) { e.Severity = 0 }, "severity")
	f(func(e *Event) { e.Confidence = 101 }, "confidence")
	f(func(e *Event) { e.TLP = 0 }, "tlp")
	f(func(e *Event) { e.Exercise = "bad name!" }, "exercise")
	f(func(e *Event) { e.Title = ""; e.Observables = nil }, "title")
	f(func(e *Event) { e.Title = "\xff" }, "title")
}

func TestJSONRoundTrip(t *testing.T) {
	e := validEvent()
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"indicator"`, `"tlp":"AMBER"`, `"severity":"high"`, `"type":"ipv4"`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("%s lacks %s", b, want)
		}
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.TLP != e.TLP || back.Observables[0] != e.Observables[0] || !back.ObservedAt.Equal(e.ObservedAt) {
		t.Fatalf("round trip: %+v != %+v", back, e)
	}
}

func TestParseTLPAcceptsVersion1Names(t *testing.T) {
	f := func(in string, want TLP) {
		t.Helper()
		if got, err := ParseTLP(in); err != nil || got != want {
			t.Fatalf("ParseTLP(%q) = %v, %v", in, got, err)
		}
	}
	f("TLP:WHITE", TLPClear)
	f("tlp:amber+strict", TLPAmberStrict)
	f("RED", TLPRed)
	f("green", TLPGreen)
}

func TestValidateNormalisesAndBoundsNames(t *testing.T) {
	e := validEvent()
	e.Names = []Name{
		{Kind: "Intrusion-Set", Name: "  APT\t 28 "}, {Kind: "intrusion-set", Name: "apt 28"},
		{Kind: "malware", Name: "Emotet"}, {Kind: "tool", Name: "emotet"},
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Name{{Kind: "intrusion-set", Name: "apt 28"}, {Kind: "malware", Name: "emotet"}, {Kind: "tool", Name: "emotet"}}
	if !reflect.DeepEqual(e.Names, want) {
		t.Fatalf("names %+v, want %+v", e.Names, want)
	}
	for _, c := range []struct {
		names []Name
		want  string
	}{
		{[]Name{{Kind: "course-of-action", Name: "x"}}, `names[0].kind: "course-of-action": want one of campaign, intrusion-set, threat-actor, malware, tool`},
		{[]Name{{Kind: "malware", Name: " \t "}}, "names[0].name: missing: want the name of the malware"},
		{[]Name{{Kind: "tool", Name: strings.Repeat("x", MaxNameLen+1)}}, "names[0].name: 129 bytes, at most 128"},
		{make([]Name, MaxNames+1), "names: 65 names, at most 64"},
	} {
		e := validEvent()
		e.Names = c.names
		err := e.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("names %.40v: error %v, want %q", c.names, err, c.want)
		}
	}
}

func TestValidateKeepsCategoriesOutsideTheTaxonomy(t *testing.T) {
	for _, c := range []struct{ in, cat, note string }{
		{"malicious-code/ransomware", "malicious-code/infected-system", `Contributor's category "malicious-code/ransomware" is not in the Reference Security Incident Taxonomy; mapped to malicious-code/infected-system.`},
		{"Phishing", "fraud/phishing", `Contributor's category "phishing" is not in the Reference Security Incident Taxonomy; mapped to fraud/phishing.`},
		{"Payload delivery", "", `Contributor's category "payload delivery" is not in the Reference Security Incident Taxonomy; no equivalent, kept here only.`},
		{"Availability/DDoS", "availability/ddos", ""},
	} {
		e := validEvent()
		e.Category, e.Summary = c.in, ""
		if err := e.Validate(); err != nil {
			t.Fatalf("category %q: %v", c.in, err)
		}
		if e.Category != c.cat || e.Summary != c.note {
			t.Errorf("category %q: got %q, summary %q; want %q, %q", c.in, e.Category, e.Summary, c.cat, c.note)
		}
		if err := e.Validate(); err != nil || e.Summary != c.note {
			t.Errorf("category %q: second Validate changed the summary to %q (%v)", c.in, e.Summary, err)
		}
	}
}
