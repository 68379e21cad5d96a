package access

import (
	"testing"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/event"
)

func TestCanSeeMarkingRules(t *testing.T) {
	cmdr := &Identity{Name: "cmdr-althea", Role: RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{"CYDEF-X"}}
	f := func(name string, m Marked, exercise string, want bool) {
		t.Helper()
		if got := cmdr.CanSee(m, exercise); got != want {
			t.Errorf("%s: CanSee = %v, want %v", name, got, want)
		}
	}
	f("green", Marked{TLP: event.TLPGreen}, "", true)
	f("amber at ceiling", Marked{TLP: event.TLPAmber}, "", true)
	f("amber+strict above ceiling", Marked{TLP: event.TLPAmberStrict}, "", false)
	f("unmarked", Marked{}, "", false)
	f("red named but above ceiling", Marked{TLP: event.TLPRed, ReleasableTo: []string{"CMDR-ALTHEA"}}, "", false)
	f("releasable to the identity", Marked{TLP: event.TLPGreen, ReleasableTo: []string{"CMDR-ALTHEA"}}, "", true)
	f("releasable to its mission", Marked{TLP: event.TLPGreen, ReleasableTo: []string{"EUFOR-ALTHEA"}}, "", true)
	f("releasable to others", Marked{TLP: event.TLPGreen, ReleasableTo: []string{"EUAM-UKRAINE", "CERT-EU"}}, "", false)
	f("exercise in the real picture", Marked{TLP: event.TLPGreen, Exercise: "CYDEF-X"}, "", false)
	f("real in the exercise picture", Marked{TLP: event.TLPGreen}, "CYDEF-X", false)
	f("exercise in its picture", Marked{TLP: event.TLPGreen, Exercise: "CYDEF-X"}, "CYDEF-X", true)

	red := &Identity{Name: "analyst-1", Role: RoleAnalyst, MaxTLP: event.TLPRed}
	if red.CanSee(Marked{TLP: event.TLPRed}, "") {
		t.Error("RED without recipients shown to a RED-cleared analyst")
	}
	if !red.CanSee(Marked{TLP: event.TLPRed, ReleasableTo: []string{"ANALYST-1"}}, "") {
		t.Error("RED named to analyst-1 hidden from it")
	}
	if red.CanSee(Marked{TLP: event.TLPRed, ReleasableTo: []string{"ANALYST-2"}}, "") {
		t.Error("RED named to analyst-2 shown to analyst-1")
	}
}

func TestRedactPseudonymsAreStablePerViewerAndContributorSeesItself(t *testing.T) {
	s := correlate.Situation{Contributors: []correlate.Contributor{{Name: "milcert-ee", Anonymise: true}, {Name: "cert-eu"}}}
	a := &Identity{Name: "cmdr-a", Role: RoleCommander}
	b := &Identity{Name: "cmdr-b", Role: RoleCommander}
	ra, ra2, rb := a.Redact(s), a.Redact(s), b.Redact(s)
	if ra.Contributors[0].Name == "milcert-ee" || rb.Contributors[0].Name == "milcert-ee" {
		t.Fatal("anonymised contributor named")
	}
	if ra.Contributors[0].Name != ra2.Contributors[0].Name {
		t.Error("pseudonym not stable for one viewer")
	}
	if ra.Contributors[0].Name == rb.Contributors[0].Name {
		t.Error("two viewers got the same pseudonym (linkable across viewers)")
	}
	if ra.Contributors[1].Name != "cert-eu" {
		t.Error("non-anonymised contributor renamed")
	}
	if s.Contributors[0].Name != "milcert-ee" {
		t.Error("Redact changed the shared situation")
	}
	self := &Identity{Name: "milcert-ee", Role: RoleCommander}
	if got := self.Redact(s).Contributors[0].Name; got != "milcert-ee" {
		t.Errorf("contributor sees itself as %q", got)
	}
}

func TestRecipientsAreNameAndMissionsUpperCase(t *testing.T) {
	id := &Identity{Name: "cmdr-althea", Missions: []string{"EUFOR-ALTHEA", "eulex-kosovo"}}
	got := id.Recipients()
	want := []string{"CMDR-ALTHEA", "EUFOR-ALTHEA", "EULEX-KOSOVO"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}
