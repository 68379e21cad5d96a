package api

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// readMessage reads the next message, failing the test after 10 s.
func readMessage(t testing.TB, conn *websocket.Conn) Message {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m Message
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return m
}

// connect opens /ws/picture as name; with resume the hub waits for a view message.
func (f *fixture) connect(t testing.TB, name string, resume bool) *websocket.Conn {
	t.Helper()
	q := url.Values{}
	if resume {
		q.Set("resume", "1")
	}
	return f.follow(t, name, q).conn
}

func sendView(t testing.TB, conn *websocket.Conn, req viewRequest) {
	t.Helper()
	req.Type = "view"
	if err := conn.WriteJSON(req); err != nil {
		t.Fatalf("cannot send view: %v", err)
	}
}

func ids(ss []picture.Situation) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func removed(rs []Removal) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID + ">" + r.MergedInto
	}
	return out
}

func withVersion(s picture.Situation, v uint64, mod func(*picture.Situation)) picture.Situation {
	s.Version = v
	if mod != nil {
		mod(&s)
	}
	return s
}

func removal(id, into string) picture.Delta {
	return picture.Delta{Situation: picture.Situation{ID: id, Version: 99}, Removed: true, MergedInto: into}
}

func TestResumeSendsOnlyWhatChangedInTheViewSinceTheSequence(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	keep, gone, upd, tight := sit("keep", event.TLPGreen, nil), sit("gone", event.TLPGreen, nil), sit("upd", event.TLPGreen, nil), sit("tight", event.TLPGreen, nil)
	secret := sit("secret", event.TLPAmber, nil)
	f.pic.Apply(deltas(keep, gone, upd, tight, secret))

	conn := f.connect(t, "cmdr-green", false)
	snap := readMessage(t, conn)
	if snap.Type != "snapshot" || snap.Epoch == "" || snap.Seq != f.pic.Seq() {
		t.Fatalf("first message %s epoch %q seq %d, want a snapshot at %d", snap.Type, snap.Epoch, snap.Seq, f.pic.Seq())
	}
	if got, want := ids(snap.Situations), []string{"gone", "keep", "tight", "upd"}; !sameSet(got, want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	conn.Close()

	f.pic.Apply(deltas(
		withVersion(upd, 2, func(s *picture.Situation) { s.Score = 70 }),
		withVersion(tight, 2, func(s *picture.Situation) { s.TLP = event.TLPAmber }), // marking tightened: must leave the client
		withVersion(secret, 2, func(s *picture.Situation) { s.Score = 90 }),
		sit("secret-new", event.TLPAmber, nil),
		sit("secret-gone", event.TLPAmber, nil),
		sit("fresh", event.TLPGreen, nil),
	))
	f.pic.Apply([]picture.Delta{removal("gone", "upd"), removal("secret-gone", "upd")})

	conn = f.connect(t, "cmdr-green", true)
	sendView(t, conn, viewRequest{Epoch: snap.Epoch, Seq: snap.Seq})
	m := readMessage(t, conn)
	if m.Type != "delta" || m.Resume != "deltas" || m.From != snap.Seq || m.Seq != f.pic.Seq() {
		t.Fatalf("resume answered with %s resume=%q from %d seq %d, want delta resume=deltas from %d seq %d",
			m.Type, m.Resume, m.From, m.Seq, snap.Seq, f.pic.Seq())
	}
	if got, want := ids(m.Situations), []string{"fresh", "upd"}; !slices.Equal(got, want) {
		t.Errorf("resume sent situations %v, want %v", got, want)
	}
	if got, want := removed(m.Removed), []string{"gone>upd", "tight>"}; !slices.Equal(got, want) {
		t.Errorf("resume sent removals %v, want %v", got, want)
	}
	if m.Situations[1].Score != 70 {
		t.Errorf("upd resumed at score %v, want its latest version's 70", m.Situations[1].Score)
	}

	// Live deltas continue from where the resume left the client.
	f.pic.Apply(deltas(sit("after", event.TLPGreen, nil)))
	next := readMessage(t, conn)
	if next.Type != "delta" || next.From != m.Seq || !slices.Equal(ids(next.Situations), []string{"after"}) {
		t.Errorf("next message %s from %d with %v, want a delta from %d with [after]", next.Type, next.From, ids(next.Situations), m.Seq)
	}
}

func TestResumeNeverLeaksASituationTheCallerMayNotSee(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(matrixSituations()...))
	// cmdr-althea (cleared for RED) holds the picture at seq; cmdr-green (GREEN only)
	// presents that same epoch and sequence.
	conn := f.connect(t, "cmdr-althea", false)
	snap := readMessage(t, conn)
	if !slices.Contains(ids(snap.Situations), "s-amber") {
		t.Fatal("cmdr-althea's snapshot lacks s-amber: the test would prove nothing")
	}
	var changed []picture.Situation
	for _, s := range matrixSituations() {
		changed = append(changed, withVersion(s, 2, func(s *picture.Situation) { s.Score = 77 }))
	}
	f.pic.Apply(deltas(changed...))
	f.pic.Apply([]picture.Delta{removal("s-red-named", "s-green"), removal("s-rel-other", "")})

	for _, c := range []struct {
		viewer string
		q      url.Values
		allow  []string // situations it may be sent
		gone   []string // removals it may be told of: those it could see at seq
	}{
		{"cmdr-green", nil, []string{"s-green", "s-anon", "s-rel-mission"}, []string{}},
		{"cmdr-althea", nil, []string{"s-green", "s-anon", "s-rel-mission", "s-amber"}, []string{"s-red-named>s-green"}},
		{"cmdr-althea", url.Values{"exercise": {"CYDEF-X"}}, []string{"s-exercise"}, []string{}},
	} {
		t.Run(c.viewer+"/"+c.q.Get("exercise"), func(t *testing.T) {
			q := url.Values{"resume": {"1"}}
			for k, v := range c.q {
				q[k] = v
			}
			conn := f.follow(t, c.viewer, q).conn
			sendView(t, conn, viewRequest{View: wsViewOf(c.q), Epoch: snap.Epoch, Seq: snap.Seq})
			m := readMessage(t, conn)
			if m.Resume != "deltas" {
				t.Fatalf("resume answered with %q, want deltas", m.Resume)
			}
			if got := ids(m.Situations); !sameSet(got, c.allow) {
				t.Errorf("%s resumed with %v, want exactly %v", c.viewer, got, c.allow)
			}
			// Removal notices may only name situations this caller could see at seq.
			if got := removed(m.Removed); !slices.Equal(got, c.gone) {
				t.Errorf("%s was told of the removals %v, want exactly %v", c.viewer, got, c.gone)
			}
		})
	}
}

