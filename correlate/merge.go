package correlate

// merge folds situation r into target (the older one), which survives.
func (e *Engine) merge(target, r uint32) {
	ri := e.nodeData[r]
	dr := *e.sits.at(ri) // a copy: ri is freed below
	dt := e.sits.at(e.nodeData[target])
	e.nodeNext[dt.nodeTail] = r
	dt.nodeTail = dr.nodeTail
	if dr.ownHead != noNode {
		if dt.ownTail == noNode {
			dt.ownHead = dr.ownHead
		} else {
			e.obs.at(dt.ownTail).next = dr.ownHead
		}
		dt.ownTail = dr.ownTail
	}
	dt.fed = max(dt.fed, dr.fed)
	e.parent[r] = target
	e.nodeData[r] = noNode
	e.merged = append(e.merged, mergeRec{node: r, scope: dr.scope, pre: dr.flags&flagPublished != 0, version: dr.version,
		sev: dr.sev, tlp: dr.tlp, kind: dr.kind})

	dt.events += dr.events
	dt.first = min(dt.first, dr.first)
	dt.last = max(dt.last, dr.last)
	dt.tlp = max(dt.tlp, dr.tlp)
	dt.types |= dr.types
	dt.version = max(dt.version, dr.version)
	if better(dr.sev, dr.bestAt, dr.bestIDH, dt.sev, dt.bestAt, dt.bestIDH) {
		dt.sev, dt.bestAt, dt.bestIDH, dt.kind = dr.sev, dr.bestAt, dr.bestIDH, dr.kind
		e.arena.free(dt.title)
		dt.title, dt.category = dr.title, dr.category
	} else {
		e.arena.free(dr.title)
	}
	switch {
	case dr.place == 0:
	case dt.place == 0:
		dt.place = dr.place
	default:
		pt, pr := e.places.at(dt.place), e.places.at(dr.place)
		if better(pr.sev, pr.at, pr.idh, pt.sev, pt.at, pt.idh) {
			*pt = *pr
		}
		e.freePlaceEntry(dr.place)
	}

	confChanged := false
	for i := dr.contribs; i != 0; {
		next := e.links.at(i).next
		if e.addContributor(dt, e.links.at(i).item, e.links.at(i).aux) {
			confChanged = true
		}
		e.freeLinkEntry(i)
		i = next
	}
	if confChanged {
		e.recomputeEvidence(dt)
	}
	dt.countryBits |= dr.countryBits
	dt.sectorBits |= dr.sectorBits
	dt.techBits |= dr.techBits
	dt.countries = e.mergeWords(dt.countries, dr.countries)
	dt.techs = e.mergeWords(dt.techs, dr.techs)
	dt.names = e.mergeWords(dt.names, dr.names)
	dt.sectors = e.mergeWords(dt.sectors, dr.sectors)
	if dr.critWord != 0 {
		e.raiseCrit(dt, dr.critWord-1)
	}

	switch {
	case dr.flags&flagRelSet == 0:
	case dt.flags&flagRelSet == 0:
		dt.flags |= flagRelSet
		dt.rel = dr.rel
	default:
		other := dr.rel
		dt.rel = e.filter(dt.rel, func(w uint32) bool { return e.hasWord(other, w) })
		e.freeChain(dr.rel)
	}
	dt.flags |= dr.flags & flagRelNone
	if dt.flags&flagRelSet != 0 && dt.rel == 0 {
		dt.flags |= flagRelNone
	}

	e.mergeMembers(dt, &dr)

	*e.sits.at(ri) = sitData{}
	e.freeSit = append(e.freeSit, ri)
	e.c.Situations--
	e.c.Merges++
}

// mergeWords moves the entries of chain from into chain into, dropping those it has.
func (e *Engine) mergeWords(into, from uint32) uint32 {
	for i := from; i != 0; {
		next := e.links.at(i).next
		if e.hasWord(into, e.links.at(i).item) {
			e.freeLinkEntry(i)
		} else {
			e.links.at(i).next = into
			into = i
		}
		i = next
	}
	return into
}

func (e *Engine) freeChain(head uint32) {
	for i := head; i != 0; {
		next := e.links.at(i).next
		e.freeLinkEntry(i)
		i = next
	}
}

// mergeMembers merges the two oldest-first id lists by sequence and keeps the newest.
func (e *Engine) mergeMembers(dt, dr *sitData) {
	a, b := dt.idsHead, dr.idsHead
	var head, tail uint32
	for a != 0 || b != 0 {
		var m uint32
		if b == 0 || a != 0 && e.members.at(a).seq < e.members.at(b).seq {
			m, a = a, e.members.at(a).next
		} else {
			m, b = b, e.members.at(b).next
		}
		e.members.at(m).next = 0
		if tail == 0 {
			head = m
		} else {
			e.members.at(tail).next = m
		}
		tail = m
	}
	dt.idsHead, dt.idsTail = head, tail
	dt.nids += dr.nids
	e.trimMembers(dt)
}
