package api

// The bounded picture of one view: the best situations of that view by its order, kept
// current from the picture's changes, and counts of everything else it may see.

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// topSlack is how many situations a view keeps beyond the most its clients hold, so that
// situations leaving the top are replaced from it without a scan of the picture. A
// variable so that tests can make the top run short.
var topSlack = 128

// topEntry is one situation of a view's top: its order key (access.OrderKey) and its
// current version.
type topEntry struct {
	key float64
	s   *picture.Situation
}

// before reports whether a ranks before b in the view's order (access.CompareRanked).
func (a topEntry) before(b topEntry) bool {
	if a.key != b.key {
		return a.key > b.key
	}
	return a.s.ID < b.s.ID
}

func compareEntries(a, b topEntry) int {
	if c := cmp.Compare(b.key, a.key); c != 0 {
		return c
	}
	return strings.Compare(a.s.ID, b.s.ID)
}

// Counts are how many situations a view may see, by country and by sector; a situation
// of two countries counts in both.
type Counts struct {
	Total     int            `json:"total"`
	Countries map[string]int `json:"countries"`
	Sectors   map[string]int `json:"sectors"`
}

func newCounts() Counts { return Counts{Countries: map[string]int{}, Sectors: map[string]int{}} }

func (c *Counts) add(s *picture.Situation, n int) {
	c.Total += n
	for _, k := range s.Countries {
		if c.Countries[k] += n; c.Countries[k] == 0 {
			delete(c.Countries, k)
		}
	}
	for _, k := range s.Sectors {
		if c.Sectors[k] += n; c.Sectors[k] == 0 {
			delete(c.Sectors, k)
		}
	}
}

func (c Counts) clone() Counts {
	out := Counts{Total: c.Total, Countries: make(map[string]int, len(c.Countries)), Sectors: make(map[string]int, len(c.Sectors))}
	for k, n := range c.Countries {
		out.Countries[k] = n
	}
	for k, n := range c.Sectors {
		out.Sectors[k] = n
	}
	return out
}

func (c Counts) equal(o Counts) bool {
	if c.Total != o.Total || len(c.Countries) != len(o.Countries) || len(c.Sectors) != len(o.Sectors) {
		return false
	}
	for k, n := range c.Countries {
		if o.Countries[k] != n {
			return false
		}
	}
	for k, n := range c.Sectors {
		if o.Sectors[k] != n {
			return false
		}
	}
	return true
}

// viewTop is the bounded picture of one scope (identity and view): the best situations it
// may see, best first, and counts of all it may see. Every visible situation not in top
// ranks after top's last one, so top[:n] is the view's best n for any n ≤ len(top), and
// all of it when complete. It is advanced from the picture's history: the cost of a change
// is a binary search and, for one entering the top, a copy of at most want+topSlack
// entries; a scan of the whole picture happens only when the top runs short (more left it
// than topSlack) or the history no longer reaches its sequence.
type viewTop struct {
	id       access.Identity
	v        access.View
	missions access.Missions
	// focus, on the top of a client's focus (hub_focus.go), narrows the view to what
	// matches it; nil on a view's own top.
	focus *Focus

	mu       sync.Mutex
	refs     int                // clients holding it; Hub lock should be held.
	idleAt   time.Time          // when refs fell to 0; Hub lock should be held.
	seq      uint64             // the picture sequence top and counts are of; Lock should be held.
	built    bool               // Lock should be held.
	top      []topEntry         // Lock should be held.
	in       map[string]float64 // the key of each situation in top; Lock should be held.
	complete bool               // top holds every visible situation; Lock should be held.
	all      Counts             // every visible situation; Lock should be held.
	want     int                // the most situations a client of this view holds; Lock should be held.
	merged   map[string]string  // situations seen leaving by merging, and into which; Lock should be held.
	scans    int                // full scans so far (tests, metrics); Lock should be held.
	building bool               // a goroutine is scanning the picture for it (hub_focus.go); Lock should be held.

	// The view's campaigns, grouped over every situation it may see at campSeq, at most
	// every campaignEvery. Lock should be held.
	camps    []picture.Campaign
	campOf   map[string]int
	campSeq  uint64
	campAt   time.Time
	grouping bool   // a goroutine is grouping them
	campGen  uint64 // bumped by every grouping kept
	// links are the campaign links the hub groups with (Hub.Campaigns).
	links picture.CampaignConfig
}

func newViewTop(id access.Identity, v access.View, missions access.Missions) *viewTop {
	return &viewTop{id: id, v: v, missions: missions, in: map[string]float64{}, all: newCounts(), merged: map[string]string{}}
}

func (t *viewTop) visible(s *picture.Situation) bool {
	return s != nil && t.id.SituationVisible(s, t.v, t.missions) && (t.focus == nil || t.focus.match(s))
}

func (t *viewTop) entry(s *picture.Situation) topEntry {
	return topEntry{key: t.missions.OrderKey(t.v, s), s: s}
}

// capacity is how many entries top keeps. Lock should be held.
func (t *viewTop) capacity() int { return t.want + topSlack }

// advance brings the view to the picture's current sequence, with at least want
// situations in top when the view has that many. Lock should be held.
func (t *viewTop) advance(p *Picture, want int) {
	t.want = max(t.want, want)
	if !t.built {
		t.rebuild(p)
		return
	}
	changes, to, ok := p.Since(t.seq)
	if !ok {
		t.rebuild(p)
		return
	}
	t.apply(changes)
	t.seq = to
	if !t.complete && len(t.top) < t.want && !t.building { // a focus's top is scanned beside (hub_focus.go)
		t.rebuild(p)
	}
}