func wsViewOf(q url.Values) access.View { return access.View{Exercise: q.Get("exercise")} }

func TestResumeWithoutTheHistoryGetsAFreshSnapshotFlaggedAsSuch(t *testing.T) {
	for _, c := range []struct {
		name  string
		epoch func(snap Message) string
		seq   func(snap Message, f *fixture) uint64
	}{
		{"history_overwritten", func(m Message) string { return m.Epoch }, func(m Message, f *fixture) uint64 {
			flood := make([]picture.Delta, 17_000) // more changes than the history keeps
			for i := range flood {
				flood[i] = picture.Delta{Situation: withVersion(sit("busy", event.TLPGreen, nil), uint64(10+i), nil)}
			}
			f.pic.Apply(flood)
			return m.Seq
		}},
		{"other_epoch", func(Message) string { return "0123456789abcdef" }, func(m Message, _ *fixture) uint64 { return m.Seq }},
		{"sequence_ahead", func(m Message) string { return m.Epoch }, func(m Message, _ *fixture) uint64 { return m.Seq + 1000 }},
		{"no_epoch", func(Message) string { return "" }, func(m Message, _ *fixture) uint64 { return m.Seq }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil, matrixIdentities, nil)
			f.pic.Apply(deltas(matrixSituations()...))
			conn := f.connect(t, "cmdr-green", false)
			snap := readMessage(t, conn)
			conn.Close()
			seq := c.seq(snap, f)
			conn = f.connect(t, "cmdr-green", true)
			sendView(t, conn, viewRequest{Epoch: c.epoch(snap), Seq: seq})
			m := readMessage(t, conn)
			if m.Type != "snapshot" || m.Resume != "snapshot" || m.Seq != f.pic.Seq() {
				t.Fatalf("got %s resume=%q seq %d, want a snapshot flagged resume=snapshot at %d", m.Type, m.Resume, m.Seq, f.pic.Seq())
			}
			want := []string{"s-green", "s-anon", "s-rel-mission"}
			if c.name == "history_overwritten" {
				want = append(want, "busy")
			}
			if got := ids(m.Situations); !sameSet(got, want) {
				t.Errorf("fresh snapshot %v, want exactly %v", got, want)
			}
		})
	}
}

