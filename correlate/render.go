package correlate

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// render writes d's current state into s under the public id id, with decay the decay
// factor at d.updated, reusing s's slices. Strings come from the arena, the dictionaries
// or the batch's text block, so rendering does not allocate once the buffers have grown. geos[slot] holds the Geo that s points to.
func (e *Engine) render(d *sitData, id string, decay float64, s *picture.Situation, geos *[]event.Geo, slot int) {
	s.ID = id
	s.Version = d.version
	s.Exercise = e.scopes.names[d.scope]
	s.Title = e.arena.str(d.title)
	s.Kind = d.kind
	s.Category = ""
	if d.category != 0 {
		s.Category = e.words.names[d.category-1]
	}
	s.Severity = d.sev
	s.Score = d.score
	s.TLP = d.tlp
	s.EventCount = int(d.events)
	s.FirstSeen = time.Unix(0, d.first).UTC()
	s.LastSeen = time.Unix(0, d.last).UTC()
	s.UpdatedAt = time.Unix(0, d.updated).UTC()

	// The noisy-OR confidence 1 − Π(1 − c_i r_i) is shown, not scored: it reaches 1
	// after a few contributors, where the corroboration term keeps rising.
	// The evidence for and against is summed as recomputeEvidence sums it (same order,
	// same operations), so the explanation is what the score used.
	p := 1.0
	var pro, con float64
	fps := 0
	for i := d.contribs; i != 0; i = e.links.at(i).next {
		l := e.links.at(i)
		s.Contributors = append(s.Contributors, picture.Contributor{Name: e.contribs.names[l.item], Anonymise: l.aux&anonBit != 0})
		p *= 1 - float64(l.aux&0xff)/100*e.reliab[l.item]
		lp, lc := e.linkEvidence(l)
		pro += lp
		con += lc
		fps += int(auxFP(l.aux))
	}
	s.Confidence = 100 * (1 - p)

	age := d.updated - d.last
	ex := &s.Explanation
	ex.Severity = e.cfg.SeverityWeight[min(int(d.sev), len(e.cfg.SeverityWeight)-1)]
	ex.Confidence = 1 - p
	ex.Evidence, ex.Against, ex.FalsePositives = pro, con, fps
	ex.Corroboration = e.corroboration(d.evid)
	ex.Corroborations = int(d.ncontr)
	ex.Criticality = e.crit(d)
	ex.Decay = decay
	ex.Recency = e.recency(age)
	ex.Relevance = 0 // per viewer: the view's copy sets it (access.Missions.Rank)
	ex.AgeHours = float64(max(age, 0)) / float64(time.Hour)
	e.explain(d, ex)
	slices.SortFunc(s.Contributors, compareContributors)
	s.Countries = e.appendSet(s.Countries, d.countryBits, d.countries)
	s.Sectors = e.appendSet(s.Sectors, d.sectorBits, d.sectors)
	s.Techniques = e.appendSet(s.Techniques, d.techBits, d.techs)
	if d.names != 0 {
		for _, w := range e.appendWords(nil, d.names) {
			kind, name, ok := strings.Cut(w, ":")
			if !ok {
				kind, name = "vulnerability", w // a CVE its events exploit (add)
			}
			s.Names = append(s.Names, event.Name{Kind: kind, Name: name})
		}
	}
	switch {
	case d.flags&flagRelNone != 0:
		s.ReleasableTo = append(s.ReleasableTo, picture.NoRelease)
	case d.flags&flagRelSet != 0:
		s.ReleasableTo = e.appendWords(s.ReleasableTo, d.rel)
	}
	// The first observables it linked, in the order they joined.
	for i, k := d.ownHead, 0; i != noNode && k < picture.MaxSituationObservables; k++ {
		ob := e.obs.at(i)
		s.Observables = append(s.Observables, event.Observable{Type: ob.typ, Value: e.arena.str(ob.val)})
		i = ob.next
	}
	for i := d.idsHead; i != 0; i = e.members.at(i).next {
		s.EventIDs = append(s.EventIDs, e.memberID(e.members.at(i)))
	}
	for len(*geos) <= slot {
		*geos = append(*geos, event.Geo{})
	}
	if d.place != 0 {
		p := e.places.at(d.place)
		(*geos)[slot] = event.Geo{Lat: p.lat, Lon: p.lon}
		s.Geo = &(*geos)[slot]
	}
}

func compareContributors(a, b picture.Contributor) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	switch {
	case a.Anonymise == b.Anonymise:
		return 0
	case a.Anonymise:
		return 1
	}
	return -1
}

// appendSet appends the words of a set kept as bits and a chain, sorted.
func (e *Engine) appendSet(dst []string, set uint64, head uint32) []string {
	n := len(dst)
	for ; set != 0; set &= set - 1 {
		dst = append(dst, e.words.names[bits.TrailingZeros64(set)])
	}
	dst = e.appendWords(dst, head)
	slices.Sort(dst[n:])
	return dst
}

func (e *Engine) appendWords(dst []string, head uint32) []string {
	n := len(dst)
	for i := head; i != 0; i = e.links.at(i).next {
		dst = append(dst, e.words.names[e.links.at(i).item])
	}
	slices.Sort(dst[n:])
	return dst
}