// apply folds changes since t.seq into top and counts. Lock should be held.
func (t *viewTop) apply(changes []Change) {
	if len(t.merged) > 4*t.capacity() {
		clear(t.merged)
	}
	for i := range changes {
		ch := &changes[i]
		if t.visible(ch.Prev) {
			t.all.add(ch.Prev, -1)
		}
		if k, ok := t.in[ch.ID]; ok {
			t.remove(ch.ID, k)
		}
		if ch.Cur == nil && ch.MergedInto != "" {
			t.merged[ch.ID] = ch.MergedInto
		}
		if t.visible(ch.Cur) {
			t.all.add(ch.Cur, 1)
			t.offer(t.entry(ch.Cur))
		}
	}
}

func (t *viewTop) remove(id string, key float64) {
	i, found := slices.BinarySearchFunc(t.top, topEntry{key: key, s: &picture.Situation{ID: id}}, compareEntries)
	if !found {
		panic("BUG: a situation of the view's top is not where its key says")
	}
	t.top = slices.Delete(t.top, i, i+1)
	delete(t.in, id)
}

// offer places a visible situation in top if it ranks there.
func (t *viewTop) offer(e topEntry) {
	if !t.complete && (len(t.top) == 0 || !e.before(t.top[len(t.top)-1])) {
		return // among the rest, which rank after top
	}
	i, _ := slices.BinarySearchFunc(t.top, e, compareEntries)
	t.top = slices.Insert(t.top, i, e)
	t.in[e.s.ID] = e.key
	if len(t.top) > t.capacity() {
		last := t.top[len(t.top)-1]
		t.top = t.top[:len(t.top)-1]
		delete(t.in, last.s.ID)
		t.complete = false
	}
}

// rebuild scans the whole picture. Lock should be held.
func (t *viewTop) rebuild(p *Picture) {
	all, seq := p.Snapshot()
	t.install(t.scan(all, seq, t.capacity()))
}

// scanned is one scan of the picture for a view: its best capacity entries, best first,
// whether that is all it may see, and the counts of all it may see.
type scanned struct {
	es       []topEntry
	complete bool
	all      Counts
	seq      uint64
}

// scan reads all, the picture at seq, for the view. It reads only what does not change
// (identity, view, missions, focus): no lock needed.
func (t *viewTop) scan(all []*picture.Situation, seq uint64, capacity int) scanned {
	sc := scanned{all: newCounts(), seq: seq}
	for _, s := range all {
		if t.visible(s) {
			sc.all.add(s, 1)
			sc.es = append(sc.es, t.entry(s))
		}
	}
	slices.SortFunc(sc.es, compareEntries)
	sc.complete = len(sc.es) <= capacity
	sc.es = slices.Clip(sc.es[:min(len(sc.es), capacity)])
	return sc
}

// install makes sc the view's top and counts. Lock should be held.
func (t *viewTop) install(sc scanned) {
	t.scans++
	t.all, t.complete, t.top = sc.all, sc.complete, sc.es
	clear(t.in)
	for _, e := range t.top {
		t.in[e.s.ID] = e.key
	}
	t.seq, t.built = sc.seq, true
}

// best returns the view's best n situations and the counts of the rest. Lock should be held.
func (t *viewTop) best(n int) ([]topEntry, Counts) {
	es := t.top[:min(n, len(t.top))]
	rest := t.all.clone()
	for _, e := range es {
		rest.add(e.s, -1)
	}
	return es, rest
}

// campaigns returns the view's campaigns. With every > 0 they are grouped again on a
// goroutine of their own when the picture changed and the last grouping is older than
// every, and the last grouping is returned meanwhile (none before the first): grouping
// reads every situation the view may see, which must not hold up the hub's flushes nor a
// snapshot. With every 0 they are grouped at once whenever the view changed (tests, cop
// bench quality). Lock should be held.
func (t *viewTop) campaigns(p *Picture, every time.Duration, now time.Time) ([]picture.Campaign, map[string]int) {
	if t.campOf != nil && (t.campSeq == t.seq || now.Sub(t.campAt) < every) {
		return t.camps, t.campOf
	}
	if every <= 0 {
		t.setCampaigns(t.group(p))
		return t.camps, t.campOf
	}
	if !t.grouping {
		t.grouping = true
		t.campAt = now
		go func() {
			g := t.group(p)
			t.mu.Lock()
			defer t.mu.Unlock()
			t.grouping = false
			t.setCampaigns(g)
		}()
	}
	return t.camps, t.campOf
}

// grouped is one grouping of a view's campaigns, of the picture at seq.
type grouped struct {
	camps []picture.Campaign
	seq   uint64
	at    time.Time
}

// group groups every situation the view may see now. It reads only what does not
// change (identity, view, missions): no lock needed.
func (t *viewTop) group(p *Picture) grouped {
	all, seq := p.Snapshot()
	var vis []*picture.Situation
	for _, s := range all {
		if t.visible(s) {
			vis = append(vis, s)
		}
	}
	return grouped{camps: picture.GroupCampaigns(vis, t.links), seq: seq, at: time.Now()}
}

// setCampaigns keeps g. Lock should be held.
func (t *viewTop) setCampaigns(g grouped) {
	t.camps = g.camps
	t.campOf = map[string]int{}
	for i, c := range t.camps {
		for _, id := range c.Situations {
			t.campOf[id] = i
		}
	}
	t.campSeq, t.campAt = g.seq, g.at
	t.campGen++
}
