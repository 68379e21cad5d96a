package deadletter_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/deadletter"
)

func TestLetterIsCappedWhateverItCarries(t *testing.T) {
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	raw := []byte(strings.Repeat("x", 3*deadletter.MaxRaw))
	errs := make([]error, 5000)
	for i := range errs {
		errs[i] = errors.New(strings.Repeat("r", 10_000))
	}
	l := deadletter.FromErrors("ee-cert", "http:1", "native", raw, at, errs)
	if len(l.Raw) != deadletter.MaxRaw || l.RawSize != len(raw) {
		t.Errorf("raw %d bytes (size %d); want %d (size %d)", len(l.Raw), l.RawSize, deadletter.MaxRaw, len(raw))
	}
	if len(l.Reasons) != deadletter.MaxReasons || l.Rejected != len(errs) {
		t.Errorf("%d reasons, rejected %d; want %d and %d", len(l.Reasons), l.Rejected, deadletter.MaxReasons, len(errs))
	}
	for i, r := range append([]string{l.Reason}, l.Reasons...) {
		if len(r) > deadletter.MaxReason || !strings.HasSuffix(r, "…") {
			t.Fatalf("reason %d: %d bytes, want at most %d ending in …", i, len(r), deadletter.MaxReason)
		}
	}
	if !strings.HasPrefix(l.Reason, "5000 rejected; first: rrr") {
		t.Errorf("summary %.60q; want the count and the first reason", l.Reason)
	}
	v, _ := json.Marshal(l)
	if max := 4*deadletter.MaxRaw/3 + deadletter.MaxReasons*deadletter.MaxReason + 2*deadletter.MaxReason + 1024; len(v) > max {
		t.Errorf("encoded letter %d bytes; want at most %d", len(v), max)
	}
	if again := l.Capped(); again.Reason != l.Reason || len(again.Reasons) != len(l.Reasons) || again.Rejected != l.Rejected {
		t.Error("Capped changed a letter already within the caps")
	}
}

func TestReasonsAreOneLineEach(t *testing.T) {
	l := deadletter.FromErrors("c", "http:1", "native", nil, time.Now(), []error{errors.New("event 0: id: missing\nkind: missing"), errors.New("a\r\nb")})
	if l.Reasons[0] != "event 0: id: missing; kind: missing" || l.Reasons[1] != "a; b" || strings.Contains(l.Reason, "\n") {
		t.Errorf("reasons %q, summary %q; want one line each", l.Reasons, l.Reason)
	}
}

// TestCappedReadsALetterOfTheOneReasonShape: letters written before the reasons list (one
// per rejected element, reason only) still decode to a letter of one rejected element.
func TestCappedReadsALetterOfTheOneReasonShape(t *testing.T) {
	var l deadletter.Letter
	if err := json.Unmarshal([]byte(`{"id":"x","contributor":"c","source":"kafka:t/0@1","format":"native","reason":"event 3: kind: missing","raw":"e30=","raw_size":2}`), &l); err != nil {
		t.Fatal(err)
	}
	l = l.Capped()
	if l.Rejected != 1 || len(l.Reasons) != 1 || l.Reasons[0] != "event 3: kind: missing" || l.Reason != l.Reasons[0] {
		t.Errorf("old letter read as %+v", l)
	}
}

func TestLetterIDFollowsSourceAndReasons(t *testing.T) {
	at := time.Now()
	a := deadletter.New("c", "kafka:t/0@1", "native", nil, at, "x")
	if b := deadletter.New("c", "kafka:t/0@1", "native", []byte("other"), at.Add(time.Hour), "x"); b.ID != a.ID {
		t.Error("same source and reason, different id: a replayed message would be stored twice")
	}
	if b := deadletter.New("c", "kafka:t/0@2", "native", nil, at, "x"); b.ID == a.ID {
		t.Error("two messages, one id")
	}
}
