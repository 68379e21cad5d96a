package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/store"
)

// TAXII 2.1 read side: discovery, one API root, a collection for the real picture and one
// per exercise the caller may view, and their objects (the events as STIX, in the order
// COP stored them). Paging is by an opaque next token on (stored_at, id); limit counts
// events, each of which may yield a few objects (its identity, SCOs, the object itself).

const (
	taxiiMedia   = "application/taxii+json;version=2.1"
	taxiiRoot    = "/taxii2/cop/"
	taxiiTimeFmt = "2006-01-02T15:04:05.000Z"
)

// pictureCollection is the id of the real picture's collection.
var pictureCollection = collectionID("")

func collectionID(exercise string) string {
	return strings.TrimPrefix(stixID("collection", exercise), "collection--")
}

func (s *Server) taxiiRoutes(mux *http.ServeMux) {
	roles := []access.Role{access.RoleAnalyst, access.RoleAdmin}
	mux.Handle("GET /taxii2/", s.authed(s.taxiiDiscovery, roles...))
	mux.Handle("GET "+taxiiRoot, s.authed(s.taxiiAPIRoot, roles...))
	// {$}: a pattern ending in / matches its whole subtree (…/manifest/ answered the
	// collection, …/objects/<id>/ the first page of objects).
	mux.Handle("GET "+taxiiRoot+"collections/{$}", s.authed(s.taxiiCollections, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/{$}", s.authed(s.taxiiCollection, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/objects/{$}", s.authed(s.taxiiObjects, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/manifest/{$}", s.authed(s.taxiiObjects, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/objects/{object}/{$}", s.authed(s.taxiiObjects, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/objects/{object}/versions/{$}", s.authed(s.taxiiObjects, roles...))
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", taxiiMedia)
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}

func taxiiError(w http.ResponseWriter, status int, title string) {
	writeTAXII(w, status, map[string]any{"title": title, "http_status": status})
}

// acceptsTAXII reports whether the Accept header allows TAXII 2.1's media type: absent,
// */*, application/*, or application/taxii+json without a version or with version=2.1.
// TAXII 2.0's (application/vnd.oasis.taxii+json) and version=2.0 are not served (406).
func acceptsTAXII(r *http.Request) bool {
	a := r.Header.Get("Accept")
	if strings.TrimSpace(a) == "" {
		return true
	}
	for _, rng := range strings.Split(a, ",") {
		parts := strings.Split(rng, ";")
		typ := strings.ToLower(strings.TrimSpace(parts[0]))
		version, refused := "", false
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(p, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "version":
				version = strings.TrimSpace(v)
			case "q":
				refused = strings.Trim(strings.TrimSpace(v), "0.") == ""
			}
		}
		if refused {
			continue
		}
		switch typ {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if version == "" || version == "2.1" {
				return true
			}
		}
	}
	return false
}

func (s *Server) taxiiDiscovery(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if r.URL.Path != "/taxii2/" {
		taxiiError(w, http.StatusNotFound, "no such TAXII resource")
		return
	}
	if !acceptsTAXII(r) {
		taxiiError(w, http.StatusNotAcceptable, "accept "+taxiiMedia)
		return
	}
	writeTAXII(w, http.StatusOK, map[string]any{"title": "COP — common operational cyber picture",
		"description": "History of the EU common operational cyber picture, as STIX 2.1", "default": taxiiRoot,
		"api_roots": []string{taxiiRoot}})
}

func (s *Server) taxiiAPIRoot(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !acceptsTAXII(r) {
		taxiiError(w, http.StatusNotAcceptable, "accept "+taxiiMedia)
		return
	}
	writeTAXII(w, http.StatusOK, map[string]any{"title": "COP", "versions": []string{taxiiMedia},
		"max_content_length": 0})
}

type taxiiCollection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
	exercise    string
}

// collections returns the collections id may read: the real picture and its exercises.
func (s *Server) collections(r *http.Request, id access.Identity) []taxiiCollection {
	mk := func(ex string) taxiiCollection {
		c := taxiiCollection{ID: collectionID(ex), Title: "COP real picture", CanRead: true,
			MediaTypes: []string{"application/stix+json;version=2.1"}, exercise: ex}
		if ex != "" {
			c.Title, c.Description = "COP exercise "+ex, "Exercise traffic, never mixed with the real picture"
		}
		return c
	}
	out := []taxiiCollection{mk("")}
	exercises := slices.Clone(id.Exercises)
	if id.Role == access.RoleAdmin && s.Store != nil {
		if all, err := s.Store.Exercises(r.Context()); err == nil {
			exercises = append(exercises, all...)
		}
	}
	slices.Sort(exercises)
	for _, ex := range slices.Compact(exercises) {
		if id.AllowedExercise(ex) {
			out = append(out, mk(ex))
		}
	}
	return out
}

func (s *Server) findCollection(r *http.Request, id access.Identity) (taxiiCollection, bool) {
	want := r.PathValue("id")
	for _, c := range s.collections(r, id) {
		if c.ID == want {
			return c, true
		}
	}
	return taxiiCollection{}, false
}

func (s *Server) taxiiCollections(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !acceptsTAXII(r) {
		taxiiError(w, http.StatusNotAcceptable, "accept "+taxiiMedia)
		return
	}
	writeTAXII(w, http.StatusOK, map[string]any{"collections": s.collections(r, id)})
}

func (s *Server) taxiiCollection(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if !acceptsTAXII(r) {
		taxiiError(w, http.StatusNotAcceptable, "accept "+taxiiMedia)
		return
	}
	c, ok := s.findCollection(r, id)
	if !ok {
		// The same answer for a collection that does not exist and one it may not read.
		taxiiError(w, http.StatusNotFound, "no such collection")
		return
	}
	writeTAXII(w, http.StatusOK, c)
}

// taxiiMatch is the match[...] filters of a TAXII request (TAXII 2.1 section 3.4.1).
// COP keeps one version of each object, in STIX 2.1: match[version] first, last and all
// select it alike, a timestamp selects it when it is its version; match[spec_version]
// selects everything when it lists 2.1, nothing otherwise.
type taxiiMatch struct {
	ids, types []string
	versions   []time.Time // empty: any version (first, last, all or absent)
	noSpec     bool        // match[spec_version] lists no version COP serves
}

func parseTAXIIMatch(q url.Values, object string) (taxiiMatch, error) {
	m := taxiiMatch{ids: list(q, "match[id]"), types: list(q, "match[type]")}
	if object != "" {
		m.ids = []string{object}
	}
	for _, v := range list(q, "match[version]") {
		switch v {
		case "first", "last", "all":
			m.versions = nil
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return m, badParam("match[version]", "first, last, all or RFC 3339 timestamps")
		}
		m.versions = append(m.versions, t)
	}
	if specs := list(q, "match[spec_version]"); len(specs) > 0 {
		m.noSpec = !slices.Contains(specs, "2.1")
	}
	return m, nil
}

// version is o's version as TAXII counts it: modified, else created, else when it was added.
func taxiiVersion(o map[string]any, added time.Time) string {
	for _, k := range []string{"modified", "created"} {
		if v, ok := o[k].(string); ok {
			return v
		}
	}
	return added.UTC().Format(taxiiTimeFmt)
}

func (m *taxiiMatch) keep(o map[string]any, version string) bool {
	if m.noSpec || len(m.types) > 0 && !slices.Contains(m.types, o["type"].(string)) ||
		len(m.ids) > 0 && !slices.Contains(m.ids, o["id"].(string)) {
		return false
	}
	if len(m.versions) == 0 {
		return true
	}
	v, err := time.Parse(time.RFC3339Nano, version)
	return err == nil && slices.ContainsFunc(m.versions, v.Equal)
}

// errTAXIIFound stops the scan for one object once it is found.
var errTAXIIFound = errors.New("found")

// taxiiObjects serves a collection's objects/ and manifest/, and one object's
// objects/{object}/ and objects/{object}/versions/: ?added_after, ?limit, ?next and
// match[id], match[type], match[version], match[spec_version]. One object of an event's own
// is looked for among the events whose id its STIX id names (eventNamed, computed by
// ClickHouse over the id column); a shared one (an SCO, an identity) through the
// collection as the caller may see it, stopping at the first match; 404 when there is none.
func (s *Server) taxiiObjects(w http.ResponseWriter, r *http.Request, id access.Identity) {
	object := r.PathValue("object")
	kind := "objects"
	switch {
	case strings.HasSuffix(r.URL.Path, "/versions/"):
		kind = "versions"
	case object != "":
		kind = "object"
	case strings.HasSuffix(r.URL.Path, "/manifest/"):
		kind = "manifest"
	}
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "taxii."+kind, uint64(max(rows, 0)), status) }()
	fail := func(code int, msg string) { status = code; taxiiError(w, code, msg) }
	if !acceptsTAXII(r) {
		fail(http.StatusNotAcceptable, "accept "+taxiiMedia)
		return
	}
	c, ok := s.findCollection(r, id)
	if !ok {
		fail(http.StatusNotFound, "no such collection")
		return
	}
	caller := store.Caller{Name: id.Name, Missions: id.Missions, MaxTLP: id.MaxTLP, Exercise: c.exercise,
		SeeAnonymised: id.Role == access.RoleAdmin}
	f, match, msg := taxiiObjectsQuery(r.URL.Query(), object)
	if msg != "" {
		fail(http.StatusBadRequest, msg)
		return
	}
	var p taxiiPage
	var next *store.Cursor
	var err error
	for {
		p = taxiiPage{x: &stixExport{seen: map[string]bool{}}, objects: []map[string]any{}, manifest: []map[string]any{}}
		next, err = s.Store.EachEvent(r.Context(), caller, f, func(e *store.StoredEvent) error {
			s.redactEvent(id, e)
			rows++
			return p.add(e, match, object != "")
		})
		if errors.Is(err, errTAXIIFound) {
			next, err = nil, nil
		} else if err == nil {
			p.addNames(match, object != "")
		}
		// A relationship to a name (export_names.go) is not named by its event's id: when
		// the events its id could name hold none, look through the collection.
		if err != nil || len(p.objects) > 0 || f.Named == nil || !strings.HasPrefix(object, "relationship--") {
			break
		}
		f.Named = nil
	}
	if err != nil {
		s.storeError(r, err, "TAXII objects query failed")
		fail(http.StatusServiceUnavailable, "history store unavailable")
		return
	}
	if object != "" && len(p.objects) == 0 {
		// The same answer whether it does not exist or may not be seen.
		fail(http.StatusNotFound, "no such object in this collection")
		return
	}
	if !p.first.IsZero() {
		w.Header().Set("X-TAXII-Date-Added-First", p.first.Format(taxiiTimeFmt))
		w.Header().Set("X-TAXII-Date-Added-Last", p.last.Format(taxiiTimeFmt))
	}
	env := map[string]any{"more": next != nil}
	switch kind {
	case "manifest":
		env["objects"] = p.manifest
	case "versions":
		env["versions"] = p.versions
	default:
		env["objects"] = p.objects
	}
	if next != nil {
		env["next"] = next.String()
	}
	writeTAXII(w, http.StatusOK, env)
}

