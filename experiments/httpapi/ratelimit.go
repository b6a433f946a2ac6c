package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/promolift/promolift/experiments"
)

// Rate limiting (golang.org/x/time/rate token buckets, docs/security.md):
//
//   - Per API key, by the key's scope: after authentication a request
//     takes one token of its key's bucket; an empty bucket answers 429
//     (code rate_limited) with Retry-After. By default sdk keys have no
//     limit (one production key is shared by every app server of a
//     shop, and assignment must never be refused for it), admin and
//     analyst keys DefaultRateLimit each.
//   - Per client address, on failed authentication only: every request
//     whose key is missing, unknown or revoked takes a token of its
//     address's bucket, and once it is empty such requests answer 429
//     instead of 401. A valid key is never counted nor refused there.

// ctxRateLimited marks a request refused by the rate limiter.
const ctxRateLimited = "promolift.rate_limited"

// RateLimit is a token bucket: Rate requests per second with bursts of
// Burst (Burst < 1 takes max(1, 2·Rate)). Rate 0 is no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

func (l RateLimit) burst() int {
	if l.Burst >= 1 {
		return l.Burst
	}
	return max(1, int(math.Ceil(2*l.Rate)))
}

// Defaults of the rate limits.
var (
	// DefaultScopeRateLimits are the per-key limits of each scope.
	DefaultScopeRateLimits = map[experiments.Scope]RateLimit{
		experiments.ScopeSDK:     {}, // none
		experiments.ScopeAdmin:   {Rate: 1000, Burst: 2000},
		experiments.ScopeAnalyst: {Rate: 1000, Burst: 2000},
	}
	// DefaultAuthFailureLimit is the limit of failed authentications per
	// client address.
	DefaultAuthFailureLimit = RateLimit{Rate: 20, Burst: 200}
)

// limiterCap bounds the buckets kept by each limiter (least recently used
// dropped first; a dropped bucket comes back full).
const limiterCap = 100_000

// bucketSet is one bucket per name (a key id, a client address).
type bucketSet struct {
	limit   RateLimit
	buckets *lru.Cache[string, *rate.Limiter]
}

func newBucketSet(l RateLimit) *bucketSet {
	if l.Rate <= 0 {
		return nil
	}
	c, err := lru.New[string, *rate.Limiter](limiterCap)
	if err != nil {
		panic(err) // only for a size < 1
	}
	return &bucketSet{limit: l, buckets: c}
}

// limiter returns name's bucket, a full one when it has none.
func (s *bucketSet) limiter(name string) *rate.Limiter {
	lim, ok := s.buckets.Get(name)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(s.limit.Rate), s.limit.burst())
		if prev, ok, _ := s.buckets.PeekOrAdd(name, lim); ok {
			lim = prev
		}
	}
	return lim
}

// allow takes a token from name's bucket. When there is none it returns
// false and how long until there is one.
func (s *bucketSet) allow(name string, now time.Time) (bool, time.Duration) {
	r := s.limiter(name).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimiter holds the per-scope key limiters and the failed
// authentication limiter.
type rateLimiter struct {
	scopes   map[experiments.Scope]*bucketSet
	failures *bucketSet
	now      func() time.Time
}

func newRateLimiter(cfg Config) *rateLimiter {
	l := &rateLimiter{scopes: map[experiments.Scope]*bucketSet{}, now: time.Now}
	for _, s := range []experiments.Scope{experiments.ScopeSDK, experiments.ScopeAdmin, experiments.ScopeAnalyst} {
		lim, ok := cfg.ScopeRateLimits[s]
		switch {
		case ok:
		case cfg.RateLimit > 0:
			lim = RateLimit{Rate: cfg.RateLimit, Burst: cfg.RateBurst}
		default:
			lim = DefaultScopeRateLimits[s]
		}
		if b := newBucketSet(lim); b != nil {
			l.scopes[s] = b
		}
	}
	fail := cfg.AuthFailureLimit
	if fail == (RateLimit{}) {
		fail = DefaultAuthFailureLimit
	}
	l.failures = newBucketSet(fail)
	return l
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// rateLimit takes a token for the authenticated caller p. Over the limit
// it writes 429 with Retry-After (a problem, or for OFREP its error body),
// aborts and returns false.
func (a *api) rateLimit(c *gin.Context, p experiments.Principal, ofrep bool) bool {
	b := a.ops.limiter.scopes[p.Scope]
	if b == nil {
		return true
	}
	ok, wait := b.allow(p.KeyID, a.ops.limiter.now())
	if ok {
		return true
	}
	a.refuseRate(c, wait, ofrep, fmt.Sprintf("this API key is over the rate limit of %s keys, %g requests per second (bursts of %d)",
		p.Scope, b.limit.Rate, b.limit.burst()))
	return false
}

// authFailed counts a failed authentication against the client's address.
// Over the limit it writes 429 with Retry-After, aborts and returns true:
// the caller then answers nothing else.
func (a *api) authFailed(c *gin.Context, ofrep bool) bool {
	b := a.ops.limiter.failures
	if b == nil {
		return false
	}
	ok, wait := b.allow(c.RemoteIP(), a.ops.limiter.now())
	if ok {
		return false
	}
	a.refuseRate(c, wait, ofrep, fmt.Sprintf("too many requests without a valid API key from this address (at most %g per second)", b.limit.Rate))
	return true
}

func (a *api) refuseRate(c *gin.Context, wait time.Duration, ofrep bool, detail string) {
	secs := retryAfterSeconds(wait)
	c.Set(ctxRateLimited, true)
	c.Header("Retry-After", strconv.Itoa(secs))
	detail += fmt.Sprintf("; retry in %d s", secs)
	if ofrep {
		ofrepGeneralError(c, http.StatusTooManyRequests, detail)
		c.Abort()
		return
	}
	writeProblem(c, &Problem{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: detail})
	c.Abort()
}
