package api

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// MISP feed out: COP's events as a MISP feed (the manifest.json + <uuid>.json + hashes.csv
// layout MISP instances publish and subscribe to), so a member state's MISP can add COP
// as a feed (its URL …/api/v1/misp, an Authorization: Bearer header) and pull it. Each file
// holds what the caller may see, by the rules of every read path: the TLP ceiling,
// releasability and missions through store.Caller, ?exercise= for an exercise, and an
// anonymised contributor under the caller's pseudonym of it (Orgc). A MISP event's uuid is
// the first 96 bits of COP's event id and the day it was observed (so that serving
// <uuid>.json reads one day of cop.events through its primary key, not every id); what an
// event holds is listed in docs/formats.md.

func (s *Server) mispRoutes(mux *http.ServeMux) {
	roles := []access.Role{access.RoleAnalyst, access.RoleAdmin}
	mux.Handle("GET /api/v1/misp/manifest.json", s.authed(s.mispManifest, roles...))
	mux.Handle("GET /api/v1/misp/hashes.csv", s.authed(s.mispHashes, roles...))
	mux.Handle("GET /api/v1/misp/{event}", s.authed(s.mispEvent, roles...))
}

// mispUUID is the MISP uuid of the event id observed at: 24 hex digits of the id (96 bits)
// then the observed day (days since 1970) in 8; false for an id that is not 32 hex digits.
func mispUUID(id string, observed time.Time) (string, bool) {
	if len(id) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	days := observed.Unix() / 86400
	if days < 0 || days > math.MaxUint32 {
		return "", false
	}
	x := strings.ToLower(id[:24]) + fmt.Sprintf("%08x", days)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], true
}

// mispEventKey reads "<uuid>.json" back into the id prefix and the observed day; false
// when it is not one.
func mispEventKey(file string) (prefix string, day time.Time, ok bool) {
	u, ok := strings.CutSuffix(file, ".json")
	if !ok || len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return "", time.Time{}, false
	}
	x := strings.ToLower(strings.ReplaceAll(u, "-", ""))
	if _, err := hex.DecodeString(x); err != nil || len(x) != 32 {
		return "", time.Time{}, false
	}
	days, _ := strconv.ParseUint(x[24:], 16, 32)
	return x[:24], time.Unix(int64(days)*86400, 0).UTC(), true
}

