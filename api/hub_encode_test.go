package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// encodeFixture is a flush's changes seen by viewers who share some situations' bytes and
// not others': anonymised contributors (each viewer its own pseudonyms, a contributor its
// own name, an administrator every name), mission ranking, markings, an exercise, removals.
func encodeFixture() (*Hub, []Change, []access.Identity, []access.View) {
	h := NewHub(NewPicture(PictureConfig{}), access.DefaultMissions(), zerolog.Nop(), &metrics.Registry{}, time.Second)
	h.Anon = testAnon
	anonA := func(s *picture.Situation) {
		s.Contributors = []picture.Contributor{{Name: "feed-a", Anonymise: true}, {Name: "feed-b"}}
	}
	anonB := func(s *picture.Situation) {
		s.Contributors = []picture.Contributor{{Name: "feed-b", Anonymise: true}, {Name: "feed-c", Anonymise: true}}
		s.Sectors = []string{"energy"}
	}
	s1 := sit("s1", event.TLPGreen, anonA)
	s2 := sit("s2", event.TLPAmber, anonB)
	s3 := sit("s3", event.TLPClear, nil)
	s4 := sit("s4", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"SO"} })
	s5 := sit("s5", event.TLPGreen, func(s *picture.Situation) { anonA(s); s.Exercise = "CYDEF-X" })
	gone := sit("gone", event.TLPGreen, nil)
	merged := sit("merged", event.TLPGreen, anonA)
	secret := sit("secret", event.TLPGreen, nil)
	secretNow := sit("secret", event.TLPRed, nil)
	changes := []Change{
		{ID: "s1", Cur: &s1}, {ID: "s2", Cur: &s2}, {ID: "s3", Cur: &s3}, {ID: "s4", Cur: &s4}, {ID: "s5", Cur: &s5},
		{ID: "gone", Prev: &gone}, {ID: "merged", Prev: &merged, MergedInto: "s1"},
		{ID: "secret", Prev: &secret, Cur: &secretNow},
	}
	ids := append(slices.Clone(matrixIdentities),
		access.Identity{Name: "feed-b", Role: access.RoleContributor, MaxTLP: event.TLPAmber},
		access.Identity{Name: "cmdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUNAVFOR-ATALANTA"}},
		access.Identity{Name: "", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber},
		access.Identity{Name: "analyst-2", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber, Exercises: []string{"CYDEF-X"}})
	views := []access.View{{}, {Mission: "EUFOR-ALTHEA"}, {Mission: "eufor-althea"}, {Mission: "EUNAVFOR-ATALANTA"},
		{Exercise: "CYDEF-X"}, {Exercise: "cydef-x", Mission: "EUFOR-ALTHEA"}, {Sectors: []string{"energy"}}, {Mission: "NOWHERE"}}
	return h, changes, ids, views
}

// TestDeltaBytesAreEachViewsOwnMessage builds every viewer's delta of one flush from one
// shared cache of encoded situations, in a shuffled order, and wants for each exactly the
// bytes its own message encodes to (json.Marshal of Hub.delta): no view is sent a
// situation as another viewer may see it (another's pseudonyms, another mission's rank).
func TestDeltaBytesAreEachViewsOwnMessage(t *testing.T) {
	h, changes, ids, views := encodeFixture()
	type viewer struct {
		id access.Identity
		v  access.View
	}
	var all []viewer
	for _, id := range ids {
		for _, v := range views {
			all = append(all, viewer{id, v})
		}
	}
	now := time.Now()
	for seed := range uint64(5) {
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		enc := sitBytes{}
		for _, w := range all {
			got, nonEmpty, err := h.deltaBytes(enc, &w.id, w.v, changes, 3, 11, now)
			if err != nil {
				t.Fatal(err)
			}
			msg := h.delta(&w.id, w.v, changes, 3, 11, now)
			want, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (%s) under %+v:\n got %s\nwant %s", w.id.Name, w.id.Role, w.v, got, want)
			}
			if nonEmpty != (len(msg.Situations) > 0 || len(msg.Removed) > 0) {
				t.Errorf("%s under %+v: non-empty %v for %d situations and %d removals", w.id.Name, w.v, nonEmpty, len(msg.Situations), len(msg.Removed))
			}
		}
		// The fixture must exercise both sharing and not sharing.
		var redacted, ranked, shared int
		for k := range enc {
			switch {
			case k.redacted:
				redacted++
			case k.mission != "":
				ranked++
			default:
				shared++
			}
		}
		if redacted < 4 || ranked < 2 || shared < 3 {
			t.Fatalf("cache holds %d redacted, %d ranked, %d shared encodings; the fixture should make more", redacted, ranked, shared)
		}
	}
}
