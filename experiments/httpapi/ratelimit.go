package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Rate limiting: every API key has a token bucket that holds at most
// burst tokens and refills at rate tokens per second; a request takes one
// token after authentication, and a request finding the bucket empty is
// refused with 429 (code rate_limited) and Retry-After.

// ctxRateLimited marks a request refused by the rate limiter.
const ctxRateLimited = "promolift.rate_limited"

const (
	// rateSweepEvery is how often idle buckets are dropped.
	rateSweepEvery = time.Minute
	// rateMaxBuckets bounds the buckets kept: past it, a sweep runs at
	// once, and if every bucket is busy the oldest-used ones are dropped.
	rateMaxBuckets = 100_000
)

type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	full  time.Duration // time an empty bucket takes to fill
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
	max       int
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter makes a limiter of rate requests per second with bursts
// of burst; burst < 1 takes max(1, 2·rate).
func newRateLimiter(rate float64, burst int) *rateLimiter {
	b := float64(burst)
	if burst < 1 {
		b = math.Max(1, math.Ceil(2*rate))
	}
	l := &rateLimiter{rate: rate, burst: b, now: time.Now, buckets: map[string]*bucket{}, max: rateMaxBuckets}
	l.full = time.Duration(b / rate * float64(time.Second))
	l.lastSweep = l.now()
	return l
}

// allow takes a token from key's bucket. When there is none, it returns
// false and how long until there is one.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= rateSweepEvery || len(l.buckets) >= l.max {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	} else if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep drops the buckets idle long enough to be full again: a new bucket
// is the same. If too many remain, the least recently used are dropped.
func (l *rateLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	// Every bucket is busy (rare: buckets are per authenticated key): drop
	// those used longer ago than the average, then any, down to half.
	var avg time.Duration
	for _, b := range l.buckets {
		avg += now.Sub(b.last) / time.Duration(len(l.buckets))
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) >= avg {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.max/2 {
			break
		}
		delete(l.buckets, k)
	}
}

// size returns the number of buckets kept.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// rateLimit takes a token for the authenticated key keyID. Over the limit
// it writes 429 with Retry-After (a problem, or for OFREP its error body),
// aborts and returns false.
func (a *api) rateLimit(c *gin.Context, keyID string, ofrep bool) bool {
	l := a.ops.limiter
	if l == nil {
		return true
	}
	ok, wait := l.allow(keyID)
	if ok {
		return true
	}
	secs := retryAfterSeconds(wait)
	c.Set(ctxRateLimited, true)
	c.Header("Retry-After", strconv.Itoa(secs))
	detail := fmt.Sprintf("this API key is over its rate limit of %g requests per second (bursts of %g); retry in %d s",
		l.rate, l.burst, secs)
	if ofrep {
		ofrepGeneralError(c, http.StatusTooManyRequests, detail)
		return false
	}
	writeProblem(c, &Problem{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: detail})
	c.Abort()
	return false
}