// nameUUID is a deterministic UUID (v5 shape) for name: organisations and attributes.
func nameUUID(name string) string {
	h := sha1.Sum([]byte("cop-misp:" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

type mispTag struct {
	Name   string `json:"name"`
	Colour string `json:"colour,omitempty"`
}

type mispOrg struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

type mispAttribute struct {
	UUID      string `json:"uuid"`
	Type      string `json:"type"`
	Category  string `json:"category"`
	Value     string `json:"value"`
	ToIDs     bool   `json:"to_ids"`
	Timestamp string `json:"timestamp"`
	Comment   string `json:"comment,omitempty"`
}

type mispEventOut struct {
	UUID             string          `json:"uuid"`
	Info             string          `json:"info"`
	Date             string          `json:"date"`
	Timestamp        string          `json:"timestamp"`
	PublishTimestamp string          `json:"publish_timestamp"`
	Published        bool            `json:"published"`
	Analysis         string          `json:"analysis"`
	ThreatLevelID    string          `json:"threat_level_id"`
	Orgc             mispOrg         `json:"Orgc"`
	Tag              []mispTag       `json:"Tag"`
	Attribute        []mispAttribute `json:"Attribute"`
}

var tlpColour = map[event.TLP]string{event.TLPClear: "#ffffff", event.TLPGreen: "#339900", event.TLPAmber: "#ffc000",
	event.TLPAmberStrict: "#ffc000", event.TLPRed: "#cc0033"}

// threatLevel maps COP's severity to MISP's threat_level_id (1 high … 4 undefined), the
// inverse of ingest/misp's reading.
var threatLevel = map[event.Severity]string{event.SeverityCritical: "1", event.SeverityHigh: "1",
	event.SeverityMedium: "2", event.SeverityLow: "3", event.SeverityInfo: "4"}

// mispAttrType gives the MISP attribute type and category of an observable type.
func mispAttrType(t event.ObservableType) (string, string) {
	switch t {
	case event.ObsIPv4, event.ObsIPv6, event.ObsCIDR:
		return "ip-dst", "Network activity"
	case event.ObsDomain:
		return "domain", "Network activity"
	case event.ObsURL:
		return "url", "Network activity"
	case event.ObsEmail:
		return "email-src", "Payload delivery"
	case event.ObsSHA256:
		return "sha256", "Payload delivery"
	case event.ObsSHA1:
		return "sha1", "Payload delivery"
	case event.ObsMD5:
		return "md5", "Payload delivery"
	case event.ObsCVE:
		return "vulnerability", "External analysis"
	case event.ObsASN:
		return "AS", "Network activity"
	}
	return "", ""
}

// confidenceLevel maps a confidence (0–100) to MISP's misp:confidence-level taxonomy.
func confidenceLevel(c uint8) string {
	switch {
	case c >= 88:
		return "completely-confident"
	case c >= 63:
		return "usually-confident"
	case c >= 38:
		return "fairly-confident"
	case c >= 13:
		return "rarely-confident"
	}
	return "unconfident"
}

func mispTimestamp(e *store.StoredEvent) string {
	t := e.StoredAt
	if t.IsZero() {
		t = e.ReceivedAt
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// mispEventOf writes e (already redacted for the viewer) as a MISP event; false when its id
// cannot be a MISP uuid.
func mispEventOf(e *store.StoredEvent) (mispEventOut, bool) {
	u, ok := mispUUID(e.ID, e.ObservedAt)
	if !ok {
		return mispEventOut{}, false
	}
	ts := mispTimestamp(e)
	info := e.Title
	if info == "" {
		info = e.Kind.String() + " from " + e.Contributor
	}
	m := mispEventOut{UUID: u, Info: info, Date: e.ObservedAt.UTC().Format("2006-01-02"), Timestamp: ts,
		PublishTimestamp: ts, Published: true, Analysis: "2", ThreatLevelID: threatLevel[e.Severity],
		Orgc: mispOrg{Name: e.Contributor, UUID: nameUUID("org:" + e.Contributor)}, Tag: mispTags(e), Attribute: []mispAttribute{}}
	if m.ThreatLevelID == "" {
		m.ThreatLevelID = "4"
	}
	for _, o := range e.Observables {
		typ, cat := mispAttrType(o.Type)
		if typ == "" {
			continue
		}
		m.Attribute = append(m.Attribute, mispAttribute{UUID: nameUUID("attr:" + e.ID + "|" + o.String()), Type: typ,
			Category: cat, Value: o.Value, ToIDs: e.Kind == event.KindIndicator, Timestamp: ts})
	}
	return m, true
}

// mispTags are the event's markings and facts as MISP tags: TLP, the RSIT category,
// ATT&CK techniques, NIS2 sectors, countries and confidence, which ingest/misp reads back,
// and COP's own (kind, severity, releasability, exercise) in the cop: namespace.
func mispTags(e *store.StoredEvent) []mispTag {
	tags := []mispTag{{Name: "tlp:" + strings.ToLower(e.TLP.String()), Colour: tlpColour[e.TLP]}}
	if a, b, ok := strings.Cut(e.Category, "/"); ok {
		tags = append(tags, mispTag{Name: fmt.Sprintf("rsit:%s=%q", a, b)})
	}
	for _, t := range e.Techniques {
		tags = append(tags, mispTag{Name: fmt.Sprintf("misp-galaxy:mitre-attack-pattern=%q", t+" - "+t)})
	}
	for _, s := range e.Sectors {
		tags = append(tags, mispTag{Name: "sector:" + s})
	}
	for _, c := range e.Countries {
		tags = append(tags, mispTag{Name: "country:" + c})
	}
	tags = append(tags, mispTag{Name: fmt.Sprintf("misp:confidence-level=%q", confidenceLevel(e.Confidence))},
		mispTag{Name: fmt.Sprintf("cop:kind=%q", e.Kind.String())}, mispTag{Name: fmt.Sprintf("cop:severity=%q", e.Severity.String())})
	for _, r := range e.ReleasableTo {
		tags = append(tags, mispTag{Name: fmt.Sprintf("cop:releasable-to=%q", r)})
	}
	if e.Exercise != "" {
		tags = append(tags, mispTag{Name: fmt.Sprintf("cop:exercise=%q", e.Exercise)})
	}
	return tags
}

// mispScan streams every event the caller may see (newest stored last) to fn.
func (s *Server) mispScan(w http.ResponseWriter, r *http.Request, id access.Identity, action string, f store.EventFilter,
	start func(), fn func(*store.StoredEvent, mispEventOut) error) {
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, action, uint64(max(rows, 0)), status) }()
	c, err := callerFor(id, r.URL.Query())
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	f.ByStored = true
	started := false
	_, err = s.Store.EachEvent(r.Context(), c, f, func(e *store.StoredEvent) error {
		s.redactEvent(id, e)
		m, ok := mispEventOf(e)
		if !ok {
			return nil
		}
		if !started {
			start()
			started = true
		}
		rows++
		return fn(e, m)
	})
	if err != nil && !started {
		status = s.fail(w, r, err)
		return
	}
	if err != nil {
		s.logError(r, err).Int("rows", rows).Msg("MISP feed cut short")
		status = http.StatusInternalServerError
		return
	}
	if !started {
		start()
	}
	status = http.StatusOK
}

// mispManifest serves manifest.json: {uuid: {Orgc, Tag, info, date, analysis,
// threat_level_id, timestamp}} for every event the caller may see.
func (s *Server) mispManifest(w http.ResponseWriter, r *http.Request, id access.Identity) {
	n, opened := 0, false
	s.mispScan(w, r, id, "misp.manifest", store.EventFilter{}, func() {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{"))
		opened = true
	}, func(e *store.StoredEvent, m mispEventOut) error {
		ts, _ := strconv.ParseInt(m.Timestamp, 10, 64)
		level, _ := strconv.Atoi(m.ThreatLevelID)
		b, _ := json.Marshal(map[string]any{"Orgc": m.Orgc, "Tag": m.Tag, "info": m.Info, "date": m.Date,
			"analysis": 2, "threat_level_id": level, "timestamp": ts})
		key, _ := json.Marshal(m.UUID)
		sep := ","
		if n == 0 {
			sep = ""
		}
		n++
		_, err := w.Write([]byte(sep + string(key) + ":" + string(b)))
		return err
	})
	if opened {
		w.Write([]byte("}\n"))
	}
}

// mispHashes serves hashes.csv: the MD5 of each attribute value and its event's uuid, one
// per line, as MISP's feed correlation reads it.
func (s *Server) mispHashes(w http.ResponseWriter, r *http.Request, id access.Identity) {
	s.mispScan(w, r, id, "misp.hashes", store.EventFilter{}, func() {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	}, func(e *store.StoredEvent, m mispEventOut) error {
		var b strings.Builder
		for _, a := range m.Attribute {
			h := md5.Sum([]byte(a.Value))
			b.WriteString(hex.EncodeToString(h[:]) + "," + m.UUID + "\n")
		}
		_, err := w.Write([]byte(b.String()))
		return err
	})
}

// mispEvent serves <uuid>.json: {"Event": …}. An event that does not exist and one the
// caller may not see get the same 404.
func (s *Server) mispEvent(w http.ResponseWriter, r *http.Request, id access.Identity) {
	file := r.PathValue("event")
	prefix, day, ok := mispEventKey(file)
	if !ok {
		s.audit(r, id, "misp.event", 0, http.StatusNotFound)
		writeError(w, http.StatusNotFound, "not_found", "want manifest.json, hashes.csv or <event uuid>.json")
		return
	}
	var found *mispEventOut
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "misp.event", uint64(rows), status) }()
	c, err := callerFor(id, r.URL.Query())
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	f := store.EventFilter{IDPrefix: prefix, Since: day, Until: day.Add(24 * time.Hour)}
	_, err = s.Store.EachEvent(r.Context(), c, f, func(e *store.StoredEvent) error {
		s.redactEvent(id, e)
		if m, ok := mispEventOf(e); ok && found == nil && m.UUID+".json" == strings.ToLower(file) {
			found = &m
		}
		return nil
	})
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	if found == nil {
		status = http.StatusNotFound
		writeError(w, http.StatusNotFound, "not_found", "no such event in this feed")
		return
	}
	rows = 1
	w.Header().Set("Last-Modified", time.Unix(mustInt(found.Timestamp), 0).UTC().Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, map[string]any{"Event": found})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
