package api

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// sendFocus sends {"type":"focus",...} with the given fields.
func sendFocus(t testing.TB, conn *websocket.Conn, fields map[string]any) {
	t.Helper()
	m := map[string]any{"type": "focus"}
	for k, v := range fields {
		m[k] = v
	}
	if err := conn.WriteJSON(m); err != nil {
		t.Fatalf("cannot send focus: %v", err)
	}
}

// readHeld applies messages to p until one carries a focus state with total > 0 or
// until done(p) holds, failing after 10 s; it returns the last focus state seen.
func readHeld(t testing.TB, conn *websocket.Conn, p *heldPicture, done func(*heldPicture, *FocusState) bool) *FocusState {
	t.Helper()
	var fs *FocusState
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		m := readMessage(t, conn)
		p.apply(t, &m)
		if m.Focus != nil {
			fs = m.Focus
		}
		if done(p, fs) {
			return fs
		}
	}
	t.Fatalf("the client holds %v, focus %+v: not what was awaited after 10 s", keysOf(p.situations), fs)
	return nil
}

func holds(p *heldPicture, ids ...string) bool {
	for _, id := range ids {
		if _, ok := p.situations[id]; !ok {
			return false
		}
	}
	return true
}

// TestFocusBringsTheBestOfTheAreaBeyondTheTopAndKeepsThemCurrent: with a bound of 3, a
// client whose top is all Bosnia focuses on Croatia (its map zoomed there): it is sent
// Croatia's best 3, which the bound left out, and how many of its view are there; a
// change to one of them reaches it, one that rises past them pushes the last out, and
// clearing the focus takes back what only the focus brought.
func TestFocusBringsTheBestOfTheAreaBeyondTheTopAndKeepsThemCurrent(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.Hub.SetViewTop(3, 0)
	var all []picture.Situation
	for i := range 5 {
		all = append(all, sit(fmt.Sprintf("ba%d", i), event.TLPGreen, func(s *picture.Situation) { s.Score = float64(90 - i) }))
	}
	for i := range 4 {
		all = append(all, sit(fmt.Sprintf("hr%d", i), event.TLPGreen, func(s *picture.Situation) {
			s.Score, s.Countries = float64(40-i), []string{"HR"}
		}))
	}
	f.pic.Apply(deltas(all...))
	conn := f.connect(t, "analyst-1", false)
	p := &heldPicture{}
	snap := readMessage(t, conn)
	p.apply(t, &snap)
	if got := ids(snap.Situations); !slices.Equal(got, []string{"ba0", "ba1", "ba2"}) || snap.Focus != nil {
		t.Fatalf("snapshot %v focus %+v, want [ba0 ba1 ba2] and no focus", got, snap.Focus)
	}
	sendFocus(t, conn, map[string]any{"countries": []string{"hr"}})
	fs := readHeld(t, conn, p, func(p *heldPicture, fs *FocusState) bool { return fs != nil })
	if !holds(p, "ba0", "ba1", "ba2", "hr0", "hr1", "hr2") || holds(p, "hr3") || len(p.situations) != 6 {
		t.Errorf("after the focus the client holds %v, want the top 3 and Croatia's best 3", keysOf(p.situations))
	}
	if !slices.Equal(fs.Countries, []string{"HR"}) || fs.Total != 4 || fs.Limit != 3 {
		t.Errorf("focus state %+v, want HR, 4 of the view there, limit 3", fs)
	}
	if p.rest.Total != 3 || p.rest.Countries["HR"] != 1 || p.rest.Countries["BA"] != 2 {
		t.Errorf("rest %+v, want the 3 not held (hr3, ba3, ba4)", p.rest)
	}

	f.pic.Apply(deltas(withVersion(all[6], 2, func(s *picture.Situation) { s.Title = "hr1 changed" })))
	readHeld(t, conn, p, func(p *heldPicture, _ *FocusState) bool { return strings.Contains(p.situations["hr1"], "hr1 changed") })

	f.pic.Apply(deltas(sit("hr-new", event.TLPGreen, func(s *picture.Situation) { s.Score, s.Countries = 45, []string{"HR"} })))
	fs = readHeld(t, conn, p, func(p *heldPicture, _ *FocusState) bool { return holds(p, "hr-new") })
	if holds(p, "hr2") || fs == nil || fs.Total != 5 {
		t.Errorf("after hr-new the client holds %v focus %+v, want hr2 pushed out of the focus's 3 and 5 in the area", keysOf(p.situations), fs)
	}

	sendFocus(t, conn, map[string]any{})
	fs = readHeld(t, conn, p, func(p *heldPicture, fs *FocusState) bool { return fs != nil && len(fs.Countries) == 0 })
	if len(p.situations) != 3 || !holds(p, "ba0", "ba1", "ba2") || fs.Total != 0 {
		t.Errorf("after clearing the focus the client holds %v focus %+v, want its top 3 alone", keysOf(p.situations), fs)
	}
}

