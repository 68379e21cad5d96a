package native

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

var src = event.Source{Contributor: "ee-cert", ReceivedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}

const good = `{"id":"EE-2026-0042","kind":"incident","observed_at":"2026-11-23T09:30:00Z",
 "observables":[{"type":"ipv4","value":"203.0.113[.]7"},{"type":"domain","value":"Update.Grid-Ops[.]example"}],
 "category":"malicious-code/c2-server","techniques":["T1071.001"],"sectors":["energy"],"countries":["EE"],
 "geo":{"lat":59.43,"lon":24.75},"severity":"high","confidence":80,"tlp":"AMBER","releasable_to":["EUFOR-ALTHEA"],
 "title":"C2 beacons from grid operator workstations","summary":"Three substations."}`

func TestParseAcceptsEveryShape(t *testing.T) {
	f := func(doc string, want int) {
		t.Helper()
		evs, errs := Parse([]byte(doc), src)
		if len(errs) != 0 || len(evs) != want {
			t.Fatalf("Parse(%.40q) = %d events, errors %v; want %d", doc, len(evs), errs, want)
		}
		for _, e := range evs {
			if e.Contributor != src.Contributor || e.ID != src.EventID(e.SourceID) {
				t.Fatalf("contributor/id not from the source: %+v", e)
			}
		}
	}
	f(good, 1)
	f("["+good+","+strings.Replace(good, "0042", "0043", 1)+"]", 2)
	f(`{"events":[`+good+`]}`, 1)
}

func TestParseNormalises(t *testing.T) {
	evs, errs := Parse([]byte(good), src)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	e := evs[0]
	if e.Observables[0].Value != "203.0.113.7" || e.Observables[1].Value != "update.grid-ops.example" {
		t.Fatalf("observables not normalised: %v", e.Observables)
	}
	if e.TLP != event.TLPAmber || e.Severity != event.SeverityHigh || e.Confidence != 80 || e.ReleasableTo[0] != "EUFOR-ALTHEA" {
		t.Fatalf("markings: %+v", e)
	}
}

func TestParseDefaultsAreConservative(t *testing.T) {
	evs, errs := Parse([]byte(`{"id":"x","kind":"report","observed_at":"2026-11-23T09:30:00Z","severity":"low","title":"t"}`), src)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if evs[0].TLP != event.TLPAmber || evs[0].Confidence != 50 {
		t.Fatalf("defaults: tlp %v confidence %d; want AMBER and 50", evs[0].TLP, evs[0].Confidence)
	}
}

func TestParseRejectsWithReason(t *testing.T) {
	f := func(doc, wantInReason string) {
		t.Helper()
		evs, errs := Parse([]byte(doc), src)
		if len(evs) != 0 || len(errs) != 1 {
			t.Fatalf("Parse(%.60q) = %d events, %d errors; want 0 and 1", doc, len(evs), len(errs))
		}
		if !strings.Contains(errs[0].Error(), wantInReason) {
			t.Fatalf("reason %q lacks %q", errs[0], wantInReason)
		}
	}
	f(`not json`, "not a COP native JSON document")
	f(`{"id":"x","kind":"report","observed_at":"2026-11-2`, "unexpected EOF")
	f(`{"id":"x","kind":"report","observed_at":"2026-11-23T09:30:00Z","severity":"low","title":"t","contributor":"fr-comcyber"}`, `"contributor": not a field of COP's native format`)
	f(`{"id":"x","kind":"report","observed_at":"2026-11-23T09:30:00Z","severity":"low","title":"t","tlp":"PURPLE"}`, `"PURPLE"`)
	f(`{"id":"x","kind":"report","observed_at":"2026-11-23T09:30:00Z","severity":"low","title":"t","confidence":101}`, "confidence")
	f(`{"id":"x","kind":"indicator","observed_at":"2026-11-23T09:30:00Z","severity":"low","observables":[{"type":"ipv4","value":"1.2.3"}]}`, "observables[0]")
	f(`{"kind":"report","observed_at":"2026-11-23T09:30:00Z","severity":"low","title":"t"}`, "id: missing")
}

func TestPartlyValidArrayKeepsTheValid(t *testing.T) {
	evs, errs := Parse([]byte("["+good+`,{"id":"bad"}]`), src)
	if len(evs) != 1 || len(errs) != 1 || !errors.Is(errs[0], event.ErrInvalidEvent) {
		t.Fatalf("got %d events, errors %v", len(evs), errs)
	}
	if !strings.HasPrefix(errs[0].Error(), "event 1:") {
		t.Fatalf("error %q does not say which event", errs[0])
	}
}
