package api

import (
	"slices"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// nameCreated is the created and modified time of every name object: a name object says
// only that the name exists, so it has one version, and every export writes the same
// object for the same name.
const nameCreated = "2020-01-01T00:00:00.000Z"

// stixNames gathers the STIX objects of the names the events of one export state: one
// campaign, intrusion-set, threat-actor, malware or tool object per (kind, name), its id a
// UUIDv5 over both (stixID), so every export, bundle or TAXII page, names it the same.
//
// Each is marked with the lowest TLP among the exported events stating it: the name was
// given at that marking, and since a viewer is given only events it may see, no name
// reaches anyone beyond the events that state it. Because a report refers to its names
// (object_refs), and a reader takes the highest marking of what a report refers to, a
// higher marking would raise the report's own when read back. Hence the objects are
// written after the events (at the end of the bundle or page), once every event has been
// seen; within one TAXII page the same holds, across pages a name may be marked lower on
// a later page (never higher than an event stating it).
type stixNames struct {
	byID map[string]*stixName
}

type stixName struct {
	name  event.Name
	tlp   event.TLP
	added time.Time // stored time of the first event stating it (TAXII's date added)
}

// add records e's names and returns their object ids, in e's order.
func (ns *stixNames) add(e *store.StoredEvent) []string {
	if len(e.Names) == 0 {
		return nil
	}
	if ns.byID == nil {
		ns.byID = map[string]*stixName{}
	}
	ids := make([]string, 0, len(e.Names))
	for _, n := range e.Names {
		id := stixID(n.Kind, n.Name)
		ids = append(ids, id)
		if s, ok := ns.byID[id]; ok {
			s.tlp = min(s.tlp, e.TLP)
			continue
		}
		ns.byID[id] = &stixName{name: n, tlp: e.TLP, added: e.StoredAt}
	}
	return ids
}

// objects returns the name objects gathered, by id, with the time each was first added.
func (ns *stixNames) objects() ([]map[string]any, []time.Time) {
	ids := make([]string, 0, len(ns.byID))
	for id := range ns.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out, added := make([]map[string]any, 0, len(ids)), make([]time.Time, 0, len(ids))
	for _, id := range ids {
		s := ns.byID[id]
		o := map[string]any{"type": s.name.Kind, "spec_version": "2.1", "id": id, "created": nameCreated,
			"modified": nameCreated, "name": s.name.Name, "object_marking_refs": []string{tlpMarking[s.tlp]}}
		if s.name.Kind == "malware" {
			o["is_family"] = true // a name stated in a report is a family, not one sample
		}
		out, added = append(out, o), append(added, s.added)
	}
	return out, added
}

// nameRelationships returns the relationships of relationship type rel from src to each of
// the name objects ids, marked and dated as the event's own object.
func nameRelationships(rel, src string, ids []string, creator, created string, tlp event.TLP) []map[string]any {
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]any{"type": "relationship", "spec_version": "2.1",
			"id": stixID("relationship", src+"/"+rel+"/"+id), "created": created, "modified": created,
			"relationship_type": rel, "source_ref": src, "target_ref": id, "created_by_ref": creator,
			"object_marking_refs": []string{tlpMarking[tlp]}})
	}
	return out
}
