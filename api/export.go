package api

import (
	"crypto/sha1"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// csvColumns are the columns of a CSV export, in order.
var csvColumns = []string{"id", "observed_at", "received_at", "contributor", "kind", "category", "severity",
	"confidence", "tlp", "releasable_to", "exercise", "countries", "sectors", "techniques", "observables",
	"situation_id", "title", "names", "false_positives"}

// csvExport writes events as CSV rows, flushing every few hundred so a long export
// streams instead of building in memory.
type csvExport struct {
	w     *csv.Writer
	flush func()
	n     int
}

func newCSVExport(w http.ResponseWriter) *csvExport {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="cop-events.csv"`)
	x := &csvExport{w: csv.NewWriter(w), flush: func() {}}
	if f, ok := w.(http.Flusher); ok {
		x.flush = f.Flush
	}
	x.w.Write(csvColumns)
	return x
}

func (x *csvExport) write(e *store.StoredEvent) error {
	obs := make([]string, len(e.Observables))
	for i, o := range e.Observables {
		obs[i] = o.String()
	}
	names := make([]string, len(e.Names))
	for i, n := range e.Names {
		names[i] = n.Kind + ":" + n.Name
	}
	err := x.w.Write([]string{e.ID, e.ObservedAt.Format(time.RFC3339), e.ReceivedAt.Format(time.RFC3339),
		cell(e.Contributor), e.Kind.String(), cell(e.Category), e.Severity.String(), strconv.Itoa(int(e.Confidence)),
		e.TLP.String(), cell(strings.Join(e.ReleasableTo, ";")), cell(e.Exercise), strings.Join(e.Countries, ";"),
		strings.Join(e.Sectors, ";"), strings.Join(e.Techniques, ";"), cell(strings.Join(obs, ";")), e.SituationID,
		cell(e.Title), cell(strings.Join(names, ";")), strconv.FormatUint(uint64(e.FalsePositives), 10)})
	if x.n++; x.n%500 == 0 {
		x.w.Flush()
		x.flush()
	}
	return err
}

func (x *csvExport) close() error {
	x.w.Flush()
	return x.w.Error()
}

// cell defuses spreadsheet formulas: contributors write titles, analysts open the file.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// TLP 2.0 marking definitions (OASIS TLP 2.0 extension), the ids ingest/stix reads back.
var tlpMarking = map[event.TLP]string{
	event.TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	event.TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	event.TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	event.TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	event.TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

const tlpExtension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

func markingDefinition(t event.TLP) map[string]any {
	return map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": tlpMarking[t],
		"created": "2022-10-01T00:00:00.000Z", "name": "TLP:" + t.String(),
		"extensions": map[string]any{tlpExtension: map[string]any{"extension_type": "property-extension",
			"tlp_2_0": strings.ToLower(t.String())}}}
}

// stixNamespace is the namespace of COP's STIX ids.
var stixNamespace = [16]byte{0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}

// stixID returns a deterministic STIX id (UUIDv5 in the STIX namespace) for name, so the
// same event exports to the same objects every time.
func stixID(typ, name string) string {
	h := sha1.New()
	h.Write(stixNamespace[:])
	h.Write([]byte(typ + ":" + name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return typ + "--" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// patternTerm returns the STIX pattern comparison and the SCO of one observable, or
// false for types STIX patterns cannot name (CVE: a vulnerability, not an observable).
func patternTerm(o event.Observable) (string, map[string]any, bool) {
	q := func(v string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'" }
	ip := "ipv4-addr"
	if strings.Contains(o.Value, ":") {
		ip = "ipv6-addr"
	}
	sco := func(typ string, props map[string]any) map[string]any {
		props["type"], props["spec_version"], props["id"] = typ, "2.1", stixID(typ, o.String())
		return props
	}
	switch o.Type {
	case event.ObsIPv4, event.ObsIPv6, event.ObsCIDR:
		return "[" + ip + ":value = " + q(o.Value) + "]", sco(ip, map[string]any{"value": o.Value}), true
	case event.ObsDomain:
		return "[domain-name:value = " + q(o.Value) + "]", sco("domain-name", map[string]any{"value": o.Value}), true
	case event.ObsURL:
		return "[url:value = " + q(o.Value) + "]", sco("url", map[string]any{"value": o.Value}), true
	case event.ObsEmail:
		return "[email-addr:value = " + q(o.Value) + "]", sco("email-addr", map[string]any{"value": o.Value}), true
	case event.ObsSHA256, event.ObsSHA1, event.ObsMD5:
		algo := map[event.ObservableType]string{event.ObsSHA256: "SHA-256", event.ObsSHA1: "SHA-1", event.ObsMD5: "MD5"}[o.Type]
		return "[file:hashes.'" + algo + "' = " + q(o.Value) + "]",
			sco("file", map[string]any{"hashes": map[string]string{algo: o.Value}}), true
	case event.ObsASN:
		n, err := strconv.ParseUint(strings.TrimPrefix(o.Value, "AS"), 10, 32)
		if err != nil {
			return "", nil, false
		}
		return "[autonomous-system:number = " + strconv.FormatUint(n, 10) + "]", sco("autonomous-system", map[string]any{"number": n}), true
	}
	return "", nil, false
}

// stixExport writes one STIX 2.1 bundle object by object: TLP marking definitions first,
// then for each event its contributor's identity (once, under the name the viewer may
// see), its SCOs (once) and the object that carries the event:
//   - indicator → indicator with a pattern OR-ing its observables;
//   - sighting → observed-data referring to its SCOs;
//   - report → report referring to its SCOs;
//   - incident → incident, plus an indicator that "indicates" it when it has observables
//     (STIX incidents carry no observables of their own; re-ingested, that indicator is an
//     event too).
//
// The names an event states become campaign, intrusion-set, threat-actor, malware and tool
// objects (stixNames, written last) that its indicator "indicates" (the relationship STIX
// 2.1 defines from an indicator to each of them), its report refers to (object_refs), and
// its observed data or incident is "related-to" (STIX defines nothing more precise from
// those). No attributed-to or uses between the names: an event that names an intrusion
// set and a malware does not say the set uses it.
type stixExport struct {
	w     io.Writer
	flush func()
	n     int
	seen  map[string]bool
	names stixNames
	err   error
	// carried, when set, is told the id of each object that carries an event (notes refer
	// to them: notes_export.go).
	carried func(e *store.StoredEvent, id string)
}

func newSTIXExport(w io.Writer, flush func(), id string) *stixExport {
	x := &stixExport{w: w, flush: flush, seen: map[string]bool{}}
	x.raw(`{"type":"bundle","id":"` + stixID("bundle", id) + `","objects":[`)
	for t := event.TLPClear; t <= event.TLPRed; t++ {
		x.object(markingDefinition(t))
	}
	return x
}

func (x *stixExport) raw(s string) {
	if x.err == nil {
		_, x.err = io.WriteString(x.w, s)
	}
}

func (x *stixExport) object(o map[string]any) {
	b, err := json.Marshal(o)
	if err != nil {
		x.err = err
		return
	}
	if x.n > 0 {
		x.raw(",")
	}
	x.n++
	x.raw(string(b))
}

// eventObjectNames are, for each type of object an event exports as its own, the names
// around the event's id its STIX id is made of (stixID(typ, prefix+e.ID+suffix), objects
// below): TAXII looks an object of these types up by them. Objects shared by events (SCOs,
// identities) have none. TestEveryExportedObjectIsFoundByItsID holds the two together.
var eventObjectNames = map[string][]store.UUIDForm{
	"indicator":     {{Prefix: "indicator:"}, {Prefix: "indicator:", Suffix: "/indicator"}},
	"observed-data": {{Prefix: "observed-data:"}},
	"incident":      {{Prefix: "incident:"}},
	"report":        {{Prefix: "report:"}},
	"relationship":  {{Prefix: "relationship:", Suffix: "/indicates"}},
}

// eventNamed is the filter for the events that may have exported object id, nil when its
// type is not one an event exports as its own.
func eventNamed(id string) *store.UUIDName {
	typ, u, ok := strings.Cut(id, "--")
	forms := eventObjectNames[typ]
	if !ok || forms == nil {
		return nil
	}
	return &store.UUIDName{Namespace: stixNamespace, UUID: u, Forms: forms}
}

// objects returns the STIX objects of e (without the ones already written when dedup),
// contributor being the name the viewer may see.
func (x *stixExport) objects(e *store.StoredEvent, contributor string) []map[string]any {
	var out []map[string]any
	once := func(o map[string]any) {
		id := o["id"].(string)
		if x.seen == nil || !x.seen[id] {
			if x.seen != nil {
				x.seen[id] = true
			}
			out = append(out, o)
		}
	}
	creator := stixID("identity", contributor)
	nameIDs := x.names.add(e)
	once(map[string]any{"type": "identity", "spec_version": "2.1", "id": creator, "created": "2020-01-01T00:00:00.000Z",
		"modified": "2020-01-01T00:00:00.000Z", "name": contributor, "identity_class": "organization"})
	var terms []string
	var refs []string
	for _, o := range e.Observables {
		term, sco, ok := patternTerm(o)
		if !ok {
			continue
		}
		terms = append(terms, term)
		refs = append(refs, sco["id"].(string))
		if e.Kind != event.KindIndicator {
			once(sco)
		}
	}
	created := e.ReceivedAt
	if created.Before(e.ObservedAt) {
		created = e.ObservedAt
	}
	common := func(typ, idName string) map[string]any {
		o := map[string]any{"type": typ, "spec_version": "2.1", "id": stixID(typ, idName), "created": stixTime(created),
			"modified": stixTime(created), "created_by_ref": creator, "object_marking_refs": []string{tlpMarking[e.TLP]},
			"confidence": int(e.Confidence), "x_cop_severity": e.Severity.String(), "x_cop_event_id": e.ID}
		if e.Title != "" {
			o["name"] = e.Title
		}
		if e.Summary != "" {
			o["description"] = e.Summary
		}
		if e.Category != "" {
			o["x_cop_category"] = e.Category
		}
		for k, v := range map[string][]string{"x_cop_sectors": e.Sectors, "x_cop_countries": e.Countries, "x_cop_techniques": e.Techniques, "x_cop_releasable_to": e.ReleasableTo} {
			if len(v) > 0 {
				o[k] = v
			}
		}
		if e.Exercise != "" {
			o["x_cop_exercise"] = e.Exercise
		}
		return o
	}
	indicator := func(idName string) map[string]any {
		o := common("indicator", idName)
		o["pattern"], o["pattern_type"], o["valid_from"] = strings.Join(terms, " OR "), "stix", stixTime(e.ObservedAt)
		o["indicator_types"] = []string{"malicious-activity"}
		if !e.ValidUntil.IsZero() && e.ValidUntil.After(e.ObservedAt) {
			o["valid_until"] = stixTime(e.ValidUntil)
		}
		return o
	}
	related := func(rel string, src map[string]any) {
		for _, r := range nameRelationships(rel, src["id"].(string), nameIDs, creator, stixTime(created), e.TLP) {
			once(r)
		}
	}
	switch {
	case e.Kind == event.KindIndicator && len(terms) > 0:
		ind := indicator(e.ID)
		once(ind)
		related("indicates", ind)
	case e.Kind == event.KindSighting && len(refs) > 0:
		o := common("observed-data", e.ID)
		o["first_observed"], o["last_observed"], o["number_observed"], o["object_refs"] = stixTime(e.ObservedAt), stixTime(e.ObservedAt), 1, refs
		once(o)
		related("related-to", o)
	case e.Kind == event.KindIncident:
		o := common("incident", e.ID)
		o["created"] = stixTime(e.ObservedAt)
		once(o)
		related("related-to", o)
		if len(terms) > 0 {
			ind := indicator(e.ID + "/indicator")
			once(ind)
			once(map[string]any{"type": "relationship", "spec_version": "2.1", "id": stixID("relationship", e.ID+"/indicates"),
				"created": stixTime(created), "modified": stixTime(created), "relationship_type": "indicates",
				"source_ref": ind["id"], "target_ref": o["id"], "object_marking_refs": []string{tlpMarking[e.TLP]}})
			related("indicates", ind)
		}
	default: // reports, and sightings or indicators with nothing a pattern can name
		o := common("report", e.ID)
		o["published"], o["report_types"] = stixTime(e.ObservedAt), []string{"threat-report"}
		refs = append(refs, nameIDs...)
		if len(refs) == 0 {
			refs = []string{creator}
		}
		o["object_refs"] = refs
		once(o)
	}
	return out
}

func (x *stixExport) write(e *store.StoredEvent, contributor string) error {
	for _, o := range x.objects(e, contributor) {
		if x.carried != nil && o["x_cop_event_id"] == e.ID {
			x.carried(e, o["id"].(string))
		}
		x.object(o)
	}
	if x.n%500 == 0 && x.flush != nil {
		x.flush()
	}
	return x.err
}

func (x *stixExport) close() error {
	names, _ := x.names.objects()
	for _, o := range names {
		x.object(o)
	}
	x.raw("]}\n")
	return x.err
}
