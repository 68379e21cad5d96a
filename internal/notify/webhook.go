package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/alert"
)

// Webhook headers. The signature is HMAC-SHA256, keyed with the recipient's secret, over
// the timestamp, a dot and the body: a receiver recomputes it, compares in constant time
// and refuses a timestamp too far from its clock (a replay).
const (
	HeaderTimestamp = "X-COP-Timestamp" // Unix seconds of this attempt
	HeaderSignature = "X-COP-Signature" // "sha256=" + hex HMAC
	HeaderAlert     = "X-COP-Alert-ID"  // the alert's id: a receiver may fold repeats
	HeaderAttempt   = "X-COP-Attempt"   // 1, 2, … for retries of one alert
)

// Payload is the JSON body of a webhook.
type Payload struct {
	Recipient string      `json:"recipient"`
	Alert     alert.Alert `json:"alert"`
}

// Sign returns the X-COP-Signature value of body sent at timestamp (Unix seconds, as in
// X-COP-Timestamp) with secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is Verify's answer to a signature that does not match; ErrStale to a
// timestamp further than the allowed skew from now.
var (
	ErrBadSignature = errors.New("X-COP-Signature: does not match the body and timestamp")
	ErrStale        = errors.New("X-COP-Timestamp: too far from the receiver's clock")
)

// Verify checks a webhook as a receiver does: signature against Sign(secret, timestamp,
// body) in constant time, and timestamp within skew of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, skew time.Duration) error {
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return ErrBadSignature
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(ts, 0)); d > skew || d < -skew {
		return ErrStale
	}
	return nil
}

type webhook struct {
	url, ua string
	secret  []byte
	client  *http.Client
}

func newWebhook(w Webhook, o Options) *webhook {
	return &webhook{url: w.URL, secret: []byte(w.Secret), ua: "cop/" + o.Version,
		client: &http.Client{
			// A redirect could carry a signed alert to another host: never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
}

func (w *webhook) kind() string { return "webhook" }

func (w *webhook) encode(r *recipient, a alert.Alert) ([]byte, error) {
	return json.Marshal(Payload{Recipient: r.Name, Alert: a})
}

func (w *webhook) send(ctx context.Context, body []byte, a *alert.Alert, attempt int) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return permanent{fmt.Errorf("cannot build request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.ua)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	req.Header.Set(HeaderAlert, a.ID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redactURL(w.url), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("POST %s: HTTP %d", redactURL(w.url), c)
	default:
		return permanent{fmt.Errorf("POST %s: HTTP %d (not retried)", redactURL(w.url), c)}
	}
}

func (w *webhook) close() { w.client.CloseIdleConnections() }

// redactURL is u without its query (which may carry a receiver's token) for errors and logs.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
