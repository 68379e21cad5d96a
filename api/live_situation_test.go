package api

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// A situation the live picture shows before the store holds it (the correlator writes
// small flushes up to --store-flush-wait later) opens in the detail panel and takes
// notes, with the same rules: another mission's commander, a GREEN-capped one against
// AMBER, another exercise and an anonymised contributor are treated as for a stored one.
func TestSituationOnlyInTheLivePictureIsServedWithTheSameRules(t *testing.T) {
	st := openStore(t)
	f := newFixture(t, st, matrixIdentities, nil)
	ex := fmt.Sprintf("LIVE-%08X", rand.Uint32())
	id := func(s string) string { return fmt.Sprintf("s-live-%08x-%s", rand.Uint32(), s) }
	amber, green, so, exs := id("amber"), id("green"), id("so"), id("ex")
	f.pic.Apply(deltas(
		sit(amber, event.TLPAmber, func(s *picture.Situation) {
			s.Contributors = []picture.Contributor{{Name: "feed-a"}, {Name: "secret-cert", Anonymise: true}}
		}),
		sit(green, event.TLPGreen, nil),
		sit(so, event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"SO"} }),
		sit(exs, event.TLPGreen, func(s *picture.Situation) { s.Exercise = ex }),
	))
	get := func(who, path string) (int, string) {
		t.Helper()
		resp := f.do(t, http.MethodGet, path, f.tokens[who], nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		who, sid, query string
		want            int
	}{
		{"cmdr-althea", amber, "", 200},
		{"cmdr-green", green, "", 200},
		{"cmdr-green", amber, "", 404}, // above its ceiling
		{"cmdr-althea", so, "", 404},   // outside its mission's area
		{"analyst-1", so, "", 200},     // an analyst sees every area
		{"analyst-1", exs, "", 404},    // an exercise's, in the real picture
		{"admin", exs, "?exercise=" + ex, 200},
		{"cmdr-althea", green, "?mission=EUNAVFOR-ATALANTA", 400}, // not its mission
	} {
		if code, body := get(c.who, "/api/v1/situations/"+c.sid+c.query); code != c.want {
			t.Errorf("%s GET %s%s: %d, want %d: %s", c.who, c.sid, c.query, code, c.want, body)
		}
	}
	_, body := get("cmdr-althea", "/api/v1/situations/"+amber)
	var one struct {
		Situation picture.Situation
		Events    []json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &one); err != nil || one.Situation.ID != amber || len(one.Events) != 0 {
		t.Fatalf("live situation answer %s (%v)", body, err)
	}
	if strings.Contains(body, "secret-cert") || !strings.Contains(body, testAnon.Pseudonym("cmdr-althea", "secret-cert")) {
		t.Errorf("the anonymised contributor is not shown by its pseudonym: %s", body)
	}
	note := func(who, sid string) int {
		t.Helper()
		resp := f.do(t, http.MethodPost, "/api/v1/notes", f.tokens[who], strings.NewReader(
			`{"subject_kind":"situation","subject_id":"`+sid+`","text":"seen live","tlp":"AMBER","confidence":50}`))
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := note("analyst-1", amber); code != http.StatusCreated && code != http.StatusOK {
		t.Errorf("a note on a live situation: %d", code)
	}
	if code := note("analyst-1", exs); code != http.StatusNotFound {
		t.Errorf("a note on another exercise's live situation: %d, want 404", code)
	}
}
