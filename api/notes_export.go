package api

// Notes in the STIX 2.1 export: each note the reader may see on a situation (or a
// campaign of the live picture) whose events the bundle carries becomes a STIX note
// referring to the objects that carry those events, and, when it states an agreement, an
// opinion too (noteAgreements). Both are marked with the note's TLP. Crises have no STIX
// object in the export yet: their notes are left out. TAXII pages are cut by the events'
// stored time and carry no notes.

import (
	"net/http"
	"net/url"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// maxNoteRefs bounds a note's object_refs: the first objects of its subject's events.
const maxNoteRefs = 1000

// exportNotes is the notes of one export.
type exportNotes struct {
	s     *Server
	id    access.Identity
	q     url.Values
	notes []noteView
	// refs are the exported objects of each situation some note needs, by situation id.
	refs map[string][]string
	// campaigns are the situations of each campaign some note is on, by campaign id:
	// the campaigns of the reader's view of the live picture.
	campaigns map[string][]string
}

// exportNotes reads the notes id may see in c's exercise and hooks x to collect the
// objects they refer to. A failure leaves the notes out: the export of events goes on.
func (s *Server) exportNotes(r *http.Request, id access.Identity, c store.Caller, x *stixExport) *exportNotes {
	all, err := s.Store.NotesUpTo(r.Context(), c.Exercise, id.MaxTLP)
	if err != nil {
		s.storeError(r, err, "cannot read notes for the export")
		return nil
	}
	n := &exportNotes{s: s, id: id, q: url.Values{"exercise": {c.Exercise}}, refs: map[string][]string{}, campaigns: map[string][]string{}}
	for _, v := range visibleNotes(id, all, c.Exercise) {
		switch v.SubjectKind {
		case subjectSituation:
			n.refs[v.SubjectID] = nil
		case subjectCampaign:
			n.campaigns[v.SubjectID] = nil
		default:
			continue
		}
		n.notes = append(n.notes, v)
	}
	if len(n.notes) == 0 {
		return nil
	}
	if len(n.campaigns) > 0 && s.Picture != nil {
		v := id.DefaultView(access.View{Exercise: c.Exercise})
		if id.AllowedView(v) {
			snap, _ := s.Picture.Snapshot()
			var visible []picture.Situation
			for _, st := range snap {
				if id.SituationVisible(st, v, s.Missions) {
					visible = append(visible, *st)
				}
			}
			for _, cp := range campaignsOf(visible, s.campaignConfig()) {
				if _, ok := n.campaigns[cp.ID]; ok {
					n.campaigns[cp.ID] = cp.Situations
					for _, m := range cp.Situations {
						n.refs[m] = nil
					}
				}
			}
		}
	}
	x.carried = func(e *store.StoredEvent, obj string) {
		if refs, ok := n.refs[e.SituationID]; ok && len(refs) < maxNoteRefs {
			n.refs[e.SituationID] = append(refs, obj)
		}
	}
	return n
}

// write writes the notes whose subject is visible to the reader and has objects in the
// bundle, each after the objects it refers to.
func (n *exportNotes) write(r *http.Request, x *stixExport) {
	if n == nil {
		return
	}
	visible := map[string]bool{}
	authors := map[string]bool{}
	for _, v := range n.notes {
		var refs []string
		switch v.SubjectKind {
		case subjectSituation:
			refs = n.refs[v.SubjectID]
			if len(refs) == 0 {
				continue
			}
			seen, checked := visible[v.SubjectID]
			if !checked {
				_, ok, err := n.s.situationSubject(r, n.id, v.SubjectID, n.q)
				if err != nil {
					n.s.storeError(r, err, "cannot check a note's situation for the export")
				}
				seen = ok && err == nil
				visible[v.SubjectID] = seen
			}
			if !seen {
				continue
			}
		case subjectCampaign:
			for _, m := range n.campaigns[v.SubjectID] {
				refs = append(refs, n.refs[m]...)
			}
			if len(refs) == 0 {
				continue
			}
			refs = refs[:min(len(refs), maxNoteRefs)]
		}
		author := stixID("identity", "cop-author:"+v.Author)
		if !authors[author] {
			authors[author] = true
			x.object(map[string]any{"type": "identity", "spec_version": "2.1", "id": author, "created": "2020-01-01T00:00:00.000Z",
				"modified": "2020-01-01T00:00:00.000Z", "name": v.Author, "identity_class": "individual"})
		}
		for _, o := range stixNote(&v, author, refs) {
			x.object(o)
		}
	}
}

// stixNote returns the STIX note of v, and its opinion when it states an agreement.
func stixNote(v *noteView, author string, refs []string) []map[string]any {
	at := stixTime(v.CreatedAt)
	common := func(typ, id string) map[string]any {
		o := map[string]any{"type": typ, "spec_version": "2.1", "id": id, "created": at, "modified": at,
			"created_by_ref": author, "authors": []string{v.Author}, "object_refs": refs,
			"object_marking_refs": []string{tlpMarking[v.TLP]}, "confidence": int(v.Confidence),
			"x_cop_note_id": v.ID, "x_cop_subject_kind": v.SubjectKind, "x_cop_subject_id": v.SubjectID,
			"x_cop_action": v.Action}
		if v.ActionText != "" {
			o["x_cop_action_text"] = v.ActionText
		}
		if len(v.ReleasableTo) > 0 {
			o["x_cop_releasable_to"] = v.ReleasableTo
		}
		if v.Exercise != "" {
			o["x_cop_exercise"] = v.Exercise
		}
		if v.Supersedes != "" {
			o["x_cop_supersedes"] = "note--" + v.Supersedes
		}
		return o
	}
	note := common("note", "note--"+v.ID)
	note["content"] = v.Text
	note["abstract"] = "Assessment of " + v.SubjectKind + " " + v.SubjectID + ": recommended action " + v.Action
	out := []map[string]any{note}
	if op, ok := noteAgreements[v.Agreement]; ok {
		o := common("opinion", stixID("opinion", v.ID))
		o["opinion"], o["explanation"] = op, v.Text
		out = append(out, o)
	}
	return out
}