// TestFocusSinceBringsTheRecentBeyondTheTop: the list's time window is a focus too: the
// best situations of the view last seen within it, beyond the top.
func TestFocusSinceBringsTheRecentBeyondTheTop(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.Hub.SetViewTop(2, 0)
	old := time.Now().Add(-3 * time.Hour)
	var all []picture.Situation
	for i := range 4 {
		all = append(all, sit(fmt.Sprintf("old%d", i), event.TLPGreen, func(s *picture.Situation) { s.Score, s.LastSeen = float64(90-i), old }))
	}
	all = append(all, sit("recent", event.TLPGreen, func(s *picture.Situation) { s.Score = 10 }))
	f.pic.Apply(deltas(all...))
	conn := f.connect(t, "cmdr-green", false)
	p := &heldPicture{}
	snap := readMessage(t, conn)
	p.apply(t, &snap)
	sendFocus(t, conn, map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)})
	fs := readHeld(t, conn, p, func(p *heldPicture, fs *FocusState) bool { return fs != nil })
	if !holds(p, "old0", "old1", "recent") || len(p.situations) != 3 || fs.Total != 1 || fs.Since == nil {
		t.Errorf("holds %v focus %+v, want the top 2 and the one seen in the last hour", keysOf(p.situations), fs)
	}
}

// TestFocusMalformedIsRefusedSayingWhichField: a focus the server cannot apply closes the
// socket with 1003 and a reason naming the field and what was expected.
func TestFocusMalformedIsRefusedSayingWhichField(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.Hub.SetViewTop(5, 0)
	long := make([]string, maxFocusCountries+1)
	for i := range long {
		long[i] = "BA"
	}
	for _, c := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"countries": []string{"USA"}}, "focus countries: want ISO 3166 alpha-2"},
		{map[string]any{"countries": long}, "focus countries: want at most 64"},
		{map[string]any{"since": "yesterday"}, "focus since: want an RFC 3339 time"},
		{map[string]any{"limit": -1}, "focus limit: want 0 or more"},
		{map[string]any{"countries": "BA"}, "focus: want {"},
	} {
		conn := f.connect(t, "analyst-1", false)
		readMessage(t, conn)
		sendFocus(t, conn, c.fields)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var err error
		for err == nil {
			_, _, err = conn.ReadMessage()
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseUnsupportedData || !strings.HasPrefix(ce.Text, c.want) {
			t.Errorf("focus %v: closed with %v, want 1003 %q…", c.fields, err, c.want)
		}
		conn.Close()
	}
}

// TestFocusedDeltasKeepTheClientEqualToAFreshSnapshot is the bounded picture's invariant
// with a focus: applying the snapshot and every delta, while the picture changes and the
// focus moves (countries, a time, none), gives what a fresh snapshot of the view and
// focus would.
func TestFocusedDeltasKeepTheClientEqualToAFreshSnapshot(t *testing.T) {
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
	topSlack = 2
	soon := time.Now().Add(time.Minute)
	focuses := []Focus{{}, {Countries: []string{"HR"}, Limit: 3}, {Countries: []string{"FR", "UA"}, Limit: 2},
		{Countries: []string{"BA"}, Limit: 4}, {Since: &soon, Limit: 3}, {Countries: []string{"UA"}, Since: &soon, Limit: 2}}
	fresh := func(h *Hub, id access.Identity, v access.View, limit int, fc Focus) *heldPicture {
		vt := newViewTop(id, v, h.missions)
		w := wanted{limit: limit}
		if fc.active() {
			w.ft, w.flimit, w.focus = newViewTop(id, v, h.missions), fc.Limit, fc
			w.ft.focus = &w.focus
		}
		w.lock(vt)
		defer w.unlock(vt)
		w.advance(h.picture, vt)
		m, _ := h.boundedMessageOf(vt, nil, w, "snapshot", time.Now())
		p := &heldPicture{}
		p.apply(t, m)
		return p
	}
	for seed := uint64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		pic := NewPicture(PictureConfig{History: 64})
		h := boundedHubFor(pic, 3)
		versions := map[string]uint64{}
		next := func(id string) picture.Situation {
			versions[id]++
			s := boundedSituation(r, id, versions[id])
			if r.IntN(2) == 0 {
				s.LastSeen = soon.Add(time.Second) // within the time focuses
			}
			return s
		}
		var initial []picture.Situation
		for i := range 14 {
			initial = append(initial, next(fmt.Sprintf("s%02d", i)))
		}
		pic.Apply(deltas(initial...))
		for _, vw := range viewers {
			vt := newViewTop(vw.id, vw.v, h.missions)
			tops := map[string]*viewTop{}
			want := func(fc Focus) wanted {
				w := wanted{limit: 3}
				if fc.active() {
					ft := tops[fc.key()]
					if ft == nil {
						ft = newViewTop(vw.id, vw.v, h.missions)
						f := fc
						ft.focus = &f
						tops[fc.key()] = ft
					}
					w.ft, w.flimit, w.focus = ft, fc.Limit, fc
				}
				return w
			}
			fc := focuses[r.IntN(len(focuses))]
			w := want(fc)
			w.lock(vt)
			w.advance(pic, vt)
			m, held := h.boundedMessageOf(vt, nil, w, "snapshot", time.Now())
			w.unlock(vt)
			client := &heldPicture{}
			client.apply(t, m)
			for round := range 12 {
				var ds []picture.Delta
				for range 1 + r.IntN(5) {
					id := fmt.Sprintf("s%02d", r.IntN(20))
					if r.IntN(5) == 0 && versions[id] > 0 {
						versions[id] += 10
						ds = append(ds, picture.Delta{Situation: picture.Situation{ID: id, Version: versions[id]}, Removed: true, MergedInto: "s00"})
						continue
					}
					ds = append(ds, picture.Delta{Situation: next(id)})
				}
				pic.Apply(ds)
				if r.IntN(3) == 0 {
					fc = focuses[r.IntN(len(focuses))] // the map moved
				}
				w = want(fc)
				w.lock(vt)
				w.advance(pic, vt)
				m, held = h.boundedMessageOf(vt, held, w, "delta", time.Now())
				w.unlock(vt)
				client.apply(t, m)
				if d := client.equal(fresh(h, vw.id, vw.v, 3, fc)); d != "" {
					t.Fatalf("seed %d %s round %d focus %+v: after the deltas the client holds %s", seed, vw.id.Name, round, fc, d)
				}
			}
		}
	}
}

