package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Limits bound what one caller can cost a server: pushes per contributor by count, bytes
// and concurrency, websocket connections per identity and view changes per connection,
// and how long a request body, a stalled response or an idle connection may hold a
// connection. A zero field takes its DefaultLimits value, a negative one turns that limit
// off: a Server or Hub built without any Limits is limited all the same.
type Limits struct {
	// PushRate and PushBurst: pushes per second per contributor, and how many at once.
	PushRate  float64
	PushBurst int
	// PushBytesRate and PushBytesBurst: push body bytes per second per contributor, and
	// how many at once. A push of known length takes its Content-Length; a chunked push
	// is charged what it sent once read.
	PushBytesRate  float64
	PushBytesBurst int64
	// PushConcurrent is how many pushes of one contributor may be in flight at once: with
	// the body cap it bounds the memory one contributor can hold in the gateway.
	PushConcurrent int
	// PushBodyTimeout is how long a push body may take to arrive, from its headers.
	PushBodyTimeout time.Duration
	// BodyTimeout is the same for every other request body (those are capped at 1 MiB).
	BodyTimeout time.Duration
	// WriteTimeout cuts a response (other than the websocket, which has its own) that
	// makes no progress for this long: a client that stops reading.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request.
	IdleTimeout time.Duration
	// WSPerIdentity is how many websocket connections one identity may hold at once.
	WSPerIdentity int
	// ViewRate and ViewBurst: view messages applied per second per websocket connection,
	// and how many at once; beyond, only the latest waiting view is applied.
	ViewRate  float64
	ViewBurst int
}

// DefaultLimits returns the limits a server has unless told otherwise.
//
// A push is capped at 32 MiB (ingest.Gateway.MaxBody). 64 MiB of bytes burst lets a
// contributor send two maximal documents back to back; 8 MiB/s sustained is about 700 GB a
// day, far above any member state's feed, yet a fraction of what one ingest process
// parses, so one contributor cannot starve the others. Four pushes in flight bound one
// contributor's share of gateway memory to 4 × 32 MiB bodies and their parse. A 32 MiB
// body must arrive within 2 minutes (at least 280 KB/s). Eight websockets are a few
// dashboards per person; two view changes a second are faster than anyone clicks.
func DefaultLimits() Limits {
	return Limits{
		PushRate: 20, PushBurst: 40,
		PushBytesRate: 8 << 20, PushBytesBurst: 64 << 20,
		PushConcurrent:  4,
		PushBodyTimeout: 2 * time.Minute,
		BodyTimeout:     30 * time.Second,
		WriteTimeout:    time.Minute,
		IdleTimeout:     30 * time.Second,
		WSPerIdentity:   8,
		ViewRate:        2, ViewBurst: 4,
	}
}

// WithDefaults returns l with every zero field set to its default and every negative one
// to 0, which means off from then on.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def float64) float64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	l.PushRate = pick(l.PushRate, d.PushRate)
	l.PushBurst = int(pick(float64(l.PushBurst), float64(d.PushBurst)))
	l.PushBytesRate = pick(l.PushBytesRate, d.PushBytesRate)
	l.PushBytesBurst = int64(pick(float64(l.PushBytesBurst), float64(d.PushBytesBurst)))
	l.PushConcurrent = int(pick(float64(l.PushConcurrent), float64(d.PushConcurrent)))
	l.PushBodyTimeout = time.Duration(pick(float64(l.PushBodyTimeout), float64(d.PushBodyTimeout)))
	l.BodyTimeout = time.Duration(pick(float64(l.BodyTimeout), float64(d.BodyTimeout)))
	l.WriteTimeout = time.Duration(pick(float64(l.WriteTimeout), float64(d.WriteTimeout)))
	l.IdleTimeout = time.Duration(pick(float64(l.IdleTimeout), float64(d.IdleTimeout)))
	l.WSPerIdentity = int(pick(float64(l.WSPerIdentity), float64(d.WSPerIdentity)))
	l.ViewRate = pick(l.ViewRate, d.ViewRate)
	l.ViewBurst = int(pick(float64(l.ViewBurst), float64(d.ViewBurst)))
	return l
}

// HTTPServer returns the http.Server for Handler with the limits' timeouts. Header reads
// are bounded here; body reads and response writes per request, by Handler (a push may
// take longer than a query, and the websocket none at all).
func (s *Server) HTTPServer() *http.Server {
	l := s.Limits.WithDefaults()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	if l.IdleTimeout > 0 {
		hs.IdleTimeout = l.IdleTimeout
	} else {
		// Without an idle timeout net/http falls back to ReadTimeout, which is 0 here:
		// idle keep-alive connections would stay open for ever.
		hs.IdleTimeout = 24 * time.Hour
	}
	return hs
}

// deadlines bounds each request's body read and response write on its connection: a
// push body must arrive within PushBodyTimeout, other bodies within BodyTimeout, and a
// response that makes no progress for WriteTimeout is cut. The websocket is left alone:
// the hub sets its own deadlines once it has the connection.
func (s *Server) deadlines(h http.Handler) http.Handler {
	l := s.Limits.WithDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		body := l.BodyTimeout
		if r.URL.Path == "/api/v1/feeds" {
			body = l.PushBodyTimeout
		}
		if body > 0 && r.Body != nil && r.Body != http.NoBody {
			// Cleared at the end of the body: once read, net/http's background read must
			// not time out and cancel a request that is still being answered.
			if rc.SetReadDeadline(time.Now().Add(body)) == nil {
				// On a copy: net/http looks at its own request's body to tell whether
				// a refused Expect: 100-continue body was left unread.
				r = r.WithContext(r.Context())
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, limit: body}
			}
		}
		if l.WriteTimeout > 0 {
			rc.SetWriteDeadline(time.Time{}) // a previous response's deadline on this connection
			w = &progressWriter{ResponseWriter: w, rc: rc, stall: l.WriteTimeout}
		}
		h.ServeHTTP(w, r)
	})
}

// errBodyTimeout is what a body read past its deadline returns: the caller sees the limit,
// not the socket error.
var errBodyTimeout = errors.New("request body timeout")

// BodyTimeoutError says a request body did not arrive within its limit.
type BodyTimeoutError struct{ Limit time.Duration }

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("request body not received within %s", e.Limit)
}

// Timeout marks the error as a timeout (net.Error's method), so that handlers that check
// for one answer 408.
func (e *BodyTimeoutError) Timeout() bool { return true }

func (e *BodyTimeoutError) Unwrap() error { return errBodyTimeout }

// deadlineBody clears the read deadline once the body is read and names the limit when
// the deadline cuts it.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	limit time.Duration
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = &BodyTimeoutError{Limit: b.limit}
	}
	return n, err
}

// progressWriter moves the write deadline forward as the response is written, at most
// once a second: a long export that keeps going is never cut, a client that stops reading
// is.
type progressWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	moved time.Time
}

func (w *progressWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(w.moved) >= time.Second {
		w.moved = now
		w.rc.SetWriteDeadline(now.Add(w.stall))
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps exports streaming through the wrapper.
func (w *progressWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