// taxiiObjectsQuery reads the filter and the match of an objects request (for one object
// when object is set); msg says what is wrong with the query, if anything.
func taxiiObjectsQuery(q url.Values, object string) (f store.EventFilter, match taxiiMatch, msg string) {
	f = store.EventFilter{ByStored: true}
	var err error
	if v := q.Get("added_after"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return f, match, "added_after: want an RFC 3339 timestamp"
		}
		f.Since = store.QueryTime(f.Since) // after the last time the store can hold: nothing
	}
	if f.Limit, err = parseLimit(q, DefaultLimit); err != nil {
		return f, match, err.Error()
	}
	if v := q.Get("next"); v != "" {
		cur, err := store.ParseCursor(v)
		if err != nil {
			return f, match, "next: want the next value of a previous page"
		}
		f.After = &cur
	}
	if match, err = parseTAXIIMatch(q, object); err != nil {
		return f, match, err.Error()
	}
	if object != "" {
		f.Limit, f.After = 0, nil // one version: no pages
		f.Named = eventNamed(object)
	}
	return f, match, ""
}

// taxiiPage collects the STIX objects of a page of events, their manifest records and
// versions, and the first and last times they were added.
type taxiiPage struct {
	x           *stixExport
	objects     []map[string]any
	manifest    []map[string]any
	versions    []string
	first, last time.Time
}

