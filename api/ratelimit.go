package api

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cidcc/cop/internal/access"
)

// RateLimiter limits pushes per identity three ways: a token bucket of requests (Burst at
// once, refilled at Rate per second), a token bucket of body bytes (BytesBurst, refilled
// at BytesRate per second) and a cap on pushes in flight (Concurrent). Keys are identity
// names, so the maps are bounded by the identities file.
type RateLimiter struct {
	Rate  float64 // requests per second per identity; <= 0 disables the limit
	Burst int     // bucket size; < 1 means 1
	// BytesRate is body bytes per second per identity (<= 0: no byte limit); BytesBurst
	// the bucket (< 1: BytesRate).
	BytesRate  float64
	BytesBurst int64
	// Concurrent is how many requests of one identity may be in flight (<= 0: any).
	Concurrent int

	now func() time.Time // tests set a clock

	mu       sync.Mutex
	buckets  map[string]*bucket // Lock should be held.
	inflight map[string]int     // Lock should be held.
}

type bucket struct {
	tokens float64
	bytes  float64 // may go negative: a chunked push is charged once read
	at     time.Time
}

// NewRateLimiter returns a limiter of rate requests per second with bursts of burst, and no
// byte or concurrency limit.
func NewRateLimiter(rate float64, burst int) *RateLimiter {
	return &RateLimiter{Rate: rate, Burst: burst}
}

// NewPushLimiter returns the limiter of pushes that l asks for (zero fields take their
// defaults).
func NewPushLimiter(l Limits) *RateLimiter {
	l = l.WithDefaults()
	return &RateLimiter{Rate: l.PushRate, Burst: l.PushBurst, BytesRate: l.PushBytesRate, BytesBurst: l.PushBytesBurst,
		Concurrent: l.PushConcurrent}
}

// refusal says which limit refused a request and when to retry.
type refusal struct {
	what string
	wait time.Duration
}

// Allow takes one token from key's bucket; when empty it returns false and how long until
// a token is back.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	r := l.admit(key, 0)
	if r != nil {
		return false, r.wait
	}
	if l != nil {
		l.release(key)
	}
	return true, 0
}

// admit takes a request token and size body bytes (size < 0: unknown, charged later by
// charge) for key and counts it in flight, or takes nothing and says why not. Admitted
// requests must be released.
func (l *RateLimiter) admit(key string, size int64) *refusal {
	if l == nil {
		return nil
	}
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == nil {
		l.buckets, l.inflight = map[string]*bucket{}, map[string]int{}
	}
	if l.Concurrent > 0 && l.inflight[key] >= l.Concurrent {
		return &refusal{what: strconv.Itoa(l.Concurrent) + " pushes in flight", wait: time.Second}
	}
	b := l.refill(key, now)
	if l.Rate > 0 && b.tokens < 1 {
		return &refusal{what: "push rate", wait: time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))}
	}
	if l.BytesRate > 0 {
		// A push larger than the bucket waits for a full bucket and leaves it in debt.
		need := math.Min(float64(max(size, 1)), l.bytesBurst())
		if b.bytes < need {
			return &refusal{what: "push bytes per second", wait: time.Duration((need - b.bytes) / l.BytesRate * float64(time.Second))}
		}
		if size > 0 {
			b.bytes -= float64(size)
		}
	}
	if l.Rate > 0 {
		b.tokens--
	}
	l.inflight[key]++
	return nil
}

func (l *RateLimiter) bytesBurst() float64 {
	if l.BytesBurst < 1 {
		return l.BytesRate
	}
	return float64(l.BytesBurst)
}

// refill returns key's bucket brought up to now. Lock should be held.
func (l *RateLimiter) refill(key string, now time.Time) *bucket {
	burst := float64(max(l.Burst, 1))
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, bytes: l.bytesBurst(), at: now}
		l.buckets[key] = b
	}
	dt := now.Sub(b.at).Seconds()
	b.tokens = math.Min(burst, b.tokens+dt*l.Rate)
	b.bytes = math.Min(l.bytesBurst(), b.bytes+dt*l.BytesRate)
	b.at = now
	return b
}

// charge takes n body bytes read from a push of unknown length from key's bucket.
func (l *RateLimiter) charge(key string, n int64) {
	if l == nil || l.BytesRate <= 0 || n == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.bytes -= float64(n)
	}
}

func (l *RateLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight[key]--; l.inflight[key] <= 0 {
		delete(l.inflight, key)
	}
}

// limit wraps an authenticated handler: over the rate, the bytes or the pushes in flight,
// 429 with Retry-After in seconds.
func (l *RateLimiter) limit(h func(http.ResponseWriter, *http.Request, access.Identity)) func(http.ResponseWriter, *http.Request, access.Identity) {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		size := r.ContentLength
		if r.Body == nil || r.Body == http.NoBody {
			size = 0
		}
		if no := l.admit(id.Name, size); no != nil {
			secs := strconv.Itoa(max(int(math.Ceil(no.wait.Seconds())), 1))
			w.Header().Set("Retry-After", secs)
			// The refused body is not read: beyond what net/http drains, the connection closes.
			// A client that sends Expect: 100-continue sees the 429 before sending it.
			writeError(w, http.StatusTooManyRequests, "rate_limited", "push limit reached for "+id.Name+" ("+no.what+"); retry after "+secs+" s")
			return
		}
		defer l.release(id.Name)
		if size < 0 && l.BytesRate > 0 {
			cr := &countingBody{ReadCloser: r.Body}
			r.Body = cr
			defer func() { l.charge(id.Name, cr.n) }()
		}
		h(w, r, id)
	}
}

// countingBody counts the bytes read from a body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
