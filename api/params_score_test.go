package api

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/store"
)

// sort=-score orders situations best first; a cursor of one order is refused in the other
// (its position means nothing there), and events take no score cursor.
func TestSituationSortByScoreAndItsCursor(t *testing.T) {
	f := func(query string, byScore, asc bool, errWant string) {
		t.Helper()
		q, _ := url.ParseQuery(query)
		sf, err := situationFilter(q)
		if errWant != "" {
			if err == nil || !strings.Contains(err.Error(), errWant) {
				t.Errorf("%s: err %v, want %q", query, err, errWant)
			}
			return
		}
		if err != nil || sf.ByScore != byScore || sf.Asc != asc {
			t.Errorf("%s: ByScore %v Asc %v err %v", query, sf.ByScore, sf.Asc, err)
		}
	}
	byScore := store.Cursor{ByScore: true, Score: 42.5, ID: "s-1"}.String()
	byTime := store.Cursor{ID: "s-1"}.String()
	f("sort=-score", true, false, "")
	f("sort=score", true, true, "")
	f("", false, false, "")
	f("sort=-score&cursor="+byScore, true, false, "")
	f("sort=-score&cursor="+byTime, false, false, "cursor: want a cursor from a previous page of the same sort")
	f("cursor="+byScore, false, false, "cursor: want a cursor from a previous page of the same sort")
	f("sort=best", false, false, "sort: want -updated_at (newest first), updated_at, -score (best first) or score")
	if _, err := eventFilter(url.Values{"cursor": {byScore}}); err == nil {
		t.Error("events took a score cursor")
	}
}
