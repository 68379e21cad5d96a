package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
)

// Gateway is the HTTP push path: POST /api/v1/feeds from an authenticated contributor.
// It parses synchronously, so the contributor learns at once what was accepted and why
// anything was rejected, and answers 202 only when cop.events and cop.deadletter hold it.
type Gateway struct {
	Bus     bus.Config
	Writer  *kafka.Writer // topic per message
	MaxBody int64         // default 32 MiB
	Log     zerolog.Logger
	Metrics *metrics.Registry
	// Keys mints event ids (internal/keys).
	Keys *keys.Ring
	seq  atomic.Uint64
}

// PushAnswer is the gateway's 202 (or 422) body.
type PushAnswer struct {
	RequestID string `json:"request_id"`
	Format    Format `json:"format"`
	Accepted  int    `json:"accepted"`
	// Rejected counts the rejected elements; Reasons lists the first
	// deadletter.MaxReasons of them, each naming the element and capped in length.
	Rejected int      `json:"rejected"`
	Reasons  []string `json:"reasons,omitempty"`
	// DeadLetter is the id of the push's dead letter, which keeps the reasons and the body.
	DeadLetter string `json:"dead_letter,omitempty"`
}

// Metric names and help shared by the push gateway and the feed consumer.
const (
	metricDeadLetters = `cop_deadletters_total`
	helpDeadLetters   = "Dead letters written: one per rejected message or push."
	metricRejected    = `cop_ingest_rejected_total`
	helpRejected      = "Elements (events, objects, attributes) rejected by ingest."
)

// Push serves one push from contributor (the authenticated identity, never the payload).
func (g *Gateway) Push(w http.ResponseWriter, r *http.Request, contributor string) {
	max := g.MaxBody
	if max == 0 {
		max = 32 << 20
	}
	reqID := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(g.seq.Add(1), 36)
	format, msg := pushFormat(r)
	if msg != "" {
		httpError(w, http.StatusUnsupportedMediaType, "unsupported_format", msg)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", max))
			return
		}
		var te interface{ Timeout() bool } // the server's body deadline (api.BodyTimeoutError)
		if errors.As(err, &te) && te.Timeout() {
			httpError(w, http.StatusRequestTimeout, "body_timeout", err.Error()+"; nothing was accepted")
			return
		}
		httpError(w, http.StatusBadRequest, "bad_body", "cannot read body: "+err.Error())
		return
	}
	res := Accept(format, body, event.Source{Contributor: contributor, ReceivedAt: time.Now().UTC(), IDKey: g.Keys.IDs()}, "http:"+reqID, r.URL.Query().Get("exercise"))
	msgs := make([]kafka.Message, 0, len(res.Events)+1)
	for i := range res.Events {
		e := &res.Events[i]
		v, _ := e.AppendJSON(nil)
		msgs = append(msgs, kafka.Message{Topic: g.Bus.Events(), Key: EventKey(e), Value: v})
	}
	ans := PushAnswer{RequestID: reqID, Format: res.Format, Accepted: len(res.Events)}
	if l := res.Letter; l != nil {
		v, _ := json.Marshal(l)
		msgs = append(msgs, kafka.Message{Topic: g.Bus.DeadLetter(), Key: []byte(l.Contributor), Value: v})
		ans.Rejected, ans.Reasons, ans.DeadLetter = l.Rejected, l.Reasons, l.ID
	}
	if err := g.Writer.WriteMessages(r.Context(), msgs...); err != nil {
		g.Log.Error().Err(err).Str("contributor", contributor).Str("request", reqID).Msg("cannot hand pushed events to Kafka")
		httpError(w, http.StatusServiceUnavailable, "unavailable", "cannot store the push now; nothing was accepted, retry later")
		return
	}
	if g.Metrics != nil {
		g.Metrics.Counter(`cop_ingest_events_total`, "Events accepted by ingest.").Add(uint64(ans.Accepted))
		if res.Letter != nil {
			g.Metrics.Counter(metricDeadLetters, helpDeadLetters).Inc()
			g.Metrics.Counter(metricRejected, helpRejected).Add(uint64(ans.Rejected))
		}
	}
	status := http.StatusAccepted
	if ans.Accepted == 0 {
		status = http.StatusUnprocessableEntity
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ans)
}

// pushFormat is the format of push r, from ?format= and the Content-Type, or why r is
// refused (415): a Content-Encoding (the body is parsed as sent, so a compressed one
// would fail as "not valid UTF-8"), a Content-Type that is not a feed's (checked even
// when ?format= names one), or the two naming different formats.
func pushFormat(r *http.Request) (Format, string) {
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return "", "Content-Encoding " + strconv.Quote(enc) + ": want none; send the document uncompressed"
	}
	byType, err := ParseFormat(r.Header.Get("Content-Type"))
	if err != nil {
		return "", "Content-Type: " + err.Error() + " (or application/json)"
	}
	byQuery, err := ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		return "", "format: " + err.Error()
	}
	if byQuery != "" && byType != "" && byQuery != byType {
		return "", "format=" + string(byQuery) + " but Content-Type says " + string(byType) + ": want one format"
	}
	if byQuery != "" {
		return byQuery, ""
	}
	return byType, ""
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}
