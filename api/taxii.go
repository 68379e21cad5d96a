package api

import (
	"encoding/json"
	"net/http"
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
	mux.Handle("GET "+taxiiRoot+"collections/", s.authed(s.taxiiCollections, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/", s.authed(s.taxiiCollection, roles...))
	mux.Handle("GET "+taxiiRoot+"collections/{id}/objects/", s.authed(s.taxiiObjects, roles...))
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

// acceptsTAXII reports whether the Accept header allows the TAXII media type.
func acceptsTAXII(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "application/taxii+json") || strings.Contains(a, "*/*")
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
	c, ok := s.findCollection(r, id)
	if !ok {
		// The same answer for a collection that does not exist and one it may not read.
		taxiiError(w, http.StatusNotFound, "no such collection")
		return
	}
	writeTAXII(w, http.StatusOK, c)
}

// taxiiObjects serves a collection's objects: ?added_after, ?limit, ?next, ?match[type].
func (s *Server) taxiiObjects(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "taxii.objects", uint64(max(rows, 0)), status) }()
	if !acceptsTAXII(r) {
		status = http.StatusNotAcceptable
		taxiiError(w, status, "accept "+taxiiMedia)
		return
	}
	c, ok := s.findCollection(r, id)
	if !ok {
		status = http.StatusNotFound
		taxiiError(w, status, "no such collection")
		return
	}
	caller := store.Caller{Name: id.Name, Missions: id.Missions, MaxTLP: id.MaxTLP, Exercise: c.exercise,
		SeeAnonymised: id.Role == access.RoleAdmin}
	f := store.EventFilter{ByStored: true}
	var err error
	if v := q.Get("added_after"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			status = http.StatusBadRequest
			taxiiError(w, status, "added_after: want an RFC 3339 timestamp")
			return
		}
		f.Since = store.QueryTime(f.Since) // after the last time the store can hold: nothing

	}
	if f.Limit, err = parseLimit(q, DefaultLimit); err != nil {
		status = http.StatusBadRequest
		taxiiError(w, status, err.Error())
		return
	}
	if v := q.Get("next"); v != "" {
		cur, err := store.ParseCursor(v)
		if err != nil {
			status = http.StatusBadRequest
			taxiiError(w, status, "next: want the next value of a previous page")
			return
		}
		f.After = &cur
	}
	types := list(q, "match[type]")
	x := &stixExport{seen: map[string]bool{}}
	objects := []map[string]any{}
	var first, last time.Time
	next, err := s.Store.EachEvent(r.Context(), caller, f, func(e *store.StoredEvent) error {
		redactEvent(id, e)
		rows++
		if first.IsZero() {
			first = e.StoredAt
		}
		last = e.StoredAt
		for _, o := range x.objects(e, e.Contributor) {
			if len(types) == 0 || slices.Contains(types, o["type"].(string)) {
				objects = append(objects, o)
			}
		}
		return nil
	})
	if err != nil {
		status = http.StatusServiceUnavailable
		s.storeError(r, err, "TAXII objects query failed")
		taxiiError(w, status, "history store unavailable")
		return
	}
	if !first.IsZero() {
		w.Header().Set("X-TAXII-Date-Added-First", first.Format(taxiiTimeFmt))
		w.Header().Set("X-TAXII-Date-Added-Last", last.Format(taxiiTimeFmt))
	}
	env := map[string]any{"more": next != nil, "objects": objects}
	if next != nil {
		env["next"] = next.String()
	}
	writeTAXII(w, http.StatusOK, env)
}