func TestDeltaNamesInvisibleSituationsNeverButTellsWhatLeftTheView(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	tight := sit("tight", event.TLPGreen, nil)
	f.pic.Apply(deltas(tight))
	conn := f.connect(t, "cmdr-green", false)
	readMessage(t, conn)
	f.pic.Apply(deltas(sit("secret", event.TLPAmber, nil), sit("elsewhere", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"UA"} })))
	f.pic.Apply([]picture.Delta{removal("secret", "")})
	f.pic.Apply(deltas(withVersion(tight, 2, func(s *picture.Situation) { s.TLP = event.TLPAmber })))
	var gotRemovals []string
	for !slices.Contains(gotRemovals, "tight>") {
		m := readMessage(t, conn)
		if len(m.Situations) > 0 {
			t.Errorf("cmdr-green was sent %v", ids(m.Situations))
		}
		gotRemovals = append(gotRemovals, removed(m.Removed)...)
	}
	if !slices.Equal(gotRemovals, []string{"tight>"}) {
		t.Errorf("removals %v, want only [tight>] (secret and elsewhere were never visible)", gotRemovals)
	}
}

func TestViewChangeWithoutSequenceGetsASnapshot(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(matrixSituations()...))
	conn := f.connect(t, "cmdr-althea", true)
	sendView(t, conn, viewRequest{})
	m := readMessage(t, conn)
	if m.Type != "snapshot" || m.Resume != "" {
		t.Fatalf("got %s resume=%q, want a plain snapshot", m.Type, m.Resume)
	}
	sendView(t, conn, viewRequest{View: wsViewOf(url.Values{"exercise": {"cydef-x"}})})
	m = readMessage(t, conn)
	if m.Type != "snapshot" || m.Exercise != "CYDEF-X" || !slices.Equal(ids(m.Situations), []string{"s-exercise"}) {
		t.Fatalf("got %s of %q with %v, want the CYDEF-X snapshot", m.Type, m.Exercise, ids(m.Situations))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestCommandersSnapshotAndDeltasAreInTheirMissionsOrder checks the per-viewer
// relevance: of equal scores, a commander's snapshot puts the situation in its mission's
// area and sectors first, each copy says its relevance and rank, the picture's shared
// situations keep none, and an admin's snapshot stays in score order.
func TestCommandersSnapshotAndDeltasAreInTheirMissionsOrder(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(
		sit("a-shared-area", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"BA", "RS"} }),
		sit("b-area-and-sector", event.TLPGreen, func(s *picture.Situation) { s.Sectors = []string{"energy"} }),
		sit("c-area", event.TLPGreen, nil),
		sit("d-higher", event.TLPGreen, func(s *picture.Situation) { s.Score = 60 }),
	))
	conn := f.connect(t, "cmdr-green", false)
	snap := readMessage(t, conn)
	// b 50 × 1, d 60 × 0.75, c 50 × 0.75, a 50 × (0.5 + 0.5 × 0.25).
	if got, want := ids(snap.Situations), []string{"b-area-and-sector", "d-higher", "c-area", "a-shared-area"}; !slices.Equal(got, want) {
		t.Fatalf("commander's snapshot %v, want %v", got, want)
	}
	if s := snap.Situations[0]; s.Explanation.Relevance != 1 || s.Rank != 50 {
		t.Fatalf("first situation relevance %v rank %v, want 1 and 50", s.Explanation.Relevance, s.Rank)
	}
	all, _ := f.pic.Snapshot()
	for _, s := range all {
		if s.Rank != 0 || s.Explanation.Relevance != 0 {
			t.Fatalf("shared situation %s was given rank %v relevance %v", s.ID, s.Rank, s.Explanation.Relevance)
		}
	}
	f.pic.Apply(deltas(sit("e-new", event.TLPGreen, func(s *picture.Situation) { s.Sectors = []string{"defence"} })))
	d := readMessage(t, conn)
	if d.Type != "delta" || len(d.Situations) != 1 || d.Situations[0].Explanation.Relevance != 1 || d.Situations[0].Rank != 50 {
		t.Fatalf("delta %+v, want e-new at relevance 1, rank 50", d)
	}
	admin := readMessage(t, f.connect(t, "admin", false))
	if got := ids(admin.Situations); got[0] != "d-higher" || admin.Situations[0].Rank != 0 {
		t.Fatalf("admin's snapshot %v (rank %v), want d-higher first, no rank", got, admin.Situations[0].Rank)
	}
}
