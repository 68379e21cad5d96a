package stix

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// kinds says which STIX objects become events; every other type is context only.
var kinds = map[string]event.Kind{
	"indicator":     event.KindIndicator,
	"sighting":      event.KindSighting,
	"observed-data": event.KindSighting,
	"incident":      event.KindIncident,
	"report":        event.KindReport,
	"grouping":      event.KindReport, // how MISP exports an event
}

// nameKinds are the STIX object types whose names an event carries (event.NameKinds).
var nameKinds = map[string]bool{"campaign": true, "intrusion-set": true, "threat-actor": true, "malware": true, "tool": true}

// events builds one event per event-bearing object, in document order.
func (b *bundle) events(src event.Source) ([]event.Event, []error) {
	var evs []event.Event
	var errs []error
	for i := range b.objects {
		o := &b.objects[i]
		kind, ok := kinds[o.Type]
		if !ok || o.ID != "" && b.byID[o.ID] != i {
			continue
		}
		var err error
		if evs, err = b.build(evs, o, kind, src); err != nil {
			errs = append(errs, &ObjectError{Type: o.Type, ID: o.ID, Err: err})
		}
	}
	return evs, errs
}

// facts gathers what an event learns from its object and the objects around it.
type facts struct {
	obs        []event.Observable
	techniques []string
	sectors    []string
	countries  []string
	geo        *event.Geo
	names      []event.Name
	tlp        event.TLP // most restrictive explicit marking of the objects drawn from
	skipped    int       // comparisons that name no observable
	bad        error     // first value that did not normalise
	nbad       int       // values that did not normalise
	seen       map[event.Observable]struct{}
}

// addName adds the name of a campaign, intrusion set, threat actor, malware or tool.
func (f *facts) addName(t *object) {
	if !nameKinds[t.Type] {
		return
	}
	n := event.Name{Kind: t.Type, Name: event.NormaliseName(t.Name)}
	if n.Name != "" && !slices.Contains(f.names, n) {
		f.names = append(f.names, n)
	}
}

