package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/picture"
)

// TestAttackerCannotNameAnonymisedContributors plays the attacker of issue 14 on a real
// serve: a viewer that knows its own name, every contributor's name and the pattern of
// their report ids, and reads every response it can get (events as JSON, CSV and STIX,
// TAXII, observables, situations, stats, the websocket). It tries every way the old code
// gave a contributor away: pseudonyms and event ids recomputed from public names, a
// situation holding one contributor's named and anonymised reports, the place of a
// pseudonym in a sorted list, the report id. It must fail on each, while the
// contributor itself and admins still see the name.
func TestAttackerCannotNameAnonymisedContributors(t *testing.T) {
	ns := itest.Namespace(t)
	de, fr, pl := ns+"-de", ns+"-fr", ns+"-pl"
	names := []string{de, fr, pl}
	analyst, cmdr, admin := ns+"-analyst", ns+"-cmdr", ns+"-admin"
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	s := startSecureServe(t, ns, []access.Identity{
		{Name: de, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: fr, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: pl, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: analyst, Role: access.RoleAnalyst, MaxTLP: event.TLPAmber},
		{Name: cmdr, Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: admin, Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	}, nil, func(c *serveConfig) { c.Keys = keyFile })

	// Situation 1 mixes de's named and anonymised reports with fr's; situation 2 is pl's
	// alone, anonymised; situation 3 is de's alone, anonymised.
	anon := `, "anonymise": true`
	d1, d2, d3 := ns+"-one.example", ns+"-two.example", ns+"-three.example"
	for _, p := range []struct{ who, body string }{
		{de, "[" + nativeEvent(de+"-r-1", "GREEN", ns+" wiper beacon", d1, "") + "," + nativeEvent(de+"-r-2", "GREEN", ns+" wiper beacon again", d1, anon) + "]"},
		{fr, nativeEvent(fr+"-r-1", "GREEN", ns+" wiper beacon", d1, "")},
		{pl, nativeEvent(pl+"-r-1", "GREEN", ns+" phishing kit", d2, anon)},
		{de, nativeEvent(de+"-r-3", "GREEN", ns+" scanner", d3, anon)},
	} {
		if status, body, _ := s.push(t, s.tokens[p.who], p.body); status != http.StatusAccepted {
			t.Fatalf("push as %s: %d %s", p.who, status, body)
		}
	}
	get := func(who, path string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+s.addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.tokens[who])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %s", path, who, resp.StatusCode, b)
		}
		return b
	}
	var situations struct {
		Situations []struct{ picture.Situation } `json:"situations"`
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		situations.Situations = nil
		json.Unmarshal(get(admin, "/api/v1/situations?q="+ns+"&limit=50"), &situations)
		events := 0
		for _, x := range situations.Situations {
			events += x.EventCount
		}
		return len(situations.Situations) == 3 && events == 5, fmt.Sprintf("%d situations holding %d events, want 3 holding 5", len(situations.Situations), events)
	})

	// The contributor itself and admins see the name: the test can tell a name when it sees one.
	if !strings.Contains(string(get(de, "/api/v1/whoami")), de) {
		t.Fatal("whoami does not name the contributor")
	}
	if body := string(get(admin, "/api/v1/events?q="+ns+"&limit=50")); !strings.Contains(body, de+"-r-2") {
		t.Fatalf("admin does not see the anonymised report's own id: %s", body)
	}

	// What the key file holds is what the server keys with; the attacker does not have it.
	ring, err := keys.Open(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, viewer := range []string{analyst, cmdr} {
		t.Run(viewer, func(t *testing.T) {
			var responses []string
			add := func(path string) { responses = append(responses, string(get(viewer, path))) }
			if viewer == analyst {
				for _, f := range []string{"", "&format=csv", "&format=stix"} {
					add("/api/v1/events?q=" + ns + "&limit=50" + f)
				}
				for _, d := range []string{d1, d2, d3} {
					add("/api/v1/observables/" + d)
				}
				add("/api/v1/stats?group=contributor")
				var cols struct{ Collections []struct{ ID string } }
				json.Unmarshal(get(viewer, "/taxii2/cop/collections/"), &cols)
				for _, c := range cols.Collections {
					add("/taxii2/cop/collections/" + c.ID + "/objects/")
				}
			}
			listBody := get(viewer, "/api/v1/situations?q="+ns+"&limit=50")
			responses = append(responses, string(listBody))
			for _, x := range situations.Situations {
				if viewer == analyst || strings.Contains(strings.Join(x.Countries, ","), "BA") {
					add("/api/v1/situations/" + x.ID)
				}
			}
			responses = append(responses, wsSnapshot(t, s.addr, s.tokens[viewer]))
			all := strings.Join(responses, "\n")

			// 1. The anonymised reports' own ids never show.
			for _, id := range []string{de + "-r-2", de + "-r-3", pl + "-r-1"} {
				if strings.Contains(all, id) {
					t.Errorf("the anonymised report id %s is shown", id)
				}
			}
			// 2. No pseudonym shown is any unkeyed (or wrongly keyed) hash of the names.
			pseudonyms := regexp.MustCompile(`member state ([0-9a-f]+)`).FindAllStringSubmatch(all, -1)
			if len(pseudonyms) == 0 {
				t.Fatal("no pseudonym in any response: the anonymised reports are not shown at all")
			}
			for _, p := range pseudonyms {
				for _, n := range names {
					h := sha256.Sum256([]byte("cop-pseudonym\x00" + viewer + "\x00" + n))
					for _, guess := range []string{hex.EncodeToString(h[:]), keys.Hash(nil, viewer, n), keys.Hash([]byte(viewer), viewer, n)} {
						if strings.HasPrefix(guess, p[1]) {
							t.Errorf("pseudonym %s recomputed from public names: it is %s", p[0], n)
						}
					}
				}
			}
			// 3. No event id shown is an unkeyed hash of a contributor and a report id of
			// the pattern the attacker knows.
			ids := regexp.MustCompile(`\b[0-9a-f]{32}\b`).FindAllString(all, -1)
			for _, n := range names {
				for i := 1; i <= 3; i++ {
					src := fmt.Sprintf("%s-r-%d", n, i)
					h := sha256.Sum256([]byte(n + "\x00" + src))
					m := hmac.New(sha256.New, nil)
					m.Write([]byte(n + "\x00" + src))
					for _, guess := range []string{hex.EncodeToString(h[:16]), (event.Source{Contributor: n}).EventID(src), hex.EncodeToString(m.Sum(nil)[:16])} {
						for _, id := range ids {
							if id == guess {
								t.Errorf("event id %s recomputed from %s and its report id %s", id, n, src)
							}
						}
					}
				}
			}
			// 4. Every situation shown lists one entry per independent contribution, and the
			// names in sorted order: neither the count nor the place of a pseudonym tells who.
			var list struct {
				Situations []struct{ picture.Situation } `json:"situations"`
			}
			if err := json.Unmarshal(listBody, &list); err != nil || len(list.Situations) == 0 {
				t.Fatalf("situations as %s: %v %s", viewer, err, listBody)
			}
			mixed := false
			for _, x := range list.Situations {
				if x.Explanation.Corroborations != len(x.Contributors) {
					t.Errorf("situation %s shows %d contributors but counts %d: %v", x.ID, len(x.Contributors), x.Explanation.Corroborations, x.Contributors)
				}
				for i := 1; i < len(x.Contributors); i++ {
					if x.Contributors[i-1].Name > x.Contributors[i].Name {
						t.Errorf("situation %s lists contributors out of order: %v", x.ID, x.Contributors)
					}
				}
				named, pseudo := 0, 0
				for _, c := range x.Contributors {
					if c.Name == de {
						named++
					}
					if strings.HasPrefix(c.Name, "member state ") {
						pseudo++
					}
				}
				mixed = mixed || named == 1 && pseudo == 1
			}
			if viewer == analyst && !mixed {
				t.Errorf("the mixed situation does not show %s beside a pseudonym: %+v", de, list.Situations)
			}
			// 5. And the pseudonym the server shows is the keyed one: the test is looking at
			// the right strings.
			if want := (access.Anonymiser{Keys: ring}).Pseudonym(viewer, pl); !strings.Contains(all, want) && viewer == analyst {
				t.Errorf("%s's keyed pseudonym %q not shown to %s", pl, want, viewer)
			}
		})
	}
}

// wsSnapshot returns the first message of the live picture as token sees it.
func wsSnapshot(t *testing.T, addr, token string) string {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, _, err := websocket.DefaultDialer.DialContext(context.Background(), "ws://"+addr+"/ws/picture", h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}
