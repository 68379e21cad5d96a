package api

// Delta messages spliced from situations encoded once per flush: the hub used to encode
// every situation again for each group of clients it sent it to (one json.Marshal of the
// whole message per scope), though most viewers see a situation byte for byte the same.

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// sitKey identifies what a view is sent of one situation version. It depends on the
// mission the view ranks situations for (access.Missions.Ranked) and, only when the
// viewer is shown one of the situation's contributors by pseudonym
// (access.Anonymiser.Redacts), on the viewer's name: pseudonyms are per viewer name and
// Redact reads nothing else of the viewer (an administrator is never redacted). So a
// view gets another's bytes only when Redact and Ranked would have built them the same.
type sitKey struct {
	s        *picture.Situation
	mission  string // upper case; "" when the view's situations are not ranked
	redacted bool
	viewer   string // the viewer's name when redacted
}

// sitBytes holds a flush's encoded situations, for every view of it.
type sitBytes map[sitKey][]byte

// deltaBytes returns the JSON of h.delta(id, v, changes, from, to, now), the bytes
// json.Marshal gives for it (TestDeltaBytesAreEachViewsOwnMessage), taking each situation's
// encoding from enc or adding it there; and whether the delta carries a situation or a
// removal.
func (h *Hub) deltaBytes(enc sitBytes, id *access.Identity, v access.View, changes []Change, from, to uint64, now time.Time) ([]byte, bool, error) {
	mission := ""
	if _, ok := h.missions[strings.ToUpper(v.Mission)]; ok && v.Mission != "" {
		mission = strings.ToUpper(v.Mission)
	}
	// The situations first, then the message in one allocation of its size.
	var sits [][]byte
	var removed []Removal
	size := 256
	for i := range changes {
		ch := &changes[i]
		switch {
		case ch.Cur != nil && id.SituationVisible(ch.Cur, v, h.missions):
			k := sitKey{s: ch.Cur, mission: mission}
			if h.Anon.Redacts(id, ch.Cur) {
				k.redacted, k.viewer = true, id.Name
			}
			sb, ok := enc[k]
			if !ok {
				s := *ch.Cur
				if k.redacted {
					s = h.Anon.Redact(id, s)
				}
				h.missions.Ranked(v, &s)
				var err error
				if sb, err = json.Marshal(&s); err != nil {
					return nil, false, err
				}
				enc[k] = sb
			}
			sits = append(sits, sb)
			size += len(sb) + 1
		case ch.Prev != nil && id.SituationVisible(ch.Prev, v, h.missions):
			r := Removal{ID: ch.ID}
			if ch.Cur == nil {
				r.MergedInto = ch.MergedInto
			}
			removed = append(removed, r)
			size += len(r.ID) + len(r.MergedInto) + 32
		}
	}
	b := make([]byte, 0, size)
	b = append(b, `{"type":"delta","epoch":`...)
	b = appendJSON(b, h.picture.Epoch())
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, to, 10)
	if from != 0 {
		b = append(b, `,"from":`...)
		b = strconv.AppendUint(b, from, 10)
	}
	b = append(b, `,"at":`...)
	b = appendJSON(b, now)
	if v.Exercise != "" {
		b = append(b, `,"exercise":`...)
		b = appendJSON(b, v.Exercise)
	}
	b = append(b, `,"situations":[`...)
	for i, sb := range sits {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, sb...)
	}
	b = append(b, ']')
	if len(removed) > 0 {
		b = append(b, `,"removed":`...)
		b = appendJSON(b, removed)
	}
	return append(b, '}'), len(sits) > 0 || len(removed) > 0, nil
}

// appendJSON appends json.Marshal(v) to b; v is one of deltaBytes' own values, which
// always encode.
func appendJSON(b []byte, v any) []byte {
	j, _ := json.Marshal(v)
	return append(b, j...)
}
