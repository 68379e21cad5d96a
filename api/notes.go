package api

// Assessments (issue 20): analysts, liaison officers and admins attach notes to a
// situation, a campaign or a crisis. A note carries its own TLP and releasability, which
// may not be below its subject's: a note speaks of its subject, so it is at least as
// restricted (TLP at or above the subject's; when the subject is releasable to a list
// only, the note's list is a non-empty part of it). A note is shown only when both its
// own markings and its subject's visibility to the viewer allow, checked on every read,
// since a subject's markings may rise after the note was written. A note lives in its
// subject's exercise. Corrections are new notes that supersede an older one of the same
// author on the same subject; both stay readable.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonerr"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// The kinds of subject a note may be attached to.
const (
	subjectSituation = "situation"
	subjectCampaign  = "campaign"
	subjectCrisis    = "crisis"
)

// Bounds of a note.
const (
	maxNoteText       = 4000 // characters
	maxNoteActionText = 500
	maxNoteRecipients = 32
)

// noteActions is the vocabulary of a note's recommended action; action_text says more.
var noteActions = []string{"none", "monitor", "investigate", "mitigate", "escalate", "share"}

// noteAgreements maps a note's agreement (with COP's correlation and scoring of its
// subject) to the STIX 2.1 opinion it exports as; a note without one exports no opinion.
var noteAgreements = map[string]string{
	"confirms": "strongly-agree",
	"supports": "agree",
	"neutral":  "neutral",
	"doubts":   "disagree",
	"refutes":  "strongly-disagree",
}

