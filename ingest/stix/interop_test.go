package stix

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
)

// The constructs of real STIX 2.1 files (MISP's export, OASIS examples) that COP lost
// values on (issue 18). Each builds a small bundle around one construct.

const ts = `"created": "2026-02-10T09:00:00.000Z", "modified": "2026-02-10T09:00:00.000Z"`

func bundleOf(objs ...string) []byte {
	return []byte(`{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [` + strings.Join(objs, ",") + `]}`)
}

func indicator(id, pattern, extra string) string {
	return `{"type": "indicator", "spec_version": "2.1", "id": "indicator--` + id + `", ` + ts +
		`, "pattern_type": "stix", "valid_from": "2026-02-10T09:00:00Z", "pattern": "` + pattern + `"` + extra + `}`
}

func parseOK(t *testing.T, doc []byte) []event.Event {
	t.Helper()
	evs, errs := Parse(doc, testSource)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	return evs
}

func values(ev event.Event) []string {
	var vs []string
	for _, o := range ev.Observables {
		vs = append(vs, o.String())
	}
	return vs
}

func TestDomainResolvesToRefsGivesTheAddress(t *testing.T) { // issue 18, point 1
	evs := parseOK(t, bundleOf(indicator("1", `[domain-name:value = 'portal.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.14']`, ""),
		indicator("2", `[domain-name:value = 'www.5z8.example' AND domain-name:resolves_to_refs[0].value = '198.51.100.1/32']`, "")))
	if got := values(evs[0]); !slices.Equal(got, []string{"domain:portal.example", "ipv4:198.51.100.14"}) {
		t.Errorf("domain|ip: %v", got)
	}
	if got := values(evs[1]); !slices.Equal(got, []string{"domain:www.5z8.example", "ipv4:198.51.100.1"}) {
		t.Errorf("resolves_to_refs[0] with /32: %v", got)
	}
}

func TestNetworkTrafficRefTypedAsDomain(t *testing.T) { // issue 18, point 2
	evs := parseOK(t, bundleOf(
		indicator("1", `[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`, ""),
		indicator("2", `[network-traffic:dst_ref.value = 'relay.example' AND network-traffic:src_ref.value = '2001:db8::7']`, ""),
		indicator("3", `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.3']`, "")))
	want := [][]string{{"domain:example.com"}, {"domain:relay.example", "ipv6:2001:db8::7"}, {"ipv4:198.51.100.3"}}
	for i, ev := range evs {
		if got := values(ev); !slices.Equal(got, want[i]) {
			t.Errorf("indicator %d: %v, want %v", i+1, got, want[i])
		}
	}
}

func TestLargeIOCListSplitLosingNone(t *testing.T) { // issue 18, point 3
	var vals []string
	for i := range 2500 {
		vals = append(vals, fmt.Sprintf(`'198.18.%d.%d'`, i/250, i%250+1))
	}
	vals = append(vals, vals[:10]...) // duplicates do not count
	evs := parseOK(t, bundleOf(indicator("1", `[ipv4-addr:value IN (`+strings.Join(vals, ", ")+`)]`, `, "name": "Appendix"`)))
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	seen := map[string]bool{}
	for k, ev := range evs {
		wantID := "indicator--1"
		if k > 0 {
			wantID += fmt.Sprintf("#%d", k+1)
		}
		if ev.SourceID != wantID || ev.ID != testSource.EventID(wantID) || !strings.HasSuffix(ev.Title, fmt.Sprintf("(part %d of 3)", k+1)) {
			t.Errorf("part %d: source id %q, title %q", k+1, ev.SourceID, ev.Title)
		}
		for _, v := range values(ev) {
			seen[v] = true
		}
	}
	if len(seen) != 2500 {
		t.Errorf("%d distinct observables kept, want 2500", len(seen))
	}
}

func TestGroupingIsAReport(t *testing.T) { // issue 18, point 8
	evs := parseOK(t, bundleOf(indicator("1", `[domain-name:value = 'domain autuo.xicp.net'] OR [domain-name:value = 'autuo.xicp.example']`, ""),
		`{"type": "grouping", "spec_version": "2.1", "id": "grouping--1", `+ts+`, "name": "MISP event", "context": "suspicious-activity", "object_refs": ["indicator--1"]}`))
	if len(evs) != 2 || evs[1].Kind != event.KindReport || evs[1].Title != "MISP event" {
		t.Fatalf("want the indicator and the grouping as a report: %+v", evs)
	}
	for _, ev := range evs {
		if !strings.Contains(ev.Summary, `Dropped 1 value that is not a valid observable (the first: invalid observable domain "domain autuo.xicp.net"`) {
			t.Errorf("%s: summary %q does not name the dropped value", ev.SourceID, ev.Summary)
		}
	}
}

