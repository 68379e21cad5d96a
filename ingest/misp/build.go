package misp

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Defaults, chosen to be conservative where a MISP event says nothing.
const (
	// defaultTLP applies with no tlp:* tag and no distribution: AMBER, since an unmarked
	// event may still be sensitive to its contributor.
	defaultTLP = event.TLPAmber
	// defaultConfidence applies with no analysis level and no confidence tag.
	defaultConfidence = 50
)

// severities maps threat_level_id: 1 high, 2 medium, 3 low, 4 undefined. Any other value
// (or none) gives medium.
var severities = map[int]event.Severity{1: event.SeverityHigh, 2: event.SeverityMedium, 3: event.SeverityLow, 4: event.SeverityInfo}

// analysisConfidence maps analysis: 0 initial, 1 ongoing, 2 completed.
var analysisConfidence = map[int]uint8{0: 40, 1: 60, 2: 80}

// distributionTLP maps distribution when no tlp:* tag is present: 0 your organisation
// only and 4 sharing group → AMBER+STRICT, 1 this community → AMBER, 2 connected
// communities → GREEN, 3 all communities → CLEAR.
var distributionTLP = map[int]event.TLP{0: event.TLPAmberStrict, 1: event.TLPAmber, 2: event.TLPGreen, 3: event.TLPClear, 4: event.TLPAmberStrict}