var (
	validSubjectID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	validRecipient = regexp.MustCompile(`^[A-Z0-9][A-Z0-9._-]{0,63}$`)
	validNoteID    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// noteSubject is a note's subject as one viewer may see it: its markings.
type noteSubject struct {
	TLP event.TLP
	// Restricted says the subject is releasable to ReleasableTo only (which may be empty:
	// a campaign whose situations share no recipient).
	Restricted   bool
	ReleasableTo []string
	Exercise     string
}

// noteRoutes registers the notes API.
func (s *Server) noteRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/notes", s.authed(s.addNote, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/notes", s.authed(s.listNotes, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
}

// subjectOf finds the subject kind/sid as id may see it under the view q names
// (exercise, mission): ok is false when it is absent or hidden, alike.
func (s *Server) subjectOf(r *http.Request, id access.Identity, kind, sid string, q url.Values) (noteSubject, bool, error) {
	switch kind {
	case subjectSituation:
		return s.situationSubject(r, id, sid, q)
	case subjectCampaign:
		return s.campaignSubject(id, sid, q)
	case subjectCrisis:
		return s.crisisSubject(r, id, sid, q)
	}
	return noteSubject{}, false, badParam("subject_kind", "situation, campaign or crisis")
}

// situationSubject decides as GET /api/v1/situations/{id} does.
func (s *Server) situationSubject(r *http.Request, id access.Identity, sid string, q url.Values) (noteSubject, bool, error) {
	c, err := callerFor(id, q)
	if err != nil {
		return noteSubject{}, false, err
	}
	sf := store.SituationFilter{ID: sid, Limit: 1}
	keep, err := s.situationKeep(id, q, &sf)
	if err != nil {
		return noteSubject{}, false, err
	}
	var found *noteSubject
	if _, err := s.Store.EachSituation(r.Context(), c, sf, func(st *store.StoredSituation) (bool, error) {
		if keep(st) {
			found = &noteSubject{TLP: st.TLP, Restricted: len(st.ReleasableTo) > 0, ReleasableTo: st.ReleasableTo, Exercise: c.Exercise}
		}
		return true, nil
	}); err != nil {
		return noteSubject{}, false, err
	}
	if found == nil {
		if st := s.liveSituation(id, c, sid, keep); st != nil {
			return noteSubject{TLP: st.TLP, Restricted: len(st.ReleasableTo) > 0, ReleasableTo: st.ReleasableTo, Exercise: c.Exercise}, true, nil
		}
		return noteSubject{}, false, nil
	}
	return *found, true, nil
}

// campaignSubject decides as GET /api/v1/campaigns does: the campaign is one of those
// the viewer's view of the live picture groups. Its markings are its situations': the
// most restrictive TLP, and the recipients every restricted one names.
func (s *Server) campaignSubject(id access.Identity, sid string, q url.Values) (noteSubject, bool, error) {
	v := id.DefaultView(access.View{Mission: strings.ToUpper(q.Get("mission")), Exercise: strings.ToUpper(q.Get("exercise"))})
	if !id.AllowedExercise(v.Exercise) {
		return noteSubject{}, false, errForbiddenExercise
	}
	if !id.AllowedView(v) {
		return noteSubject{}, false, errForbiddenMission
	}
	all, _ := s.Picture.Snapshot()
	var visible []picture.Situation
	byID := map[string]*picture.Situation{}
	for _, st := range all {
		if id.SituationVisible(st, v, s.Missions) {
			visible = append(visible, *st)
			byID[st.ID] = st
		}
	}
	for _, c := range campaignsOf(visible, s.campaignConfig()) {
		if c.ID != sid {
			continue
		}
		sub := noteSubject{Exercise: v.Exercise}
		for _, m := range c.Situations {
			st := byID[m]
			sub.TLP = max(sub.TLP, st.TLP)
			if len(st.ReleasableTo) == 0 {
				continue
			}
			if !sub.Restricted {
				sub.Restricted, sub.ReleasableTo = true, slices.Clone(st.ReleasableTo)
				continue
			}
			sub.ReleasableTo = slices.DeleteFunc(sub.ReleasableTo, func(r string) bool { return !slices.Contains(st.ReleasableTo, r) })
		}
		return sub, true, nil
	}
	return noteSubject{}, false, nil
}

// noteRequest is the body of POST /api/v1/notes.
type noteRequest struct {
	SubjectKind  string   `json:"subject_kind"`
	SubjectID    string   `json:"subject_id"`
	Exercise     string   `json:"exercise"`
	Mission      string   `json:"mission"`
	Text         string   `json:"text"`
	Confidence   *int     `json:"confidence"`
	Action       string   `json:"action"`
	ActionText   string   `json:"action_text"`
	Agreement    string   `json:"agreement"`
	TLP          string   `json:"tlp"`
	ReleasableTo []string `json:"releasable_to"`
	Supersedes   string   `json:"supersedes"`
}

// view is the query that names the request's view of its subject.
func (req *noteRequest) view() url.Values {
	q := url.Values{}
	if req.Exercise != "" {
		q.Set("exercise", req.Exercise)
	}
	if req.Mission != "" {
		q.Set("mission", req.Mission)
	}
	return q
}

// subjectParams checks a subject's kind and id.
func subjectParams(kind, sid string) error {
	switch kind {
	case subjectSituation, subjectCampaign, subjectCrisis:
	case "":
		return badParam("subject_kind", "situation, campaign or crisis (missing)")
	default:
		return badParam("subject_kind", "situation, campaign or crisis")
	}
	if !validSubjectID.MatchString(sid) {
		return badParam("subject_id", "the id of a "+kind+" (letters, digits, '.', '_', ':', '-'; at most 128)")
	}
	return nil
}

// addNote serves POST /api/v1/notes.
func (s *Server) addNote(w http.ResponseWriter, r *http.Request, id access.Identity) {
	rows, status := 0, http.StatusCreated
	defer func() { s.audit(r, id, "notes.create", uint64(rows), status) }()
	var req noteRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			status = s.fail(w, r, &badRequest{"body: want at most " + strconv.FormatInt(mb.Limit, 10) + " bytes"})
			return
		}
		field, reason := jsonerr.Describe(err)
		if field == "" {
			field = "body"
		}
		status = s.fail(w, r, &badRequest{field + ": " + reason})
		return
	}
	if err := subjectParams(req.SubjectKind, req.SubjectID); err != nil {
		status = s.fail(w, r, err)
		return
	}
	sub, ok, err := s.subjectOf(r, id, req.SubjectKind, req.SubjectID, req.view())
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	if !ok {
		status = http.StatusNotFound
		writeError(w, status, "not_found", "no "+req.SubjectKind+" "+req.SubjectID+" in this identity's view")
		return
	}
	n, err := noteOf(&req, id, sub)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	if req.Supersedes != "" {
		if err := s.checkSupersedes(r, id, n); err != nil {
			status = s.fail(w, r, err)
			return
		}
	}
	if err := s.Store.AddNote(r.Context(), n); err != nil {
		s.storeError(r, err, "cannot store note")
		status = http.StatusServiceUnavailable
		writeError(w, status, "store_unavailable", "notes store unavailable")
		return
	}
	rows = 1
	writeJSON(w, status, n)
}

