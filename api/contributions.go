package api

import (
	"net/http"

	"github.com/cidcc/cop/internal/access"
)

// contributionsLimit is how many events, dead letters and received minutes one answer of
// GET /api/v1/contributions lists.
const contributionsLimit = 100

// contributions serves GET /api/v1/contributions: a contributor's own latest accepted
// events and dead letters, with the reasons (what its page on the dashboard shows). A
// contributor sees only its own, whatever it asks; an admin names one with ?contributor=.
func (s *Server) contributions(w http.ResponseWriter, r *http.Request, id access.Identity) {
	status, rows := http.StatusOK, 0
	defer func() { s.audit(r, id, "contributions.get", uint64(rows), status) }()
	name := id.Name
	if id.Role == access.RoleAdmin {
		if name = r.URL.Query().Get("contributor"); name == "" {
			status = s.fail(w, r, badParam("contributor", "the contributor whose contributions to list"))
			return
		}
	} else if c := r.URL.Query().Get("contributor"); c != "" && c != id.Name {
		status = http.StatusForbidden
		writeError(w, status, "forbidden", "contributor: a contributor may list only its own contributions")
		return
	}
	out, err := s.Store.ContributionsOf(r.Context(), name, contributionsLimit)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	rows = len(out.Events) + len(out.DeadLetters)
	writeJSON(w, http.StatusOK, out)
}
