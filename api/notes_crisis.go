package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
)

// crisisSubject decides whether id may see crisis sid under the view q names, and gives
// its markings, for the notes on it. Crises live on the crisis branch (issue 20); until
// it fills this in, a crisis is visible to analysts, liaison officers and admins only, in
// the exercise the request names, marked TLP:CLEAR without recipients (so a note's own
// marking alone decides), and every well-formed id exists. The crisis core replaces this
// body with its own look-up: hidden or absent answer ok false alike, and a commander
// sees the crises touching its missions.
func (s *Server) crisisSubject(r *http.Request, id access.Identity, sid string, q url.Values) (noteSubject, bool, error) {
	_, _ = r, sid
	ex := strings.ToUpper(q.Get("exercise"))
	if !id.AllowedExercise(ex) {
		return noteSubject{}, false, errForbiddenExercise
	}
	switch id.Role {
	case access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin:
		return noteSubject{TLP: event.TLPClear, Exercise: ex}, true, nil
	}
	return noteSubject{}, false, nil
}