func TestGranularMarkingTLPHolds(t *testing.T) { // issue 18, point 9
	red := `marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed`
	evs := parseOK(t, bundleOf(indicator("1", `[ipv4-addr:value = '198.51.100.9']`,
		`, "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"], "granular_markings": [{"marking_ref": "`+red+`", "selectors": ["pattern"]}]`),
		`{"type": "report", "spec_version": "2.1", "id": "report--1", `+ts+`, "name": "r", "published": "2026-02-10T09:00:00Z", "object_refs": ["indicator--1"]}`))
	for _, ev := range evs {
		if ev.TLP != event.TLPRed {
			t.Errorf("%s: TLP %v, want RED from the granular marking", ev.SourceID, ev.TLP)
		}
	}
}

func TestCategoryOutsideTheTaxonomyKeepsTheEvent(t *testing.T) { // issue 18, point 10
	evs := parseOK(t, bundleOf(indicator("1", `[ipv4-addr:value = '198.51.100.9']`, `, "x_cop_category": "malicious-code/ransomware"`),
		indicator("2", `[ipv4-addr:value = '198.51.100.10']`, `, "x_cop_category": "Payload delivery"`)))
	if evs[0].Category != "malicious-code/infected-system" || !strings.Contains(evs[0].Summary, `"malicious-code/ransomware"`) {
		t.Errorf("ransomware: %q, %q", evs[0].Category, evs[0].Summary)
	}
	if evs[1].Category != "" || !strings.Contains(evs[1].Summary, `"payload delivery"`) {
		t.Errorf("free word: %q, %q", evs[1].Category, evs[1].Summary)
	}
}

func TestNamesFromRelatedObjects(t *testing.T) {
	evs := parseOK(t, bundleOf(indicator("1", `[ipv4-addr:value = '198.51.100.9']`, ""),
		`{"type": "malware", "spec_version": "2.1", "id": "malware--1", `+ts+`, "name": " X-Agent ", "is_family": true}`,
		`{"type": "intrusion-set", "spec_version": "2.1", "id": "intrusion-set--1", `+ts+`, "name": "APT28"}`,
		`{"type": "course-of-action", "spec_version": "2.1", "id": "course-of-action--1", `+ts+`, "name": "Patch"}`,
		`{"type": "relationship", "spec_version": "2.1", "id": "relationship--1", `+ts+`, "relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": "malware--1"}`,
		`{"type": "relationship", "spec_version": "2.1", "id": "relationship--2", `+ts+`, "relationship_type": "uses", "source_ref": "intrusion-set--1", "target_ref": "malware--1"}`,
		`{"type": "relationship", "spec_version": "2.1", "id": "relationship--3", `+ts+`, "relationship_type": "mitigates", "source_ref": "course-of-action--1", "target_ref": "indicator--1"}`,
		`{"type": "report", "spec_version": "2.1", "id": "report--1", `+ts+`, "name": "r", "published": "2026-02-10T09:00:00Z", "object_refs": ["intrusion-set--1", "course-of-action--1"]}`))
	want := []event.Name{{Kind: "malware", Name: "x-agent"}, {Kind: "intrusion-set", Name: "apt28"}}
	if !slices.Equal(evs[0].Names, want) {
		t.Errorf("indicator names %v, want %v", evs[0].Names, want)
	}
	// The report names the set, and through its uses relationship the malware.
	if !slices.Equal(evs[1].Names, []event.Name{{Kind: "intrusion-set", Name: "apt28"}, {Kind: "malware", Name: "x-agent"}}) || len(evs[1].Observables) != 0 {
		t.Errorf("a report naming only an intrusion set: %+v", evs[1])
	}
}

func TestEmailRecipientsAllRead(t *testing.T) {
	evs := parseOK(t, bundleOf(indicator("1", `[email-message:from_ref.value = 'a@mail.example' AND email-message:to_refs[*].value = 'b@mail.example' AND email-message:cc_refs[0].value = 'c@mail.example' AND email-message:bcc_refs[*].value = 'd@mail.example']`, "")))
	if got := values(evs[0]); len(got) != 4 {
		t.Errorf("observables %v, want the four addresses", got)
	}
}