// TestFocusIsBuiltOffTheFlush: a new focus's top (a scan of the picture) is built on a
// goroutine of its own, not on the hub's flush: the flush that finds it unbuilt sends
// the view alone, and a later one what the focus brings; one asked for more than its top
// holds ("more") is scanned again beside too, sending what it holds meanwhile.
func TestFocusIsBuiltOffTheFlush(t *testing.T) {
	defer func(s int) { topSlack = s }(topSlack)
	topSlack = 0 // so that asking 3 of Croatia finds the top holding 2
	pic := NewPicture(PictureConfig{})
	var all []picture.Situation
	for i := range 6 {
		all = append(all, sit(fmt.Sprintf("s%d", i), event.TLPGreen, func(s *picture.Situation) {
			s.Score, s.Countries = float64(90-i), [][]string{{"BA"}, {"HR"}}[i%2]
		}))
	}
	pic.Apply(deltas(all...))
	h := boundedHubFor(pic, 2)
	id := matrixIdentities[4]
	vt := newViewTop(id, access.View{}, h.missions)
	f := Focus{Countries: []string{"HR"}, Limit: 2}
	w := wanted{limit: 2, ft: newViewTop(id, access.View{}, h.missions), flimit: 2, focus: f}
	w.ft.focus = &w.focus
	w.lock(vt)
	sw := w.withoutUnbuilt(pic)
	sw.advance(pic, vt)
	m, held := h.boundedMessageOf(vt, nil, sw, "snapshot", time.Now())
	w.unlock(vt)
	if sw.ft != nil || !slices.Equal(ids(m.Situations), []string{"s0", "s1"}) || m.Focus != nil {
		t.Fatalf("the flush that finds the focus unbuilt sends %v focus %+v, want the view's best alone", ids(m.Situations), m.Focus)
	}
	built := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			w.ft.mu.Lock()
			done := w.ft.built && !w.ft.building
			w.ft.mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the focus's top is not built after 10 s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	built()
	w.lock(vt)
	sw = w.withoutUnbuilt(pic)
	sw.advance(pic, vt)
	m, held = h.boundedMessageOf(vt, held, sw, "delta", time.Now())
	w.unlock(vt)
	if !slices.Equal(ids(m.Situations), []string{"s3"}) || m.Focus == nil || m.Focus.Total != 3 {
		t.Errorf("the next flush sends %v focus %+v, want s3 (Croatia's best 2 are s1 and s3) and 3 in the area", ids(m.Situations), m.Focus)
	}

	w.flimit, w.focus.Limit = 3, 3 // more of Croatia
	w.lock(vt)
	scans := w.ft.scans
	sw = w.withoutUnbuilt(pic)
	sw.advance(pic, vt)
	m, held = h.boundedMessageOf(vt, held, sw, "delta", time.Now())
	again := w.ft.scans
	w.unlock(vt)
	if sw.flimit != 2 || again != scans || len(m.Situations) != 0 {
		t.Errorf("asked for 3 of a top of 2, the flush holds %d of it after %d scans on it, sends %v: want the 2 it holds, no scan, nothing new", sw.flimit, again-scans, ids(m.Situations))
	}
	built()
	w.lock(vt)
	sw = w.withoutUnbuilt(pic)
	sw.advance(pic, vt)
	m, _ = h.boundedMessageOf(vt, held, sw, "delta", time.Now())
	w.unlock(vt)
	if !slices.Equal(ids(m.Situations), []string{"s5"}) {
		t.Errorf("once scanned again the flush sends %v, want s5, Croatia's third", ids(m.Situations))
	}
}