// noteOf checks req against its author and subject and returns the note to store.
func noteOf(req *noteRequest, id access.Identity, sub noteSubject) (store.Note, error) {
	n := store.Note{SubjectKind: req.SubjectKind, SubjectID: req.SubjectID, Exercise: sub.Exercise, Author: id.Name,
		AuthorRole: string(id.Role), Text: strings.TrimSpace(req.Text), Action: req.Action, ActionText: strings.TrimSpace(req.ActionText),
		Agreement: req.Agreement, Supersedes: req.Supersedes}
	if err := boundedText("text", n.Text, 1, maxNoteText); err != nil {
		return n, err
	}
	if req.Confidence == nil || *req.Confidence < 0 || *req.Confidence > 100 {
		return n, badParam("confidence", "an integer from 0 to 100")
	}
	n.Confidence = uint8(*req.Confidence)
	if n.Action == "" {
		n.Action = "none"
	}
	if !slices.Contains(noteActions, n.Action) {
		return n, badParam("action", "one of "+strings.Join(noteActions, ", "))
	}
	if err := boundedText("action_text", n.ActionText, 0, maxNoteActionText); err != nil {
		return n, err
	}
	if _, ok := noteAgreements[n.Agreement]; !ok && n.Agreement != "" {
		return n, badParam("agreement", "one of confirms, supports, neutral, doubts, refutes, or none")
	}
	if n.Supersedes != "" && !validNoteID.MatchString(n.Supersedes) {
		return n, badParam("supersedes", "the id of a note")
	}
	n.TLP = sub.TLP
	if req.TLP != "" {
		t, err := event.ParseTLP(req.TLP)
		if err != nil {
			return n, badParam("tlp", "one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED")
		}
		n.TLP = t
	}
	if n.TLP < sub.TLP {
		return n, badParam("tlp", "at least "+sub.TLP.String()+", the marking of its "+req.SubjectKind)
	}
	if n.TLP > id.MaxTLP {
		return n, badParam("tlp", "at most "+id.MaxTLP.String()+", this identity's clearance")
	}
	rel, err := recipients(req.ReleasableTo)
	if err != nil {
		return n, err
	}
	switch {
	case rel == nil && sub.Restricted:
		rel = sub.ReleasableTo
		if len(rel) == 0 {
			return n, badParam("releasable_to", "recipients its "+req.SubjectKind+" is releasable to: its situations share none")
		}
	case sub.Restricted:
		for _, r := range rel {
			if !slices.Contains(sub.ReleasableTo, r) {
				return n, badParam("releasable_to", "recipients its "+req.SubjectKind+" is releasable to ("+strings.Join(sub.ReleasableTo, ", ")+")")
			}
		}
	}
	n.ReleasableTo = rel
	if n.TLP == event.TLPRed && len(n.ReleasableTo) == 0 {
		return n, badParam("releasable_to", "the named recipients of a TLP:RED note")
	}
	if !id.CanSee(access.Marked{TLP: n.TLP, ReleasableTo: n.ReleasableTo, Exercise: n.Exercise}, n.Exercise) {
		return n, badParam("releasable_to", "a list naming this identity or one of its missions, or its author could not read it")
	}
	n.ID = newNoteID()
	n.CreatedAt = time.Now().UTC()
	return n, nil
}

