package groundtruth

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
)

// commanders are the demo's viewers (cmd/cop demoViewers).
var viewers = []access.Identity{
	{Name: "admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	{Name: "analyst", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict},
	{Name: "cdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}},
	{Name: "cdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUNAVFOR-ATALANTA", "EUNAVFOR-ASPIDES"}},
}

func TestMeasureCountsFragmentationImpurityAndPrecision(t *testing.T) {
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	truth := Truth{Campaigns: campaigns(), Labels: map[string]Label{}}
	var evs []event.Event
	add := func(l Label, sev event.Severity, ip string) {
		src := fmt.Sprintf("r%d", len(evs))
		ev := event.Event{ID: event.Source{Contributor: "ee-cert"}.EventID(src), Contributor: "ee-cert", SourceID: src,
			Kind: event.KindIncident, ObservedAt: at, ReceivedAt: at, Severity: sev, Confidence: 80, TLP: event.TLPGreen,
			Countries: []string{"BA"}, Title: "report " + src, Observables: []event.Observable{{Type: event.ObsIPv4, Value: ip}}}
		truth.Labels[ev.ID] = l
		evs = append(evs, ev)
	}
	add(Label{Campaign: "campaign-01"}, event.SeverityCritical, "100.64.0.1")
	add(Label{Campaign: "campaign-01", Wave: 1}, event.SeverityHigh, "100.64.1.1")
	add(Label{Campaign: "campaign-02"}, event.SeverityHigh, "100.64.0.1") // joins the first: mixed
	add(Label{Noise: true, Incident: 1}, event.SeverityLow, "100.96.0.1")

	r := Measure(evs, truth, viewers, 2)
	want := Report{Events: 4, Situations: 3, Campaigns: 2, FragmentationMean: 1.5, FragmentationMax: 2,
		Impurity: 0.5, MixedEvents: 2.0 / 3, Critical: 1.0 / 3, DistinctTop20: r.DistinctTop20, TiesAtTop: r.TiesAtTop,
		// No two situations share a /24 or a domain: no COP campaign, three top-level items.
		// Two high-or-critical situations stand alone; the low noise is a background count.
		TopLevel: 3, ItemFragmentationMean: 1.5, ItemFragmentationMax: 2, Standalone: 2, Background: 1,
		// campaign-01's two events are in the two standalone situations (one of them
		// mixed), campaign-02's one in the mixed one.
		Detail: []TrueDetail{{ID: "campaign-01", Events: 2, Standalone: 2, Largest: 0.5}, {ID: "campaign-02", Events: 1, Standalone: 1, Largest: 1}}}
	got := r
	got.Precision, got.Snapshots, got.ListPrecision, got.Tops, got.Top20 = nil, nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report\n%+v\nwant\n%+v", got, want)
	}
	// EUFOR Althea: campaign-01 (energy) is in its true top ten, campaign-02 is not, and
	// the mixed situation is campaign-01's on the tie; the noise situation is a miss.
	if p := r.Precision[0]; p.Mission != "EUFOR-ALTHEA" || p.Shown != 3 || math.Abs(p.At10-2.0/3) > 1e-9 {
		t.Fatalf("precision %+v, want EUFOR-ALTHEA with 2 of 3", p)
	}
	if p := r.Precision[1]; p.Shown != 0 || p.At10 != 0 {
		t.Fatalf("precision %+v, want an empty Atalanta view scoring 0", p)
	}
	// The list of Althea's view: three items, one true top-ten campaign in the view, so
	// its first item is judged, and it is campaign-01's (critical, first).
	if p := r.ListPrecision[0]; p.Shown != 1 || p.Relevant != 1 || p.At10 != 1 {
		t.Fatalf("list precision %+v, want 1 of 1", p)
	}
	if p := r.ListPrecision[1]; p.Shown != 0 || p.At10 != 0 {
		t.Fatalf("list precision %+v, want an empty Atalanta list scoring 0", p)
	}
	if len(r.Snapshots) != 5 || r.Snapshots[0].Situations != 3 || r.Snapshots[0].Bytes < 100 || r.Snapshots[3].Bytes != 2 {
		t.Fatalf("snapshots %+v, want 5 views, admin's 3 situations, Atalanta's empty ([])", r.Snapshots)
	}
}

func TestMeasureOnGeneratedTrafficKeepsItsInvariants(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	r := Measure(evs, truth, viewers, 5000)
	if r2 := Measure(evs, truth, viewers, 5000); !reflect.DeepEqual(r, r2) {
		t.Fatalf("two measurements of the same traffic differ:\n%+v\n%+v", r, r2)
	}
	if r.Events != 20000 || r.Campaigns != 12 || r.Situations < 12 {
		t.Fatalf("%d events, %d campaigns, %d situations", r.Events, r.Campaigns, r.Situations)
	}
	if r.FragmentationMean < 1 || float64(r.FragmentationMax) < r.FragmentationMean {
		t.Fatalf("fragmentation mean %.2f max %d", r.FragmentationMean, r.FragmentationMax)
	}
	for name, x := range map[string]float64{"impurity": r.Impurity, "noise mixed": r.NoiseMixed, "critical": r.Critical} {
		if x < 0 || x > 1 {
			t.Errorf("%s %.3f is not a share", name, x)
		}
	}
	if r.DistinctTop20 < 1 || r.DistinctTop20 > 20 || r.TiesAtTop < 1 {
		t.Errorf("distinct %d, ties %d", r.DistinctTop20, r.TiesAtTop)
	}
	if len(r.Precision) != 3 || len(r.Snapshots) != 5 {
		t.Fatalf("%d precision rows, %d snapshots, want 3 and 5", len(r.Precision), len(r.Snapshots))
	}
	for _, p := range r.Precision {
		if p.At10 < 0 || p.At10 > 1 || p.Shown > 10 {
			t.Errorf("precision %+v", p)
		}
	}
	if r.Snapshots[0].Situations != r.Situations {
		t.Errorf("admin sees %d of %d situations", r.Snapshots[0].Situations, r.Situations)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"COP campaigns (picture.GroupCampaigns)", "top-level items per true campaign", "precision@10 cdr-atalanta EUNAVFOR-ASPIDES", "snapshot bytes admin (all)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestMeasureFollowsMergedSituations(t *testing.T) {
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	truth := Truth{Campaigns: campaigns(), Labels: map[string]Label{}}
	var evs []event.Event
	add := func(campaign string, ips ...string) {
		src := fmt.Sprintf("r%d", len(evs))
		ev := event.Event{ID: event.Source{Contributor: "ee-cert"}.EventID(src), Contributor: "ee-cert", SourceID: src,
			Kind: event.KindIncident, ObservedAt: at, ReceivedAt: at, Severity: event.SeverityHigh, Confidence: 80,
			TLP: event.TLPGreen, Title: "report " + src}
		for _, ip := range ips {
			ev.Observables = append(ev.Observables, event.Observable{Type: event.ObsIPv4, Value: ip})
		}
		truth.Labels[ev.ID] = Label{Campaign: campaign}
		evs = append(evs, ev)
	}
	add("campaign-02", "100.64.0.1")
	add("campaign-03", "100.64.1.1")
	add("campaign-01", "100.64.0.1", "100.64.1.1") // next batch: bridges the two
	r := Measure(evs, truth, nil, 2)
	if r.Situations != 1 || r.Campaigns != 3 || r.Impurity != 1 || r.FragmentationMax != 1 {
		t.Fatalf("%+v, want one situation holding the three campaigns", r)
	}
}
