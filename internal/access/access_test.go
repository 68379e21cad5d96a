package access

import (
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/picture"
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

func testAnonymiser(secret byte) Anonymiser {
	k := make([]byte, keys.Size)
	k[0] = secret
	return Anonymiser{Keys: keys.Fixed(keys.Set{IDs: keys.Key{Secret: k}, Pseudonyms: keys.Key{Secret: k}})}
}

// anonymised returns the name shown for the situation's one anonymised contributor.
func anonymised(t *testing.T, s picture.Situation) string {
	t.Helper()
	for _, c := range s.Contributors {
		if c.Anonymise {
			return c.Name
		}
	}
	t.Fatal("no anonymised contributor")
	return ""
}

func TestRedactPseudonymsAreStablePerViewerAndContributorSeesItself(t *testing.T) {
	an := testAnonymiser(1)
	s := picture.Situation{Contributors: []picture.Contributor{{Name: "milcert-ee", Anonymise: true}, {Name: "cert-eu"}}}
	a := &Identity{Name: "cmdr-a", Role: RoleCommander}
	b := &Identity{Name: "cmdr-b", Role: RoleCommander}
	ra, ra2, rb := an.Redact(a, s), an.Redact(a, s), an.Redact(b, s)
	if anonymised(t, ra) == "milcert-ee" || anonymised(t, rb) == "milcert-ee" {
		t.Fatal("anonymised contributor named")
	}
	if anonymised(t, ra) != anonymised(t, ra2) {
		t.Error("pseudonym not stable for one viewer")
	}
	if anonymised(t, ra) == anonymised(t, rb) {
		t.Error("two viewers got the same pseudonym (linkable across viewers)")
	}
	if ra.Contributors[0].Name != "cert-eu" {
		t.Error("non-anonymised contributor renamed")
	}
	if s.Contributors[0].Name != "milcert-ee" {
		t.Error("Redact changed the shared situation")
	}
	self := &Identity{Name: "milcert-ee", Role: RoleCommander}
	if got := anonymised(t, an.Redact(self, s)); got != "milcert-ee" {
		t.Errorf("contributor sees itself as %q", got)
	}
}

// TestPseudonymsNeedTheKey plays the attacker of issue 14: it knows its own name and every
// contributor's, and tries the pseudonym every unkeyed or wrongly keyed rule would give.
func TestPseudonymsNeedTheKey(t *testing.T) {
	names := []string{"de-bsi", "fr-anssi", "cert-eu", "milcert-ee", "pl-csirt-mon", "enisa", "nato-ncirc", "it-acn"}
	an, other := testAnonymiser(1), testAnonymiser(2)
	shown := an.Pseudonym("cmdr-a", "milcert-ee")
	for _, n := range names {
		if n != "milcert-ee" && an.Pseudonym("cmdr-a", n) == shown {
			t.Errorf("%s and milcert-ee share a pseudonym", n)
		}
		for _, guess := range []string{other.Pseudonym("cmdr-a", n), testAnonymiser(0).Pseudonym("cmdr-a", n)} {
			if guess == shown {
				t.Errorf("pseudonym of milcert-ee recomputed without the key (guessing %s)", n)
			}
		}
	}
}

func TestRedactSortsByShownName(t *testing.T) {
	an := testAnonymiser(1)
	s := picture.Situation{Contributors: []picture.Contributor{{Name: "aa"}, {Name: "bb", Anonymise: true}, {Name: "zz"}}}
	got := an.Redact(&Identity{Name: "v", Role: RoleAnalyst}, s).Contributors
	if !slices.IsSortedFunc(got, func(x, y picture.Contributor) int { return strings.Compare(x.Name, y.Name) }) {
		t.Errorf("contributors not sorted by the names shown: %v (the place of a pseudonym tells the name's place)", got)
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
