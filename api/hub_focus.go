package api

// The focus of a bounded picture: beyond its view's best N, a client may hold the best
// situations of its view restricted to some countries (the area its map shows) and to
// those seen since a time (its list's window), so that zooming the map or narrowing the
// window shows what the bound left out. A focus only narrows: its situations are those
// of the client's own view (same identity, same view, the same marking rules: TLP
// ceiling, releasability, exercise, mission area) that also match it, redacted as every
// other. docs/websocket.md ("Zooming and filtering") describes the protocol.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/picture"
)

const (
	// maxFocusCountries is how many countries a focus may name: a map zoomed out
	// further shows the view itself.
	maxFocusCountries = 64
	// focusEvery is how often a client's focus is changed: a map panned continuously
	// asks a new focus at every step, and a new focus costs a scan of the picture.
	focusEvery = 500 * time.Millisecond
	// focusKeep is how long a focus no client holds is kept, for a map panned back.
	focusKeep = 10 * time.Second
)

// Focus is what a client asks to hold beyond its view's best N: the best Limit situations
// of its view with one of Countries (none: any) and last seen at or after Since (nil: any
// time).
type Focus struct {
	Countries []string   `json:"countries"`
	Since     *time.Time `json:"since,omitempty"`
	Limit     int        `json:"limit"`
}

// active reports whether f restricts anything: an empty focus is none.
func (f *Focus) active() bool { return len(f.Countries) > 0 || f.Since != nil }

// key names what f matches (not its limit): clients with equal keys share its top.
func (f *Focus) key() string {
	k := strings.Join(f.Countries, ",")
	if f.Since != nil {
		k += "@" + strconv.FormatInt(f.Since.UnixNano(), 10)
	}
	return k
}

// match reports whether s is in focus; the view's rules are checked beside it.
func (f *Focus) match(s *picture.Situation) bool {
	if f.Since != nil && s.LastSeen.Before(*f.Since) {
		return false
	}
	if len(f.Countries) == 0 {
		return true
	}
	for _, c := range s.Countries {
		if _, ok := slices.BinarySearch(f.Countries, c); ok {
			return true
		}
	}
	return false
}

// FocusState is the focus a client holds, as the server applied it, and how many
// situations of its view match it: the "M" of "N of M in this area".
type FocusState struct {
	Focus
	Total int `json:"total"`
}

// focusRequest is {"type":"focus",...} as a client sends it.
type focusRequest struct {
	Countries []string `json:"countries"`
	Since     string   `json:"since"`
	Limit     int      `json:"limit"`
}

