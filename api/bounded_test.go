package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// heldPicture is what a client of the bounded picture holds after applying messages.
type heldPicture struct {
	situations map[string]string // id → JSON as sent
	rest       Counts
	campaigns  map[string]string // id → JSON as sent
}

func (p *heldPicture) apply(t testing.TB, m *Message) {
	t.Helper()
	if m.Type == "snapshot" {
		p.situations, p.campaigns, p.rest = map[string]string{}, map[string]string{}, Counts{}
	}
	if m.CampaignsAll {
		p.campaigns = map[string]string{}
	}
	for _, s := range m.Situations {
		b, _ := json.Marshal(s)
		p.situations[s.ID] = string(b)
	}
	for _, r := range m.Removed {
		if _, ok := p.situations[r.ID]; !ok {
			t.Errorf("delta from %d removes %s, which the client was never sent", m.From, r.ID)
		}
		delete(p.situations, r.ID)
	}
	if m.Rest != nil {
		p.rest = m.Rest.clone()
	}
	for _, c := range m.Campaigns {
		b, _ := json.Marshal(c)
		p.campaigns[c.ID] = string(b)
	}
	for _, id := range m.CampaignsRemoved {
		delete(p.campaigns, id)
	}
}

func (p *heldPicture) equal(o *heldPicture) string {
	switch {
	case !reflect.DeepEqual(p.situations, o.situations):
		return fmt.Sprintf("situations %v, a fresh snapshot has %v", keysOf(p.situations), keysOf(o.situations))
	case !p.rest.equal(o.rest):
		return fmt.Sprintf("rest %+v, a fresh snapshot has %+v", p.rest, o.rest)
	case !reflect.DeepEqual(p.campaigns, o.campaigns):
		return fmt.Sprintf("campaigns %v, a fresh snapshot has %v", p.campaigns, o.campaigns)
	}
	return ""
}

func keysOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"@"+v[strings.Index(v, `"version":`)+10:][:2])
	}
	slices.Sort(out)
	return out
}

func boundedHubFor(pic *Picture, n int) *Hub {
	h := NewHub(pic, access.DefaultMissions(), zerolog.Nop(), &metrics.Registry{}, 10*time.Millisecond)
	h.Anon = testAnon
	h.SetViewTop(n, 0)
	return h
}

// freshSnapshot is what a client of id under v with limit would be sent on connecting now.
func freshSnapshot(t testing.TB, h *Hub, id access.Identity, v access.View, limit int) (*heldPicture, *Message) {
	t.Helper()
	vt := newViewTop(id, v, h.missions)
	vt.mu.Lock()
	defer vt.mu.Unlock()
	vt.advance(h.picture, limit)
	m, _ := h.boundedMessage(vt, nil, limit, "snapshot", time.Now())
	p := &heldPicture{}
	p.apply(t, m)
	return p, m
}

// boundedSituation is one of a small universe, so that changes hit the same ones, scores
// tie, campaigns form and some markings hide it from some viewers.
func boundedSituation(r *rand.Rand, id string, version uint64) picture.Situation {
	tlps := []event.TLP{event.TLPClear, event.TLPGreen, event.TLPAmber, event.TLPRed}
	s := sit(id, tlps[r.IntN(len(tlps))], nil)
	s.Version = version
	s.Score = float64(10 * r.IntN(10))
	s.Countries = [][]string{{"BA"}, {"BA", "HR"}, {"FR"}, {"UA"}}[r.IntN(4)]
	s.Sectors = [][]string{nil, {"energy"}, {"telecom", "energy"}}[r.IntN(3)]
	if r.IntN(4) == 0 {
		s.ReleasableTo = []string{"CERT-EU"}
	}
	if r.IntN(3) == 0 {
		s.Names = []event.Name{{Kind: "campaign", Name: fmt.Sprintf("op-%d", r.IntN(3))}}
	}
	s.Contributors = []picture.Contributor{{Name: "feed-a", Anonymise: r.IntN(2) == 0}, {Name: "feed-b"}}
	return s
}