// addNames adds the name objects of the page's events that match (stixNames), after
// them: the events' own objects come first, as they were added.
func (p *taxiiPage) addNames(match taxiiMatch, one bool) {
	objs, added := p.x.names.objects()
	for i, o := range objs {
		version := taxiiVersion(o, added[i])
		if !match.keep(o, version) || one && len(p.objects) > 0 {
			continue
		}
		p.first, p.last = minTime(p.first, added[i]), maxTime(p.last, added[i])
		p.objects = append(p.objects, o)
		p.manifest = append(p.manifest, map[string]any{"id": o["id"], "date_added": added[i].UTC().Format(taxiiTimeFmt),
			"version": version, "media_type": "application/stix+json;version=2.1"})
		p.versions = append(p.versions, version)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// add adds e's objects that match; with one, it stops at the first (errTAXIIFound).
func (p *taxiiPage) add(e *store.StoredEvent, match taxiiMatch, one bool) error {
	for _, o := range p.x.objects(e, e.Contributor) {
		version := taxiiVersion(o, e.StoredAt)
		if !match.keep(o, version) {
			continue
		}
		if p.first.IsZero() {
			p.first = e.StoredAt
		}
		p.last = e.StoredAt
		p.objects = append(p.objects, o)
		p.manifest = append(p.manifest, map[string]any{"id": o["id"], "date_added": e.StoredAt.UTC().Format(taxiiTimeFmt),
			"version": version, "media_type": "application/stix+json;version=2.1"})
		p.versions = append(p.versions, version)
		if one {
			return errTAXIIFound
		}
	}
	return nil
}
