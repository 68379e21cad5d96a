package correlate

// What a situation accumulates from its members: the most severe event's fields, its
// place, contributors and their confidence, sets of countries, sectors and techniques,
// releasability, and the member ids it lists.

import (
	"encoding/hex"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

func better(sev event.Severity, at int64, idh uint64, bsev event.Severity, bat int64, bidh uint64) bool {
	if sev != bsev {
		return sev > bsev
	}
	if at != bat {
		return at < bat
	}
	return idh < bidh
}

// addEvent folds one event into its situation's aggregates.
// idh is hashString(seedID, ev.ID).
func (e *Engine) addEvent(d *sitData, ev *event.Event, ci, conf uint32, idh uint64) {
	at := ev.ObservedAt.UnixNano()
	d.events++
	d.first = min(d.first, at)
	d.last = max(d.last, at)
	d.tlp = max(d.tlp, ev.TLP)
	if d.events == 1 || better(ev.Severity, at, idh, d.sev, d.bestAt, d.bestIDH) {
		d.sev, d.bestAt, d.bestIDH, d.kind = ev.Severity, at, idh, ev.Kind
		// Keep what the arena holds when the text is unchanged.
		if e.arena.str(d.title) != ev.Title {
			e.arena.free(d.title)
			d.title = e.arena.add(ev.Title)
		}
		d.category = 0
		if ev.Category != "" {
			d.category = e.word(ev.Category) + 1
		}
	}
	if g := ev.Geo; g != nil {
		if d.place == 0 {
			d.place = e.newPlace()
			*e.places.at(d.place) = place{at, idh, g.Lat, g.Lon, ev.Severity}
		} else if p := e.places.at(d.place); better(ev.Severity, at, idh, p.sev, p.at, p.idh) {
			*p = place{at, idh, g.Lat, g.Lon, ev.Severity}
		}
	}
	aux := conf | min(ev.FalsePositives, fpMax)<<fpShift
	if ev.Anonymise {
		aux |= anonBit
	}
	if e.addContributor(d, ci, aux) {
		e.recomputeEvidence(d)
	}
	for _, s := range ev.Countries {
		e.addToSet(&d.countryBits, &d.countries, e.word(s))
	}
	for _, s := range ev.Techniques {
		e.addToSet(&d.techBits, &d.techs, e.word(s))
	}
	for _, n := range ev.Names {
		d.names = e.addWord(d.names, e.word(n.Kind+":"+n.Name))
	}
	for _, s := range ev.Sectors {
		w := e.word(s)
		e.addToSet(&d.sectorBits, &d.sectors, w)
		e.raiseCrit(d, w)
	}
	if len(ev.ReleasableTo) > 0 {
		e.restrict(d, ev.ReleasableTo)
	}
	e.addMember(d, ev.ID)
}

func (e *Engine) raiseCrit(d *sitData, w uint32) {
	if c, cur := float64(e.wordCrit[w]), e.crit(d); d.critWord == 0 || c > cur || c == cur && w+1 < d.critWord {
		d.critWord = w + 1
	}
}

// crit is d's criticality factor: that of its most critical sector.
func (e *Engine) crit(d *sitData) float64 {
	if d.critWord == 0 {
		return e.cfg.DefaultCriticality
	}
	return float64(e.wordCrit[d.critWord-1])
}

func (e *Engine) newPlace() uint32 {
	if i := e.freePlace; i != 0 {
		e.freePlace = uint32(e.places.at(i).at)
		return i
	}
	return e.places.add(place{})
}

func (e *Engine) freePlaceEntry(i uint32) {
	if i != 0 {
		*e.places.at(i) = place{at: int64(e.freePlace)}
		e.freePlace = i
	}
}

// addContributor merges {ci, aux} into d's contributors and reports whether the
// confidence inputs changed.
//
// A contributor's named and anonymised reports are two entries, counted as two: to anyone
// but the contributor, its anonymised reports must look like another contributor's, or a
// situation holding both would name the pseudonym (one contributor shown, two behind it).
func (e *Engine) addContributor(d *sitData, ci, aux uint32) bool {
	for i := d.contribs; i != 0; i = e.links.at(i).next {
		l := e.links.at(i)
		if l.item != ci || (l.aux^aux)&anonBit != 0 {
			continue
		}
		old := l.aux
		l.aux = max(l.aux&0xff, aux&0xff) | aux&anonBit | max(auxFP(l.aux), auxFP(aux))<<fpShift
		return l.aux != old
	}
	d.contribs = e.newLink(ci, aux, d.contribs)
	d.ncontr++
	return true
}

// recomputeEvidence sets d's effective evidence, Σ c_i × r_i − Σ a_i × r_i over its
// distinct contributors (c_i the highest confidence of contributor i, a_i its evidence
// against, r_i its reliability): the input of the corroboration term of the score
// (docs/scoring.md). It may be negative; corroboration is then 0.
func (e *Engine) recomputeEvidence(d *sitData) {
	pro, con := e.evidence(d)
	d.evid = pro - con
}

// evidence returns the sums for and against of d's contributors, in chain order (render
// sums them again the same way, so its explanation is what the score used). A
// contributor's evidence against is min(1, w × its highest false-positive count).
func (e *Engine) evidence(d *sitData) (pro, con float64) {
	for i := d.contribs; i != 0; i = e.links.at(i).next {
		p, c := e.linkEvidence(e.links.at(i))
		pro += p
		con += c
	}
	return pro, con
}

// linkEvidence is one contributor's evidence for and against (see evidence).
func (e *Engine) linkEvidence(l *link) (pro, con float64) {
	r := e.reliab[l.item]
	pro = float64(l.aux&0xff) / 100 * r
	if fp := auxFP(l.aux); fp != 0 {
		con = min(1, e.cfg.FalsePositiveWeight*float64(fp)) * r
	}
	return pro, con
}

// addToSet adds word w to the set of *bits (words below 64) and chain *head (the others).
func (e *Engine) addToSet(bits *uint64, head *uint32, w uint32) {
	if w < 64 {
		*bits |= 1 << w
		return
	}
	*head = e.addWord(*head, w)
}

func (e *Engine) addWord(head, w uint32) uint32 {
	for i := head; i != 0; i = e.links.at(i).next {
		if e.links.at(i).item == w {
			return head
		}
	}
	return e.newLink(w, 0, head)
}

func (e *Engine) hasWord(head, w uint32) bool {
	for i := head; i != 0; i = e.links.at(i).next {
		if e.links.at(i).item == w {
			return true
		}
	}
	return false
}

// restrict intersects d's releasability with names.
func (e *Engine) restrict(d *sitData, names []string) {
	if d.flags&flagRelSet == 0 {
		d.flags |= flagRelSet
		for _, s := range names {
			d.rel = e.addWord(d.rel, e.word(s))
		}
		return
	}
	d.rel = e.filter(d.rel, func(w uint32) bool {
		for _, s := range names {
			if e.words.names[w] == s {
				return true
			}
		}
		return false
	})
	if d.rel == 0 {
		d.flags |= flagRelNone
	}
}

// filter keeps the entries of chain head whose item passes keep and frees the others.
func (e *Engine) filter(head uint32, keep func(uint32) bool) uint32 {
	var out, prev uint32
	for i := head; i != 0; {
		next := e.links.at(i).next
		if keep(e.links.at(i).item) {
			if prev == 0 {
				out = i
			} else {
				e.links.at(prev).next = i
			}
			prev = i
			e.links.at(i).next = 0
		} else {
			e.freeLinkEntry(i)
		}
		i = next
	}
	return out
}

func (e *Engine) newMember() uint32 {
	if i := e.freeMembr; i != 0 {
		e.freeMembr = e.members.at(i).next
		return i
	}
	return e.members.add(member{})
}

func (e *Engine) freeMember(i uint32) {
	if m := e.members.at(i); m.n == memberArena {
		e.arena.free(getRef(m.id[:]))
	}
	*e.members.at(i) = member{next: e.freeMembr}
	e.freeMembr = i
}

func (e *Engine) addMember(d *sitData, id string) {
	m := e.newMember()
	mm := e.members.at(m)
	mm.seq, mm.next = e.seq, 0
	switch {
	case len(id) == 2*len(mm.id) && decodeHex(mm.id[:], id):
		mm.n = memberHex
	case len(id) <= len(mm.id):
		mm.n = uint16(copy(mm.id[:], id))
	default:
		mm.n = memberArena
		putRef(mm.id[:], e.arena.add(id))
	}
	if d.idsTail == 0 {
		d.idsHead = m
	} else {
		e.members.at(d.idsTail).next = m
	}
	d.idsTail = m
	d.nids++
	e.trimMembers(d)
}

// decodeHex decodes lowercase hex s into dst (len(s) == 2*len(dst)) and reports whether s
// was lowercase hex; only then does encoding dst give s back.
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi > 15 || lo > 15 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) byte { return unhexTab[c] }