// focus checks r and returns the focus it asks, its limit within 1..n*maxViewPages
// (0: n). The error names the field and what was expected.
func (r focusRequest) focus(n int) (Focus, error) {
	var f Focus
	if len(r.Countries) > maxFocusCountries {
		return f, fmt.Errorf("focus countries: want at most %d, got %d", maxFocusCountries, len(r.Countries))
	}
	for _, c := range r.Countries {
		if len(c) != 2 || !isLetters(c) {
			return f, fmt.Errorf("focus countries: want ISO 3166 alpha-2 codes, got %.8q", c)
		}
		f.Countries = append(f.Countries, strings.ToUpper(c))
	}
	slices.Sort(f.Countries)
	f.Countries = slices.Compact(f.Countries)
	if r.Since != "" {
		t, err := time.Parse(time.RFC3339, r.Since)
		if err != nil {
			return f, fmt.Errorf("focus since: want an RFC 3339 time, got %.32q", r.Since)
		}
		f.Since = &t
	}
	if r.Limit < 0 {
		return f, fmt.Errorf("focus limit: want 0 or more, got %d", r.Limit)
	}
	f.Limit = min(max(r.Limit, 0), n*maxViewPages)
	if f.Limit == 0 {
		f.Limit = n
	}
	if f.Countries == nil {
		f.Countries = []string{}
	}
	return f, nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// readFocus applies a focus message b from c; false when it was malformed and c is
// closed (1003, saying which field and what was expected).
func (h *Hub) readFocus(c *client, b []byte) bool {
	var r focusRequest
	if err := json.Unmarshal(b, &r); err != nil {
		c.close(websocket.CloseUnsupportedData, `focus: want {"type":"focus","countries":["UA",…],"since":"RFC 3339","limit":n}`)
		return false
	}
	f, err := r.focus(h.bounded.n)
	if err != nil {
		c.close(websocket.CloseUnsupportedData, err.Error())
		return false
	}
	if h.isBounded() { // else the client holds its whole view already
		h.askFocus(c, f)
	}
	return true
}

// focusHold is a client's focus. Client lock should be held.
type focusHold struct {
	f     Focus    // applied: what ft is of
	ft    *viewTop // its top; nil: no focus
	key   string   // ft's key in boundedHub.views
	asked *Focus   // the latest asked, applied by a flush at most every focusEvery
	at    time.Time
}

// askFocus records the focus c asks; its next flush (or snapshot) applies it.
func (h *Hub) askFocus(c *client, f Focus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.focus.asked = &f
}

// applyFocus applies the focus c asked, if it asked one, unless it changed its focus less
// than focusEvery ago (force: now). c.mu should be held.
func (h *Hub) applyFocus(c *client, now time.Time, force bool) {
	fh := &c.b.focus
	if fh.asked == nil || !force && now.Sub(fh.at) < focusEvery {
		return
	}
	fh.f, fh.asked, fh.at = *fh.asked, nil, now
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attachFocusLocked(c)
}

// attachFocusLocked makes c a holder of the top of its focus under its current view,
// letting go of the one it held. Hub lock and c.mu should be held.
func (h *Hub) attachFocusLocked(c *client) {
	h.detachFocusLocked(c)
	fh := &c.b.focus
	if !fh.f.active() || c.b.vt == nil {
		return
	}
	h.pruneViewsLocked(time.Now())
	key := c.key + "\x00focus\x00" + fh.f.key()
	ft := h.bounded.views[key]
	if ft == nil {
		ft = newViewTop(c.id, c.view, h.missions)
		f := fh.f
		f.Countries = slices.Clone(f.Countries)
		ft.focus = &f
		h.bounded.views[key] = ft
	}
	ft.refs++
	fh.ft, fh.key = ft, key
}

// detachFocusLocked lets go of c's focus top. Hub lock and c.mu should be held.
func (h *Hub) detachFocusLocked(c *client) {
	fh := &c.b.focus
	if fh.ft == nil {
		return
	}
	if fh.ft.refs--; fh.ft.refs <= 0 {
		fh.ft.idleAt = time.Now()
	}
	fh.ft, fh.key = nil, ""
}

// pruneViewsLocked lets go of the views and focuses no client has held for a while.
// Hub lock should be held.
func (h *Hub) pruneViewsLocked(now time.Time) {
	if h.bounded.views == nil {
		h.bounded.views = map[string]*viewTop{}
	}
	for k, o := range h.bounded.views {
		keep := viewKeep
		if o.focus != nil {
			keep = focusKeep
		}
		if o.refs <= 0 && now.Sub(o.idleAt) > keep {
			delete(h.bounded.views, k)
		}
	}
}

// wanted is what a bounded client asks to hold: its view's best limit, and the best
// flimit of its focus (ft nil: none).
type wanted struct {
	limit  int
	ft     *viewTop
	flimit int
	focus  Focus
}

// wanted returns what c asks to hold. c.mu should be held.
func (c *client) wanted() wanted {
	w := wanted{limit: c.b.limit}
	if fh := &c.b.focus; fh.ft != nil {
		w.ft, w.flimit, w.focus = fh.ft, fh.f.Limit, fh.f
	}
	return w
}

// focusKey names w's focus and limit ("" without one), for the snapshots shared.
func (w wanted) focusKey() string {
	if w.ft == nil {
		return ""
	}
	return w.focus.key() + "/" + strconv.Itoa(w.flimit)
}

// lock locks vt and then w's focus top (always in this order: a focus top belongs to
// one view's).
func (w wanted) lock(vt *viewTop) {
	vt.mu.Lock()
	if w.ft != nil {
		w.ft.mu.Lock()
	}
}

func (w wanted) unlock(vt *viewTop) {
	if w.ft != nil {
		w.ft.mu.Unlock()
	}
	vt.mu.Unlock()
}

// withoutUnbuilt returns what of w can be sent now, and starts scanning the picture for
// w's focus on a goroutine of its own when its top is not built (a map just moved) or
// runs short of w.flimit (more asked, or more left it than it keeps spare): a scan must
// not hold up the hub's flushes of every other client. Meanwhile w is sent without its
// focus, or with as many of it as its top holds (they are its best: the top stays
// ordered, only short); the next flush after the scan sends the rest. Both locks
// should be held.
func (w wanted) withoutUnbuilt(p *Picture) wanted {
	ft := w.ft
	if ft == nil {
		return w
	}
	want := max(ft.want, w.flimit)
	if short := !ft.built || !ft.complete && len(ft.top) < want; short && !ft.building {
		ft.building = true
		capacity := want + topSlack
		go func() {
			all, seq := p.Snapshot()
			sc := ft.scan(all, seq, capacity)
			ft.mu.Lock()
			defer ft.mu.Unlock()
			ft.building = false
			// Installed even if the top moved on meanwhile: advancing from the scan's
			// sequence brings it back to where it was.
			ft.install(sc)
			ft.want = max(ft.want, want)
		}()
	}
	switch {
	case !ft.built:
		return wanted{limit: w.limit}
	case ft.building:
		w.flimit = min(w.flimit, len(ft.top)) // asks no more of advance than it holds
	}
	return w
}

// advance brings vt and w's focus top to one sequence of the picture (a few tries: the
// picture may change between the two). Both locks should be held (lock).
func (w wanted) advance(p *Picture, vt *viewTop) {
	vt.advance(p, w.limit)
	if w.ft == nil {
		return
	}
	for range 4 {
		w.ft.advance(p, w.flimit)
		if w.ft.seq == vt.seq {
			return
		}
		vt.advance(p, w.limit)
		if w.ft.seq == vt.seq {
			return
		}
	}
}

// withFocus adds to es (the view's best, a prefix of its top) the best of w's focus that
// it lacks, in the view's order, and takes them out of rest. Both locks should be held.
func (w wanted) withFocus(es []topEntry, rest Counts) ([]topEntry, Counts) {
	if w.ft == nil {
		return es, rest
	}
	out := slices.Clone(es) // es shares the view's top: never appended to
	at := make(map[string]int, len(out))
	for i, e := range out {
		at[e.s.ID] = i
	}
	for _, e := range w.ft.top[:min(w.flimit, len(w.ft.top))] {
		if i, ok := at[e.s.ID]; ok {
			if e.s.Version > out[i].s.Version {
				out[i] = e
			}
			continue
		}
		out = append(out, e)
		rest.add(e.s, -1)
	}
	slices.SortFunc(out, compareEntries)
	return out, rest
}

// focusState is what the client is told of its focus, when it changed since held (nil:
// nothing to tell). Both locks should be held.
func (w wanted) focusState(held *holding, next *holding) *FocusState {
	if w.ft != nil {
		next.focusKey, next.flimit, next.ftotal, next.fseq = w.ft.focus.key(), w.flimit, w.ft.all.Total, w.ft.seq
	}
	if held == nil && w.ft == nil ||
		held != nil && held.focusKey == next.focusKey && held.flimit == next.flimit && held.ftotal == next.ftotal {
		return nil
	}
	if w.ft == nil {
		return &FocusState{Focus: Focus{Countries: []string{}}}
	}
	return &FocusState{Focus: w.focus, Total: next.ftotal}
}

// changedSince reports whether w's focus changed from what held was built with. Both
// locks should be held.
func (w wanted) changedSince(held *holding) bool {
	if w.ft == nil {
		return held.focusKey != ""
	}
	return held.focusKey != w.ft.focus.key() || held.flimit != w.flimit || held.fseq != w.ft.seq
}