// TestBoundedDeltasKeepTheClientEqualToAFreshSnapshot is the bounded picture's invariant:
// a client that applies its snapshot and then every delta holds what a fresh snapshot of
// the same view would give it (situations, counts of the rest, campaigns), whatever
// enters or leaves its top, for every viewer, and when it asks for more; and a client
// resuming from any sequence it held is brought to the same.
func TestBoundedDeltasKeepTheClientEqualToAFreshSnapshot(t *testing.T) {
	viewers := []struct {
		id access.Identity
		v  access.View
	}{
		{matrixIdentities[1], access.View{Mission: "EUFOR-ALTHEA"}},
		{matrixIdentities[2], access.View{Mission: "EUFOR-ALTHEA", Sectors: []string{"energy"}}},
		{matrixIdentities[3], access.View{MinScore: 20}},
		{matrixIdentities[4], access.View{}},
	}
	defer func(s int) { topSlack = s }(topSlack)
	topSlack = 2 // so that the top runs short and the history is outrun
	rebuilt := 0
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		pic := NewPicture(PictureConfig{History: 64})
		h := boundedHubFor(pic, 4)
		versions := map[string]uint64{}
		next := func(id string) picture.Situation {
			versions[id]++
			return boundedSituation(r, id, versions[id])
		}
		var initial []picture.Situation
		for i := range 12 {
			initial = append(initial, next(fmt.Sprintf("s%02d", i)))
		}
		pic.Apply(deltas(initial...))
		for _, vw := range viewers {
			limit := 4
			vt := newViewTop(vw.id, vw.v, h.missions)
			vt.mu.Lock()
			vt.advance(pic, limit)
			m, held := h.boundedMessage(vt, nil, limit, "snapshot", time.Now())
			vt.mu.Unlock()
			client := &heldPicture{}
			client.apply(t, m)
			past := []*holding{held}
			for round := range 12 {
				var ds []picture.Delta
				for range 1 + r.IntN(6) {
					id := fmt.Sprintf("s%02d", r.IntN(20))
					switch r.IntN(5) {
					case 0:
						if versions[id] > 0 {
							versions[id] += 10
							// Versions stay monotonic per id, as the engine's are, even across a removal.
							ds = append(ds, picture.Delta{Situation: picture.Situation{ID: id, Version: versions[id]}, Removed: true, MergedInto: "s00"})
							continue
						}
						fallthrough
					default:
						ds = append(ds, picture.Delta{Situation: next(id)})
					}
				}
				pic.Apply(ds)
				if r.IntN(4) == 0 {
					limit += 2 // the client scrolled to its end
				}
				vt.mu.Lock()
				vt.advance(pic, limit)
				m, n := h.boundedMessage(vt, held, limit, "delta", time.Now())
				vt.mu.Unlock()
				client.apply(t, m)
				held = n
				past = append(past, held)
				want, snap := freshSnapshot(t, h, vw.id, vw.v, limit)
				if d := client.equal(want); d != "" {
					t.Fatalf("seed %d %s round %d (limit %d): after the deltas the client holds %s", seed, vw.id.Name, round, limit, d)
				}
				if m.Seq != snap.Seq || m.From != past[len(past)-2].seq {
					t.Fatalf("seed %d: delta from %d to %d, want from %d to %d", seed, m.From, m.Seq, past[len(past)-2].seq, snap.Seq)
				}
				// A client resuming from any sequence it held ends where this one is.
				old := past[r.IntN(len(past))]
				vt.mu.Lock()
				if rh := vt.heldAt(pic, old.seq, old.limit); rh != nil {
					rebuilt++
					if !reflect.DeepEqual(rh.versions, old.versions) {
						t.Fatalf("seed %d %s: the holding rebuilt at %d is %v, the client held %v", seed, vw.id.Name, old.seq, rh.versions, old.versions)
					}
				}
				vt.mu.Unlock()
			}
		}
	}
	if rebuilt == 0 {
		t.Error("no holding was rebuilt for a resume: the test tests nothing of it")
	}
}

