package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cidcc/cop/internal/access"
)

// RateLimiter is a token bucket per identity: Burst requests at once, refilled at Rate per
// second. Keys are identity names, so the map is bounded by the identities file.
type RateLimiter struct {
	Rate  float64 // requests per second per identity; <= 0 disables the limit
	Burst int     // bucket size; < 1 means 1

	now func() time.Time // tests set a clock

	mu      sync.Mutex
	buckets map[string]*bucket // Lock should be held.
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewRateLimiter returns a limiter of rate requests per second with bursts of burst.
func NewRateLimiter(rate float64, burst int) *RateLimiter {
	return &RateLimiter{Rate: rate, Burst: burst}
}

// Allow takes one token from key's bucket; when empty it returns false and how long until
// a token is back.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.Rate <= 0 {
		return true, 0
	}
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	burst := float64(max(l.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*l.Rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))
	return false, wait
}

// limit wraps an authenticated handler: over the rate, 429 with Retry-After in seconds.
func (l *RateLimiter) limit(h func(http.ResponseWriter, *http.Request, access.Identity)) func(http.ResponseWriter, *http.Request, access.Identity) {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		if ok, wait := l.Allow(id.Name); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "push rate limit reached for "+id.Name+"; retry after "+strconv.Itoa(max(secs, 1))+" s")
			return
		}
		h(w, r, id)
	}
}
