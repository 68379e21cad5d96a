package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
)

// TestBadPushIsOneBoundedDeadLetter is issue 14's probe through `cop serve` on the real
// Kafka and ClickHouse: a 96 KB push of one padded object and 10,000 empty ones (which
// made 10,001 dead letters, 655 MB in ClickHouse), a push quoting a 10⁶-digit number
// (whose 1,000,101-byte reason was stored and echoed), and the first document again on the
// contributor's Kafka feed and through cop push. Each document must be one dead letter row of bounded size,
// and each answer small while still naming the rejected elements and counting them.
func TestBadPushIsOneBoundedDeadLetter(t *testing.T) {
	ns := itest.Namespace(t)
	feed := ns + "-feed"
	s := startSecureServe(t, ns, []access.Identity{{Name: feed, Role: access.RoleContributor, MaxTLP: event.TLPRed}}, []string{feed}, nil)

	var empties strings.Builder
	empties.WriteString(`[{"title": "` + strings.Repeat("p", 66_000) + `"}`)
	for range 10_000 {
		empties.WriteString(`,{}`)
	}
	empties.WriteString("]")
	huge := `{"id": "` + ns + `-huge", "kind": "incident", "observed_at": "2026-02-01T10:00:00Z", "severity": "high",
		"tlp": "GREEN", "title": "t", "confidence": ` + strings.Repeat("9", 1_000_000) + `}`

	type answer struct { // ingest.PushAnswer's fields, decoded by name
		RequestID string   `json:"request_id"`
		Rejected  int      `json:"rejected"`
		Reasons   []string `json:"reasons"`
	}
	sources := map[string]int{} // "http:<request id>" → rejected elements
	for _, c := range []struct {
		name, body string
		rejected   int
	}{{"empty objects", empties.String(), 10_001}, {"10^6-digit number", huge, 1}} {
		status, body, _ := s.push(t, s.tokens[feed], c.body)
		var ans answer
		if err := json.Unmarshal([]byte(body), &ans); err != nil || status != http.StatusUnprocessableEntity {
			t.Fatalf("%s: status %d, %v: %.200s", c.name, status, err, body)
		}
		if len(body) > 64<<10 {
			t.Errorf("%s: answer of %d bytes; want at most 64 KiB", c.name, len(body))
		}
		if ans.Rejected != c.rejected || len(ans.Reasons) != min(c.rejected, 100) || !strings.HasPrefix(ans.Reasons[0], "event 0: ") {
			t.Errorf("%s: rejected %d with %d reasons (first %.60q); want %d, naming the elements", c.name, ans.Rejected, len(ans.Reasons), ans.Reasons, c.rejected)
		}
		for _, r := range ans.Reasons {
			if len(r) > 512 {
				t.Errorf("%s: reason of %d bytes in the answer", c.name, len(r))
			}
		}
		t.Logf("%s: %d-byte push -> %d-byte answer, %d rejected, %d reasons", c.name, len(c.body), len(body), ans.Rejected, len(ans.Reasons))
		sources["http:"+ans.RequestID] = c.rejected
	}
	// cop push says how many it did not list.
	var out bytes.Buffer
	p := &pusher{url: "http://" + s.addr, token: s.tokens[feed], file: "empties.json", start: time.Now(), out: &out}
	if err := p.send(context.Background(), ingest.FormatNative, []byte(empties.String())); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 101 || !strings.HasPrefix(lines[0], "empties.json: rejected: event 0: ") ||
		!strings.HasPrefix(lines[100], "empties.json: rejected: 9901 more not listed (COP lists the first 100; dead letter ") || out.Len() > 64<<10 {
		t.Errorf("cop push printed %d lines, %d bytes; want 100 reasons then the 9901 not listed:\n%.300s\n…\n%s",
			len(lines), out.Len(), out.String(), lines[min(100, len(lines)-1)])
	}

	w := bus.NewWriter(s.bc, "")
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Topic: s.bc.FeedTopic(feed),
		Headers: []kafka.Header{{Key: "cop-format", Value: []byte("native")}}, Value: []byte(empties.String())}); err != nil {
		t.Fatal(err)
	}

	type row struct {
		source            string
		rows, rejected    uint64
		reasons, maxLen   uint64
		raw, rawSize, all uint64
	}
	var got []row
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got = got[:0]
		rs, err := s.st.Conn().Query(context.Background(), `SELECT source, count(), toUInt64(sum(rejected)),
			toUInt64(max(length(reasons))), toUInt64(max(greatest(length(reason), arrayReduce('max', arrayMap(r -> length(r), reasons))))),
			toUInt64(max(length(raw))), toUInt64(max(raw_size)),
			toUInt64(sum(length(raw) + length(reason) + arraySum(arrayMap(r -> length(r), reasons))))
			FROM cop.deadletter WHERE contributor = ? GROUP BY source ORDER BY source`, feed)
		if err != nil {
			return false, err.Error()
		}
		defer rs.Close()
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.source, &r.rows, &r.rejected, &r.reasons, &r.maxLen, &r.raw, &r.rawSize, &r.all); err != nil {
				return false, err.Error()
			}
			got = append(got, r)
		}
		return len(got) >= 4, fmt.Sprintf("dead letters by source: %+v", got)
	})
	var total uint64
	for _, r := range got {
		want, fromPush := sources[r.source]
		if !fromPush { // the Kafka message, or cop push's
			if !strings.HasPrefix(r.source, "kafka:"+s.bc.FeedTopic(feed)+"/") && !strings.HasPrefix(r.source, "http:") {
				t.Errorf("dead letter from unexpected source %q", r.source)
				continue
			}
			want = 10_001
		}
		if r.rows != 1 || r.rejected != uint64(want) || r.reasons != uint64(min(want, 100)) || r.maxLen > 512 || r.raw > 64<<10 {
			t.Errorf("%s: %d rows, rejected %d, %d reasons, longest %d bytes, raw %d; want 1 row, rejected %d, %d reasons, ≤ 512, ≤ 65536",
				r.source, r.rows, r.rejected, r.reasons, r.maxLen, r.raw, want, min(want, 100))
		}
		total += r.all
	}
	t.Logf("ClickHouse: %d dead letter rows, %d bytes of raw and reasons in all", len(got), total)
	if len(got) != 4 || total > 4*(64<<10+101*512) {
		t.Errorf("%d dead letter sources, %d bytes; want 4, at most %d", len(got), total, 4*(64<<10+101*512))
	}
}
