package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

func TestNotesRoundTripOldestFirstAndFoldARetriedInsert(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	ns := itest.Namespace(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	first := store.Note{ID: ns + "-1", SubjectKind: "situation", SubjectID: "S-" + ns, Author: "analyst-1", AuthorRole: "analyst",
		Text: "wiper staging on the grid operator", Confidence: 70, Action: "mitigate", ActionText: "isolate the OT VLAN",
		Agreement: "supports", TLP: event.TLPAmber, ReleasableTo: []string{"EUFOR-ALTHEA"}, CreatedAt: at.Add(5 * time.Millisecond)}
	second := first
	second.ID, second.Supersedes, second.Text, second.CreatedAt = ns+"-0", first.ID, "corrected", at.Add(7*time.Millisecond)
	second.ReleasableTo = nil
	other := first
	other.ID, other.Exercise = ns+"-x", "CYDEF-"+ns
	for _, n := range []store.Note{first, second, first, other} { // first twice: a retried insert
		if err := st.AddNote(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Notes(ctx, "", "situation", "S-"+ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d notes, want 2 (the retried insert folded, the exercise's apart): %+v", len(got), got)
	}
	if got[0].ID != first.ID || got[1].ID != second.ID {
		t.Errorf("order %s, %s: want oldest first within the second (%s, %s)", got[0].ID, got[1].ID, first.ID, second.ID)
	}
	g := got[0]
	if g.Text != first.Text || g.Confidence != 70 || g.Action != "mitigate" || g.ActionText != first.ActionText ||
		g.Agreement != "supports" || g.TLP != event.TLPAmber || len(g.ReleasableTo) != 1 || g.ReleasableTo[0] != "EUFOR-ALTHEA" ||
		!g.CreatedAt.Equal(first.CreatedAt) || g.Author != "analyst-1" || g.AuthorRole != "analyst" {
		t.Errorf("read back %+v, want %+v", g, first)
	}
	if got[1].Supersedes != first.ID || got[1].ReleasableTo != nil {
		t.Errorf("correction read back %+v", got[1])
	}
	ex, err := st.Notes(ctx, "CYDEF-"+ns, "situation", "S-"+ns)
	if err != nil || len(ex) != 1 || ex[0].ID != other.ID {
		t.Errorf("exercise notes %+v, %v: want the exercise's one", ex, err)
	}
	upTo, err := st.NotesUpTo(ctx, "", event.TLPGreen)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range upTo {
		if n.TLP > event.TLPGreen {
			t.Errorf("NotesUpTo(GREEN) returned %s marked %s", n.ID, n.TLP)
		}
	}
}