func fieldErr(field, format string, args ...any) error {
	return &event.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// build turns one MISP event into one COP event. attrErrs name the attributes whose value
// was malformed (the event keeps the others); err rejects the whole event.
func build(dst []event.Event, me *mispEvent, src event.Source) (evs []event.Event, attrErrs []error, err error) {
	ev, attrErrs, err := build1(me, src)
	if err != nil {
		return dst, attrErrs, err
	}
	evs, err = event.Split(dst, ev, src)
	return evs, attrErrs, err
}

func build1(me *mispEvent, src event.Source) (ev event.Event, attrErrs []error, err error) {
	if me.UUID == "" {
		return ev, nil, fieldErr("uuid", "missing: every MISP event needs its uuid")
	}
	ev = event.Event{
		ID:          src.EventID(me.UUID),
		Contributor: src.Contributor,
		SourceID:    me.UUID,
		ReceivedAt:  src.ReceivedAt,
		Title:       event.Cut(me.Info, event.MaxTitleLen),
	}
	tags := eventTags(me)
	sc := attrScan{tags: &tags, seen: map[event.Observable]struct{}{}, skipped: map[string]int{}, allIDS: true}
	sc.sightings.add(me.Sighting)
	for i := range me.Attribute {
		sc.add(&me.Attribute[i])
	}
	for i := range me.Object {
		if me.Object[i].Deleted {
			sc.deleted += len(me.Object[i].Attribute)
			continue
		}
		for j := range me.Object[i].Attribute {
			sc.add(&me.Object[i].Attribute[j])
		}
	}
	ev.Observables, attrErrs = sc.obs, sc.errs
	ev.Kind = event.KindReport
	if sc.used > 0 && sc.allIDS {
		ev.Kind = event.KindIndicator
	}
	ev.Techniques, ev.Sectors, ev.Countries, ev.Category = tags.techniques, tags.sectors, tags.countries, tags.category
	ev.Names = tags.names
	ev.FalsePositives = uint32(min(sc.sightings.falsePositive, math.MaxUint32))
	markings(me, &tags, &ev)
	if ev.ObservedAt, err = observedAt(me); err != nil {
		return ev, attrErrs, err
	}
	ev.Summary = sc.summary(&ev)
	if len(ev.Observables) == 0 && len(ev.Techniques) == 0 && len(ev.Sectors) == 0 && len(ev.Countries) == 0 && ev.Category == "" && len(ev.Names) == 0 {
		reason := fmt.Sprintf("%v: no attribute of a type COP reads (%s) and no ATT&CK, sector, country, rsit, threat-actor, malware or tool tag", ErrNoContent, strings.Join(AttributeTypes, ", "))
		if len(sc.skipped) > 0 {
			reason += "; skipped " + countList(sc.skipped)
		}
		if sc.deleted+sc.expired > 0 {
			reason += fmt.Sprintf("; left out %d deleted and %d expired attributes", sc.deleted, sc.expired)
		}
		return ev, attrErrs, fieldErr("Attribute", "%s", reason)
	}
	return ev, attrErrs, nil
}

// eventTags reads the event's tags and galaxy clusters.
func eventTags(me *mispEvent) tagFacts {
	tags := tagFacts{confidence: -1}
	for _, t := range me.Tag {
		tags.add(t.Name)
	}
	for _, g := range me.Galaxy {
		for _, c := range g.GalaxyCluster {
			if c.TagName != "" {
				tags.add(c.TagName)
			} else if c.Value != "" {
				tags.add("misp-galaxy:" + cmp.Or(c.Type, g.Type) + "=\"" + c.Value + "\"")
			}
		}
	}
	return tags
}

// attrScan gathers an event's attributes: their observables once each, their tags and
// sightings, and what was left out and why.
type attrScan struct {
	tags             *tagFacts
	seen             map[event.Observable]struct{}
	obs              []event.Observable
	errs             []error
	skipped          map[string]int
	used             int
	allIDS           bool
	sightings        sightingCount
	deleted, expired int
}

func (sc *attrScan) add(a *attribute) {
	if a.Deleted {
		sc.deleted++
		return
	}
	for _, t := range a.Tag {
		sc.tags.add(t.Name)
	}
	var own sightingCount
	own.add(a.Sighting)
	sc.sightings.seen += own.seen
	sc.sightings.falsePositive += own.falsePositive
	if own.expired > 0 {
		// An expiration sighting retires the value: it is no longer an indicator.
		sc.expired++
		return
	}
	obs, ok, err := observables(a)
	if !ok {
		sc.skipped[a.Type]++
		return
	}
	if err != nil {
		sc.errs = append(sc.errs, &ObjectError{Type: a.Type, UUID: a.UUID, Err: fieldErr("value", "%v", err)})
		return
	}
	sc.used++
	sc.allIDS = sc.allIDS && bool(a.ToIDS)
	for _, o := range obs {
		if _, dup := sc.seen[o]; dup {
			continue
		}
		sc.seen[o] = struct{}{}
		sc.obs = append(sc.obs, o)
	}
}

// summary says what the event's summary says of its sightings and of what was left out,
// and cuts ev's names to the bound.
func (sc *attrScan) summary(ev *event.Event) string {
	var notes []string
	if sc.sightings.seen > 0 {
		notes = append(notes, fmt.Sprintf("%d MISP sightings.", sc.sightings.seen))
	}
	if sc.sightings.falsePositive > 0 {
		notes = append(notes, fmt.Sprintf("%s (evidence against).", count(sc.sightings.falsePositive, "MISP false-positive sighting")))
	}
	if sc.expired > 0 {
		notes = append(notes, fmt.Sprintf("%s left out: expired (MISP expiration sighting).", count(sc.expired, "attribute")))
	}
	if sc.deleted > 0 {
		notes = append(notes, fmt.Sprintf("%s left out.", count(sc.deleted, "deleted attribute")))
	}
	if len(sc.skipped) > 0 {
		notes = append(notes, "Skipped attributes COP cannot represent: "+countList(sc.skipped)+".")
	}
	if len(ev.Names) > event.MaxNames {
		notes = append(notes, fmt.Sprintf("%d further names dropped (at most %d per event).", len(ev.Names)-event.MaxNames, event.MaxNames))
		ev.Names = ev.Names[:event.MaxNames]
	}
	return strings.Join(notes, " ")
}

// markings sets ev's severity, confidence and TLP from the event's threat level, analysis,
// distribution and tags (a tag wins).
func markings(me *mispEvent, tags *tagFacts, ev *event.Event) {
	ev.Severity = event.SeverityMedium
	if n, ok := atoi(me.ThreatLevelID); ok {
		if s, ok := severities[n]; ok {
			ev.Severity = s
		}
	}
	ev.Confidence = defaultConfidence
	if n, ok := atoi(me.Analysis); ok {
		if c, ok := analysisConfidence[n]; ok {
			ev.Confidence = c
		}
	}
	if tags.confidence >= 0 {
		ev.Confidence = uint8(tags.confidence)
	}
	ev.TLP = tags.tlp
	if ev.TLP == 0 {
		ev.TLP = defaultTLP
		if n, ok := atoi(me.Distribution); ok {
			if t, ok := distributionTLP[n]; ok {
				ev.TLP = t
			}
		}
	}
}

// count writes n and the noun, plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// sightingCount counts MISP sightings by type: 0 (or none given) seen, 1 false positive,
// 2 expiration.
type sightingCount struct{ seen, falsePositive, expired int }

func (c *sightingCount) add(ss []sighting) {
	for _, s := range ss {
		switch strings.TrimSpace(string(s.Type)) {
		case "1":
			c.falsePositive++
		case "2":
			c.expired++
		default:
			c.seen++
		}
	}
}

// observedAt takes date (the day the event happened), else timestamp (last change), else
// publish_timestamp.
func observedAt(me *mispEvent) (time.Time, error) {
	if me.Date != "" {
		if t, err := time.Parse(time.DateOnly, me.Date); err == nil {
			return t, nil
		}
		if me.Timestamp == "" && me.PublishTimestamp == "" {
			return time.Time{}, fieldErr("date", "%s: want YYYY-MM-DD", event.Quote(me.Date))
		}
	}
	for _, p := range [...]struct {
		name string
		v    flexString
	}{{"timestamp", me.Timestamp}, {"publish_timestamp", me.PublishTimestamp}} {
		if p.v == "" || p.v == "0" {
			continue
		}
		n, err := strconv.ParseInt(string(p.v), 10, 64)
		if err != nil {
			return time.Time{}, fieldErr(p.name, "%s: want Unix seconds", event.Quote(string(p.v)))
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fieldErr("date", "missing: want date (YYYY-MM-DD) or timestamp")
}

// countList names the skipped attribute types and how many of each: the first
// maxSkippedTypes (in order), each type clipped, then how many more types there were.
func countList(m map[string]int) string {
	var parts []string
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys[:min(len(keys), maxSkippedTypes)] {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], event.Clip(k)))
	}
	if more := len(keys) - maxSkippedTypes; more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more types", more))
	}
	return strings.Join(parts, ", ")
}

// maxSkippedTypes caps the attribute types a reason lists.
const maxSkippedTypes = 10