// unhexTab maps a lowercase hex digit to its value and every other byte to 255.
var unhexTab = func() (t [256]byte) {
	for i := range t {
		t[i] = 255
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// memberID returns the id m holds, building it in the text block when it is not kept as
// a string.
func (e *Engine) memberID(m *member) string {
	switch m.n {
	case memberHex:
		p := e.text.begin(2 * len(m.id))[:2*len(m.id)]
		hex.Encode(p, m.id[:])
		return e.text.end(p)
	case memberArena:
		return e.arena.str(getRef(m.id[:]))
	}
	return e.text.str(m.id[:m.n])
}

func (e *Engine) trimMembers(d *sitData) {
	for d.nids > picture.MaxSituationEvents {
		h := d.idsHead
		d.idsHead = e.members.at(h).next
		e.freeMember(h)
		d.nids--
	}
	if d.idsHead == 0 {
		d.idsTail = 0
	}
}

func putRef(b []byte, r strRef) {
	for i := 0; i < 4; i++ {
		b[i] = byte(r.off >> (8 * i))
		b[4+i] = byte(r.n >> (8 * i))
	}
}

func getRef(b []byte) strRef {
	var r strRef
	for i := 0; i < 4; i++ {
		r.off |= uint32(b[i]) << (8 * i)
		r.n |= uint32(b[4+i]) << (8 * i)
	}
	return r
}