// boundedText checks that v has from least to most characters, none of them control
// characters but newlines and tabs.
func boundedText(field, v string, least, most int) error {
	want := "text of " + strconv.Itoa(least) + " to " + strconv.Itoa(most) + " characters"
	if !utf8.ValidString(v) {
		return badParam(field, "UTF-8 "+want)
	}
	n := utf8.RuneCountInString(v)
	if n < least || n > most {
		return badParam(field, want+" (got "+strconv.Itoa(n)+")")
	}
	for _, c := range v {
		if unicode.IsControl(c) && c != '\n' && c != '\t' {
			return badParam(field, want+" without control characters")
		}
	}
	return nil
}

// recipients normalises a releasability list: upper case, sorted, without duplicates;
// nil when empty.
func recipients(in []string) ([]string, error) {
	if len(in) > maxNoteRecipients {
		return nil, badParam("releasable_to", "at most "+strconv.Itoa(maxNoteRecipients)+" recipients")
	}
	var out []string
	for _, r := range in {
		r = strings.ToUpper(strings.TrimSpace(r))
		if !validRecipient.MatchString(r) {
			return nil, badParam("releasable_to", "identity or mission names (letters, digits, '.', '_', '-'; at most 64)")
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkSupersedes checks that the note n supersedes is one of its author's (an admin's:
// anyone's) on the same subject, which the author may see.
func (s *Server) checkSupersedes(r *http.Request, id access.Identity, n store.Note) error {
	old, err := s.Store.Notes(r.Context(), n.Exercise, n.SubjectKind, n.SubjectID)
	if err != nil {
		return err
	}
	for _, o := range old {
		if o.ID == n.Supersedes && id.CanSee(noteMarked(&o), n.Exercise) && (o.Author == id.Name || id.Role == access.RoleAdmin) {
			return nil
		}
	}
	return badParam("supersedes", "the id of a note of this identity on this "+n.SubjectKind)
}

func noteMarked(n *store.Note) access.Marked {
	return access.Marked{TLP: n.TLP, ReleasableTo: n.ReleasableTo, Exercise: n.Exercise}
}

// newNoteID returns a random UUID (version 4): a note's id says nothing of its subject.
func newNoteID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// noteView is a note as a viewer reads it: with the later note of the viewer's that
// supersedes it, if any.
type noteView struct {
	store.Note
	SupersededBy string `json:"superseded_by,omitempty"`
}

// visibleNotes are the notes among all that id may see in exercise, each with the
// visible note superseding it.
func visibleNotes(id access.Identity, all []store.Note, exercise string) []noteView {
	out := []noteView{}
	at := map[string]int{}
	for i := range all {
		if !id.CanSee(noteMarked(&all[i]), exercise) {
			continue
		}
		at[all[i].ID] = len(out)
		out = append(out, noteView{Note: all[i]})
	}
	for _, n := range out {
		if i, ok := at[n.Supersedes]; ok && out[i].SupersededBy == "" {
			out[i].SupersededBy = n.ID
		}
	}
	return out
}

// listNotes serves GET /api/v1/notes?subject_kind=&subject_id=: the notes on a subject
// the caller may see (both the subject and the note), oldest first.
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "notes.list", uint64(rows), status) }()
	kind, sid := q.Get("subject_kind"), q.Get("subject_id")
	if err := subjectParams(kind, sid); err != nil {
		status = s.fail(w, r, err)
		return
	}
	sub, ok, err := s.subjectOf(r, id, kind, sid, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	if !ok {
		status = http.StatusNotFound
		writeError(w, status, "not_found", "no "+kind+" "+sid+" in this identity's view")
		return
	}
	all, err := s.Store.Notes(r.Context(), sub.Exercise, kind, sid)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	out := visibleNotes(id, all, sub.Exercise)
	rows = len(out)
	writeJSON(w, http.StatusOK, map[string]any{"subject_kind": kind, "subject_id": sid, "notes": out})
}