// TestBoundedSnapshotHoldsOnlyTheViewersBestAndCountsOnlyWhatItMaySee: with more
// situations than N, hidden ones scoring highest, each viewer's snapshot holds exactly
// its best N of those it may see, and the counts of the rest are of those it may see.
func TestBoundedSnapshotHoldsOnlyTheViewersBestAndCountsOnlyWhatItMaySee(t *testing.T) {
	const n = 5
	pic := NewPicture(PictureConfig{})
	h := boundedHubFor(pic, n)
	var all []picture.Situation
	for i, s := range matrixSituations() {
		for j := range 4 {
			c := s
			c.ID = fmt.Sprintf("%s-%d", s.ID, j)
			c.Score = float64(40 + 10*j + i%3)
			if s.TLP >= event.TLPAmber || len(s.ReleasableTo) > 0 {
				c.Score += 40 // what a viewer may not see ranks highest
			}
			c.Sectors = []string{[]string{"energy", "telecom"}[j%2]}
			all = append(all, c)
		}
	}
	pic.Apply(deltas(all...))
	for _, id := range matrixIdentities {
		if id.Role == access.RoleContributor {
			continue
		}
		v := id.DefaultView(access.View{})
		var visible []picture.Situation
		for _, s := range all {
			if id.SituationVisible(&s, v, h.missions) {
				c := s
				h.missions.Ranked(v, &c)
				visible = append(visible, c)
			}
		}
		slices.SortFunc(visible, func(a, b picture.Situation) int { return access.CompareRanked(&a, &b) })
		_, m := freshSnapshot(t, h, id, v, n)
		wantIDs := ids(visible[:min(n, len(visible))])
		if got := ids(m.Situations); !slices.Equal(got, wantIDs) {
			t.Errorf("%s: snapshot holds %v, want its best %d of what it may see %v", id.Name, got, n, wantIDs)
		}
		rest := newCounts()
		for i := range visible[min(n, len(visible)):] {
			rest.add(&visible[n+i], 1)
		}
		if m.Rest == nil || !m.Rest.equal(rest) {
			t.Errorf("%s: rest counts %+v, want %+v (what it may see beyond the snapshot)", id.Name, m.Rest, rest)
		}
		for _, s := range m.Situations {
			for _, c := range s.Contributors {
				if c.Anonymise && c.Name == "feed-a" && id.Role != access.RoleAdmin {
					t.Errorf("%s: snapshot names anonymised contributor feed-a in %s", id.Name, s.ID)
				}
			}
		}
	}
}