func fieldErr(field, format string, args ...any) error {
	return &event.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// build appends the event (or parts, see split) of o to dst.
func (b *bundle) build(dst []event.Event, o *object, kind event.Kind, src event.Source) ([]event.Event, error) {
	ev, err := b.build1(o, kind, src)
	if err != nil {
		return dst, err
	}
	return event.Split(dst, ev, src)
}

func (b *bundle) build1(o *object, kind event.Kind, src event.Source) (event.Event, error) {
	if o.SpecVersion != "2.1" {
		return event.Event{}, fieldErr("spec_version", "%s: want 2.1", event.Quote(o.SpecVersion))
	}
	ev := event.Event{
		ID:          src.EventID(o.ID),
		Contributor: src.Contributor,
		SourceID:    o.ID,
		Kind:        kind,
		ReceivedAt:  src.ReceivedAt,
		Title:       o.Name,
		Summary:     event.Cut(o.Description, event.MaxSummaryLen),
		Category:    guessCategory(o),
	}
	var f facts
	at, atNames, err := b.gather(o, &ev, &f)
	if err != nil {
		return ev, err
	}
	if ev.ObservedAt, err = firstTime(at, atNames); err != nil {
		return ev, err
	}
	if ev.Title == "" {
		ev.Title = strings.ToUpper(o.Type[:1]) + o.Type[1:]
		if len(f.obs) > 0 {
			ev.Title += " " + f.obs[0].String()
		}
	}
	if o.Type != "indicator" && o.Type != "incident" && len(f.obs)+len(f.techniques)+len(f.sectors)+len(f.countries)+len(f.names) == 0 {
		field := map[string]string{"sighting": "sighting_of_ref", "observed-data": "object_refs", "report": "object_refs", "grouping": "object_refs"}[o.Type]
		reason := fmt.Sprintf("%v: the objects it refers to are not in the document or name no observable, technique, sector, country, campaign, intrusion set, threat actor, malware or tool", ErrNoContent)
		if f.bad != nil {
			reason += "; " + f.bad.Error()
		}
		return ev, fieldErr(field, "%s", reason)
	}
	ev.Title = event.Cut(ev.Title, event.MaxTitleLen)
	ev.Observables, ev.Techniques, ev.Sectors, ev.Countries, ev.Geo = f.obs, f.techniques, f.sectors, f.countries, f.geo
	ev.Names = f.names
	if len(ev.Names) > event.MaxNames {
		ev.Summary = event.JoinSummary(ev.Summary, fmt.Sprintf("%d further names dropped (at most %d per event).", len(ev.Names)-event.MaxNames, event.MaxNames))
		ev.Names = ev.Names[:event.MaxNames]
	}
	if f.nbad > 0 && len(f.obs) > 0 {
		what := "1 value that is not a valid observable"
		if f.nbad > 1 {
			what = fmt.Sprintf("%d values that are not valid observables", f.nbad)
		}
		ev.Summary = event.JoinSummary(ev.Summary, fmt.Sprintf("Dropped %s (the first: %v).", what, f.bad))
	}

	if err := b.markings(o, &f, &ev); err != nil {
		return ev, err
	}
	return ev, nil
}

// gather collects what o holds or refers to into f, by o's type, fills what of ev the
// type decides (valid_until, a title or summary note), and returns the candidate
// observed_at properties, best first, with their names.
func (b *bundle) gather(o *object, ev *event.Event, f *facts) (at, atNames []string, err error) {
	switch o.Type {
	case "indicator":
		if o.PatternType != "" && o.PatternType != "stix" {
			return nil, nil, fieldErr("pattern_type", "%s: want stix (COP reads only STIX patterns)", event.Quote(o.PatternType))
		}
		if err := f.addPattern(o.Pattern); err != nil {
			return nil, nil, fieldErr("pattern", "cannot parse STIX pattern %s: %v", event.Quote(o.Pattern), err)
		}
		if len(f.obs) == 0 {
			reason := fmt.Sprintf("%v: want an '=' or IN comparison on ipv4-addr, ipv6-addr, domain-name, url, email-addr, file hashes or autonomous-system (%d comparisons skipped)", ErrNoObservable, f.skipped)
			if f.bad != nil {
				reason += "; " + f.bad.Error()
			}
			return nil, nil, fieldErr("pattern", "%s", reason)
		}
		b.addContext(f, o.ID, 0)
		at, atNames = []string{o.ValidFrom, o.Created}, []string{"valid_from", "created"}
		if o.ValidUntil != "" {
			t, err := parseTime(o.ValidUntil)
			if err != nil {
				return nil, nil, fieldErr("valid_until", "%v", err)
			}
			ev.ValidUntil = t
		}
	case "sighting":
		b.addSighted(f, o.SightingOfRef)
		for _, ref := range o.ObservedDataRefs {
			b.addRef(f, ref)
		}
		for _, ref := range o.WhereSightedRefs {
			if t := b.get(ref); t != nil {
				b.addPlace(f, t)
			}
		}
		if ev.Title == "" {
			ev.Title = "Sighting of " + b.nameOf(o.SightingOfRef)
		}
		if o.Count != nil {
			ev.Summary = event.JoinSummary(ev.Summary, fmt.Sprintf("Sighted %d times.", *o.Count))
		}
		at, atNames = []string{o.FirstSeen, o.LastSeen, o.Created}, []string{"first_seen", "last_seen", "created"}
	case "observed-data":
		f.addEmbedded(o)
		for _, ref := range o.ObjectRefs {
			b.addRef(f, ref)
		}
		// The campaigns, malware, … it is related to (how COP exports a sighting's names).
		b.addContext(f, o.ID, 0)
		if o.NumberObserved > 1 {
			ev.Summary = event.JoinSummary(ev.Summary, fmt.Sprintf("Observed %d times.", o.NumberObserved))
		}
		at, atNames = []string{o.FirstObserved, o.Created}, []string{"first_observed", "created"}
	case "incident":
		b.addContext(f, o.ID, 0)
		// Indicators that indicate the incident lend it their observables.
		for _, ri := range b.to[o.ID] {
			r := &b.objects[ri]
			if s := b.get(r.SourceRef); s != nil && r.RelationshipType == "indicates" && s.Type == "indicator" {
				b.addIndicator(f, s)
			}
		}
		at, atNames = []string{o.FirstSeen, o.Created}, []string{"first_seen", "created"}
	case "report", "grouping":
		for _, ref := range o.ObjectRefs {
			b.addRef(f, ref)
		}
		at, atNames = []string{o.Published, o.Created}, []string{"published", "created"}
	}
	return at, atNames, nil
}

// firstTime is the first of the timestamps at that is set, parsed; a bad one is an error
// naming its property.
func firstTime(at, names []string) (time.Time, error) {
	for i, s := range at {
		if s == "" {
			continue
		}
		t, err := parseTime(s)
		if err != nil {
			return t, fieldErr(names[i], "%v", err)
		}
		return t, nil
	}
	return time.Time{}, nil
}

// markings sets ev's confidence, TLP and severity from o (and f's TLP).
func (b *bundle) markings(o *object, f *facts, ev *event.Event) error {
	ev.Confidence = defaultConfidence
	if o.Confidence != nil {
		if *o.Confidence < 0 || *o.Confidence > 100 {
			return fieldErr("confidence", "%d: want 0 to 100", *o.Confidence)
		}
		ev.Confidence = uint8(*o.Confidence)
	}
	ev.TLP = max(b.objTLP(o), f.tlp)
	if ev.TLP == 0 {
		ev.TLP = defaultTLP
	}
	ev.Severity = event.SeverityMedium
	for _, p := range [...]struct{ name, v string }{{"x_cop_severity", o.XCOPSeverity}, {"x_severity", o.XSeverity}} {
		if p.v != "" {
			s, err := event.ParseSeverity(p.v)
			if err != nil {
				return fieldErr(p.name, "%v", err)
			}
			ev.Severity = s
			break
		}
	}
	return nil
}

// objTLP returns the most restrictive TLP among an object's markings, object-level and
// granular: a TLP given only for some properties still holds for the whole event.
func (b *bundle) objTLP(o *object) event.TLP {
	t := b.tlp(o.ObjectMarkingRefs)
	for _, g := range o.GranularMarkings {
		t = max(t, b.tlp([]string{g.MarkingRef}))
	}
	return t
}

func (b *bundle) get(id string) *object {
	i, ok := b.byID[id]
	if !ok || id == "" {
		return nil
	}
	return &b.objects[i]
}

func (b *bundle) nameOf(id string) string {
	if t := b.get(id); t != nil && t.Name != "" {
		return t.Name
	}
	return id
}

// tlp returns the most restrictive TLP among refs, or 0 if none is a TLP marking.
func (b *bundle) tlp(refs []string) event.TLP {
	var best event.TLP
	for _, ref := range refs {
		t, ok := tlpMarkings[ref]
		if !ok {
			t = b.customTLP(ref)
		}
		best = max(best, t)
	}
	return best
}

// customTLP reads a marking definition carried in the bundle under a non-standard id.
func (b *bundle) customTLP(ref string) event.TLP {
	m := b.get(ref)
	if m == nil || m.Type != "marking-definition" {
		return 0
	}
	candidates := []string{m.Definition.TLP, m.Name}
	for _, ext := range m.Extensions {
		candidates = append(candidates, ext.TLP)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if t, err := event.ParseTLP(c); err == nil {
			return t
		}
	}
	return 0
}

// addContext follows the relationships of id: techniques of attack patterns it indicates,
// uses or is related to; sectors and countries of what it targets; places it is located
// at; and, one hop further, the same for the incidents, campaigns, intrusion sets and
// malware it indicates.
func (b *bundle) addContext(f *facts, id string, depth int) {
	for _, ri := range b.from[id] {
		r := &b.objects[ri]
		t := b.get(r.TargetRef)
		if t == nil {
			continue
		}
		rel := r.RelationshipType
		switch t.Type {
		case "attack-pattern":
			if rel == "indicates" || rel == "uses" || rel == "related-to" {
				f.addTechniques(t)
			}
		case "identity", "location":
			if rel == "targets" || rel == "located-at" {
				b.addPlace(f, t)
			}
		case "incident", "campaign", "intrusion-set", "malware", "threat-actor", "tool":
			if rel == "indicates" || rel == "related-to" || rel == "uses" || rel == "attributed-to" || rel == "variant-of" {
				f.addName(t)
				if depth == 0 {
					b.addContext(f, t.ID, depth+1)
				}
			}
		}
	}
	for _, ri := range b.to[id] {
		r := &b.objects[ri]
		s := b.get(r.SourceRef)
		if s == nil {
			continue
		}
		switch rel := r.RelationshipType; {
		case s.Type == "attack-pattern" && rel == "related-to":
			f.addTechniques(s)
		case nameKinds[s.Type] && (rel == "uses" || rel == "attributed-to" || rel == "related-to" || rel == "indicates"):
			// An intrusion set that uses this malware, a campaign attributed to this set.
			f.addName(s)
		}
	}
}

// addPlace adds the sectors and countries of an identity (and its locations) or the
// country and geo of a location.
func (b *bundle) addPlace(f *facts, t *object) {
	switch t.Type {
	case "identity":
		for _, s := range slices.Concat(t.Sectors, t.XCOPSectors) {
			if m := mapSector(s); m != "" {
				f.sectors = append(f.sectors, m)
			}
		}
		for _, c := range append([]string{t.XCOPCountry}, t.XCOPCountries...) {
			if cc := countryCode(c); cc != "" {
				f.countries = append(f.countries, cc)
			}
		}
		for _, ri := range b.from[t.ID] {
			r := &b.objects[ri]
			if l := b.get(r.TargetRef); l != nil && l.Type == "location" && r.RelationshipType == "located-at" {
				b.addPlace(f, l)
			}
		}
	case "location":
		if cc := countryCode(t.Country); cc != "" {
			f.countries = append(f.countries, cc)
		}
		if f.geo == nil && t.Latitude != nil && t.Longitude != nil {
			f.geo = &event.Geo{Lat: *t.Latitude, Lon: *t.Longitude}
		}
	}
}

func (f *facts) addTechniques(ap *object) {
	for _, r := range ap.ExternalReferences {
		if strings.HasPrefix(r.SourceName, "mitre-") && event.IsTechnique(strings.ToUpper(r.ExternalID)) {
			f.techniques = append(f.techniques, strings.ToUpper(r.ExternalID))
		}
	}
}

// addRef adds what a referenced object contributes to a report, sighting or observed data.
func (b *bundle) addRef(f *facts, ref string) {
	t := b.get(ref)
	if t == nil {
		return
	}
	f.tlp = max(f.tlp, b.objTLP(t))
	switch t.Type {
	case "indicator":
		b.addIndicator(f, t)
	case "observed-data":
		f.addEmbedded(t)
		for _, r := range t.ObjectRefs {
			if s := b.get(r); s != nil {
				f.addSCO(s)
			}
		}
	case "sighting":
		b.addSighted(f, t.SightingOfRef)
	case "attack-pattern":
		f.addTechniques(t)
	case "location":
		b.addPlace(f, t)
	case "campaign", "intrusion-set", "malware", "threat-actor", "tool":
		f.addName(t)
		b.addContext(f, t.ID, 1)
	case "incident":
		b.addContext(f, t.ID, 1)
	default:
		f.addSCO(t)
	}
}

// addIndicator adds an indicator's observables and direct context; a pattern that does not
// parse contributes nothing here (it is reported on the indicator itself).
func (b *bundle) addIndicator(f *facts, ind *object) {
	f.tlp = max(f.tlp, b.objTLP(ind))
	g := facts{obs: f.obs, seen: f.seen}
	if g.addPattern(ind.Pattern) == nil {
		f.obs, f.seen = g.obs, g.seen
		if f.bad == nil {
			f.bad = g.bad
		}
		f.nbad += g.nbad
	}
	b.addContext(f, ind.ID, 1)
}

func (b *bundle) addSighted(f *facts, ref string) {
	t := b.get(ref)
	if t == nil {
		return
	}
	if t.Type == "indicator" {
		b.addIndicator(f, t)
		return
	}
	f.tlp = max(f.tlp, b.objTLP(t))
	if t.Type == "attack-pattern" {
		f.addTechniques(t)
		return
	}
	f.addName(t)
	b.addContext(f, t.ID, 1)
}

// addPattern adds the observables named by the '=' and IN comparisons of a STIX pattern.
func (f *facts) addPattern(pattern string) error {
	cmps, err := parsePattern(pattern)
	if err != nil {
		return err
	}
	// network-traffic:dst_ref.type = 'domain-name' says what dst_ref.value is.
	var refTypes map[string]string
	for _, c := range cmps {
		if ref, ok := strings.CutSuffix(c.Path, ".type"); ok && c.Object == "network-traffic" && c.Op == "=" && !c.Negated && len(c.Values) == 1 {
			if refTypes == nil {
				refTypes = make(map[string]string)
			}
			refTypes[ref] = c.Values[0]
		}
	}
	for _, c := range cmps {
		if c.Negated || c.Op != "=" && c.Op != "IN" {
			f.skipped++
			continue
		}
		if c.Object == "network-traffic" && strings.HasSuffix(c.Path, ".type") {
			continue // read above
		}
		for _, v := range c.Values {
			obj := c.Object
			if ref, ok := strings.CutSuffix(c.Path, ".value"); ok && obj == "network-traffic" && refTypes[ref] != "" {
				// Read as the referenced object's own value.
				f.add(refTypes[ref], "value", v)
				continue
			}
			f.add(obj, c.Path, v)
		}
	}
	return nil
}

// addEmbedded adds the SCOs embedded in a (deprecated) observed-data objects map.
func (f *facts) addEmbedded(o *object) {
	for _, k := range slices.Sorted(maps.Keys(o.Objects)) {
		var s object
		if err := json.Unmarshal(o.Objects[k], &s); err == nil {
			f.addSCO(&s)
		}
	}
}

// addSCO adds the observables of one cyber-observable object.
func (f *facts) addSCO(s *object) {
	switch s.Type {
	case "file", "artifact":
		for _, k := range slices.Sorted(maps.Keys(s.Hashes)) {
			f.add(s.Type, "hashes."+k, s.Hashes[k])
		}
	case "autonomous-system":
		f.add(s.Type, "number", s.Number.String())
	default:
		f.add(s.Type, "value", s.Value)
	}
}

// add maps one object path and value to an observable.
func (f *facts) add(obj, path, v string) {
	var t event.ObservableType
	switch obj + ":" + path {
	case "ipv4-addr:value", "ipv6-addr:value":
		t = ipType(obj, v)
	case "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		// Untyped ref: an address, else a host name.
		t = ipType(obj, v)
		if _, err := netip.ParsePrefix(v); err != nil {
			if _, err := netip.ParseAddr(v); err != nil {
				t = event.ObsDomain
			}
		}
	case "domain-name:value":
		t = event.ObsDomain
	case "url:value":
		t = event.ObsURL
	case "email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value":
		t = event.ObsEmail
	case "autonomous-system:number":
		t = event.ObsASN
		if n, ok := strings.CutPrefix(strings.ToUpper(v), "AS"); ok {
			v = n // 'AS174', as some exporters write it
		}
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			t = 0
		}
	default:
		if key, ok := strings.CutPrefix(path, "hashes."); ok && (obj == "file" || obj == "artifact") {
			switch strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(key)) {
			case "MD5":
				t = event.ObsMD5
			case "SHA1":
				t = event.ObsSHA1
			case "SHA256":
				t = event.ObsSHA256
			}
		} else if obj == "domain-name" && strings.HasPrefix(path, "resolves_to_refs[") && strings.HasSuffix(path, "].value") {
			// How MISP exports domain|ip: the addresses the domain resolves to.
			t = ipType(obj, v)
		} else if strings.HasPrefix(obj, "email-message") && strings.HasSuffix(path, ".value") &&
			(strings.HasPrefix(path, "to_refs[") || strings.HasPrefix(path, "cc_refs[") || strings.HasPrefix(path, "bcc_refs[")) {
			t = event.ObsEmail
		}
	}
	if t == 0 {
		f.skipped++
		return
	}
	if t == event.ObsIPv4 || t == event.ObsIPv6 {
		v, _, _ = strings.Cut(v, "/")
	}
	o, err := event.NewObservable(t, v)
	if err != nil {
		if f.bad == nil {
			f.bad = err
		}
		f.nbad++
		return
	}
	// Duplicates are dropped here so an IOC list is split by distinct values: a scan while
	// the list is short, a set once it is long.
	if f.seen == nil && len(f.obs) >= 32 {
		f.seen = make(map[event.Observable]struct{}, 2*len(f.obs))
		for _, x := range f.obs {
			f.seen[x] = struct{}{}
		}
	}
	if f.seen != nil {
		if _, dup := f.seen[o]; dup {
			return
		}
		f.seen[o] = struct{}{}
	} else if slices.Contains(f.obs, o) {
		return
	}
	f.obs = append(f.obs, o)
}

// ipType says whether v is an address or a prefix (a full-length prefix is an address),
// trusting the object type for the family and guessing it for network-traffic refs.
func ipType(obj, v string) event.ObservableType {
	if p, err := netip.ParsePrefix(v); err == nil && p.Bits() < p.Addr().BitLen() {
		return event.ObsCIDR
	}
	switch obj {
	case "ipv4-addr":
		return event.ObsIPv4
	case "ipv6-addr":
		return event.ObsIPv6
	}
	if a, err := netip.ParseAddr(strings.Split(v, "/")[0]); err == nil && a.Unmap().Is4() {
		return event.ObsIPv4
	}
	return event.ObsIPv6
}
