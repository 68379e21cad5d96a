package store_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// plainStored is StoredEvent as encoding/json saw it before Event had a codec: the event's
// fields flattened, then the correlator's.
type plainEvent event.Event

type plainStored struct {
	plainEvent
	SituationID string    `json:"situation_id,omitempty"`
	Duplicate   bool      `json:"duplicate,omitempty"`
	StoredAt    time.Time `json:"-"`
}

func TestStoredEventJSONKeepsSituationAndDuplicate(t *testing.T) {
	ev := event.Event{ID: "i", Contributor: "c", SourceID: "s", Kind: event.KindIndicator,
		ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ReceivedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Observables: []event.Observable{{Type: event.ObsIPv4, Value: "203.0.113.7"}},
		Severity:    event.SeverityHigh, Confidence: 80, TLP: event.TLPGreen, Title: "t <&>"}
	f := func(situation string, dup bool) {
		t.Helper()
		e := store.StoredEvent{Event: ev, SituationID: situation, Duplicate: dup, StoredAt: time.Now()}
		want, err := json.Marshal(plainStored{plainEvent(ev), situation, dup, e.StoredAt})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{e, &e, []*store.StoredEvent{&e}} {
			got, err := json.Marshal(v)
			if _, many := v.([]*store.StoredEvent); many {
				got = bytes.TrimSuffix(bytes.TrimPrefix(got, []byte("[")), []byte("]"))
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("marshal:\n got %s, %v\nwant %s", got, err, want)
			}
		}
		var back store.StoredEvent
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		e.StoredAt = time.Time{}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("unmarshal:\n got %+v\nwant %+v", back, e)
		}
	}
	f("", false)
	f("sit-1", false)
	f("sit-\u2028<1>", true)
	f("", true)
}