// TestBoundedCampaignsNameOnlySituationsTheViewerMaySee: situations of one campaign under
// several markings; every viewer's campaigns list only situations it was sent, count
// only members it may see, and never name an anonymised contributor.
func TestBoundedCampaignsNameOnlySituationsTheViewerMaySee(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	var all []picture.Situation
	for _, s := range matrixSituations() {
		s.Names = []event.Name{{Kind: "campaign", Name: "op-glue"}}
		all = append(all, s)
	}
	f.pic.Apply(deltas(all...))
	for _, id := range matrixIdentities[1:] {
		v := id.DefaultView(access.View{})
		may := map[string]bool{}
		for _, s := range all {
			if id.SituationVisible(&s, v, f.s.Missions) {
				may[s.ID] = true
			}
		}
		conn := f.connect(t, id.Name, false)
		m := readMessage(t, conn)
		sent := map[string]bool{}
		for _, s := range m.Situations {
			sent[s.ID] = true
		}
		for _, c := range m.Campaigns {
			for _, sid := range c.Situations {
				if !sent[sid] {
					t.Errorf("%s: campaign %s lists %s, which it was not sent", id.Name, c.ID, sid)
				}
			}
			if c.Members != len(may) {
				t.Errorf("%s: campaign %s has %d members, want the %d it may see", id.Name, c.ID, c.Members, len(may))
			}
			if b, _ := json.Marshal(c); strings.Contains(string(b), "feed-a") {
				t.Errorf("%s: campaign names a contributor: %s", id.Name, b)
			}
		}
		// Opening the campaign over REST gives the members it may see, redacted.
		if len(m.Campaigns) == 0 {
			if len(may) > 1 {
				t.Errorf("%s: no campaign in its snapshot, want one of its %d situations", id.Name, len(may))
			}
			continue
		}
		q := url.Values{}
		if v.Mission != "" {
			q.Set("mission", v.Mission)
		}
		resp := f.do(t, "GET", "/api/v1/campaigns/"+m.Campaigns[0].ID+"?"+q.Encode(), f.tokens[id.Name], nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: GET campaign: %d", id.Name, resp.StatusCode)
		}
		var got struct {
			Campaign   picture.Campaign    `json:"campaign"`
			Situations []picture.Situation `json:"situations"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if len(got.Situations) != len(may) {
			t.Errorf("%s: the campaign opens on %v, want the %d it may see", id.Name, ids(got.Situations), len(may))
		}
		for _, s := range got.Situations {
			if !may[s.ID] {
				t.Errorf("%s: the campaign opens on %s, which it may not see", id.Name, s.ID)
			}
			for _, c := range s.Contributors {
				if c.Anonymise && c.Name == "feed-a" && id.Role != access.RoleAdmin {
					t.Errorf("%s: the campaign names anonymised contributor feed-a in %s", id.Name, s.ID)
				}
			}
		}
	}
}

// TestBoundedDeltaMovesSituationsInAndOutOfTheTop: over the websocket, a situation that
// rises into a client's best N is sent, the one it pushes out is removed, and the
// counts of the rest follow; "more" brings the next ones.
func TestBoundedDeltaMovesSituationsInAndOutOfTheTop(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.Hub.SetViewTop(3, 0)
	var all []picture.Situation
	for i := range 6 {
		all = append(all, sit(fmt.Sprintf("s%d", i), event.TLPGreen, func(s *picture.Situation) { s.Score = float64(60 - 5*i) }))
	}
	f.pic.Apply(deltas(all...))
	conn := f.connect(t, "cmdr-green", false)
	snap := readMessage(t, conn)
	if got := ids(snap.Situations); !slices.Equal(got, []string{"s0", "s1", "s2"}) || snap.Rest == nil || snap.Rest.Total != 3 {
		t.Fatalf("snapshot %v rest %+v, want [s0 s1 s2] and 3 more", got, snap.Rest)
	}
	f.pic.Apply(deltas(withVersion(all[5], 2, func(s *picture.Situation) { s.Score = 90 })))
	m := readMessage(t, conn)
	if got, gone := ids(m.Situations), removed(m.Removed); !slices.Equal(got, []string{"s5"}) || !slices.Equal(gone, []string{"s2>"}) {
		t.Errorf("delta sent %v removed %v, want s5 in and s2 out", got, gone)
	}
	if m.Rest != nil || m.From != snap.Seq {
		t.Errorf("delta from %d rest %+v, want from %d and no new counts (still 3 more, all in BA)", m.From, m.Rest, snap.Seq)
	}
	if err := conn.WriteJSON(viewRequest{Type: "more", Limit: 5}); err != nil {
		t.Fatal(err)
	}
	m = readMessage(t, conn)
	if got := ids(m.Situations); !slices.Equal(got, []string{"s2", "s3"}) || m.Rest == nil || m.Rest.Total != 1 {
		t.Errorf("more sent %v rest %+v, want [s2 s3] and 1 more", got, m.Rest)
	}
}

// TestBoundedViewIsKeptForAReconnect: a page reloaded finds its view built (no second
// scan of the picture), and resumes from it with deltas.
func TestBoundedViewIsKeptForAReconnect(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(sit("a", event.TLPGreen, nil), sit("b", event.TLPGreen, nil)))
	conn := f.connect(t, "cmdr-green", false)
	snap := readMessage(t, conn)
	h := f.s.Hub
	h.mu.Lock()
	var first *viewTop
	for _, vt := range h.bounded.views {
		first = vt
	}
	h.mu.Unlock()
	conn.Close()
	views := func() (n, refs, scans int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, vt := range h.bounded.views {
			n, refs = n+1, refs+vt.refs
			vt.mu.Lock()
			scans += vt.scans
			vt.mu.Unlock()
		}
		return n, refs, scans
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, refs, _ := views(); refs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed client still holds its view after 10 s")
		}
		runtime.Gosched()
	}
	f.pic.Apply(deltas(sit("c", event.TLPGreen, nil)))
	conn = f.connect(t, "cmdr-green", true)
	sendView(t, conn, viewRequest{Epoch: snap.Epoch, Seq: snap.Seq, Limit: len(snap.Situations)})
	m := readMessage(t, conn)
	if m.Resume != "deltas" || !slices.Equal(ids(m.Situations), []string{"c"}) {
		t.Errorf("resume answered %s resume=%q with %v, want deltas with [c]", m.Type, m.Resume, ids(m.Situations))
	}
	if n, refs, scans := views(); n != 1 || refs != 1 || scans != 1 {
		t.Errorf("%d views held by %d clients after %d scans, want the one view kept, held again, scanned once", n, refs, scans)
	}
	h.mu.Lock()
	kept := h.bounded.views[scopeKey(&matrixIdentities[2], access.View{Mission: "EUFOR-ALTHEA"})] == first
	h.mu.Unlock()
	if !kept {
		t.Error("the reconnected client holds another view than the one built for it before")
	}
}

// TestBoundedCampaignsGroupedLaterReachTheClientWithoutAChange: grouping runs beside the
// snapshot (cop serve's --view-top with campaigns grouped every 5 s); campaigns it finds
// after the snapshot went out reach the client though the picture does not change.
func TestBoundedCampaignsGroupedLaterReachTheClientWithoutAChange(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.Hub.SetViewTop(DefaultViewTop, time.Hour)
	var all []picture.Situation
	for i := range 3 {
		all = append(all, sit(fmt.Sprintf("c%d", i), event.TLPGreen, func(s *picture.Situation) {
			s.Names = []event.Name{{Kind: "campaign", Name: "op-later"}}
		}))
	}
	f.pic.Apply(deltas(all...))
	conn := f.connect(t, "cmdr-green", false)
	for m := readMessage(t, conn); len(m.Campaigns) == 0; m = readMessage(t, conn) {
		if len(m.Situations) > 0 && m.Type != "snapshot" {
			t.Fatalf("a delta resends situations %v though nothing changed", ids(m.Situations))
		}
	}
}
