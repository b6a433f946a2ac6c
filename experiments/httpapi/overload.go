package httpapi

import (
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Defaults of the ingest limiter.
const (
	DefaultIngestQueueTimeout = 100 * time.Millisecond
	// ingestQueueFactor bounds the requests waiting for a slot to this
	// many times the slots; beyond it requests are refused at once.
	ingestQueueFactor = 4
)

// DefaultMaxInflightIngest is the default of Config.MaxInflightIngest.
// With MaxBodyBytes of 1 MiB, 16 batches in flight hold at most 16 MiB of
// bodies (and their decoded events), while a few clients sending big
// batches to a slow store never wait.
func DefaultMaxInflightIngest() int { return max(16, 4*runtime.GOMAXPROCS(0)) }

// ingestLimiter bounds the concurrent event ingests, so that a burst of
// batches cannot hold an unbounded number of bodies (up to MaxBodyBytes
// each) in memory or queue without end on the store. A request waits at
// most the queue timeout for a slot, and only a bounded number of
// requests wait; the others get 503 overloaded with Retry-After: 1. The
// body is read only once a slot is held.
type ingestLimiter struct {
	slots   chan struct{} // nil: no limit
	timeout time.Duration
	waiting atomic.Int64
	maxWait int64
}

func newIngestLimiter(cfg Config) *ingestLimiter {
	n := cfg.MaxInflightIngest
	if n == 0 {
		n = DefaultMaxInflightIngest()
	}
	l := &ingestLimiter{timeout: cfg.IngestQueueTimeout}
	if l.timeout <= 0 {
		l.timeout = DefaultIngestQueueTimeout
	}
	if n > 0 {
		l.slots = make(chan struct{}, n)
		l.maxWait = int64(n * ingestQueueFactor)
	}
	return l
}

func (l *ingestLimiter) limit(c *gin.Context) {
	if l.slots == nil {
		c.Next()
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if l.waiting.Add(1) > l.maxWait {
			l.waiting.Add(-1)
			l.overloaded(c)
			return
		}
		t := time.NewTimer(l.timeout)
		select {
		case l.slots <- struct{}{}:
			t.Stop()
			l.waiting.Add(-1)
		case <-t.C:
			l.waiting.Add(-1)
			l.overloaded(c)
			return
		case <-c.Request.Context().Done():
			t.Stop()
			l.waiting.Add(-1)
			l.overloaded(c)
			return
		}
	}
	defer func() { <-l.slots }()
	c.Next()
}

func (l *ingestLimiter) overloaded(c *gin.Context) {
	c.Header("Retry-After", "1")
	writeProblem(c, &Problem{Status: http.StatusServiceUnavailable, Code: "overloaded",
		Detail: fmt.Sprintf("too many event batches are being ingested (at most %d at once); retry after a second", cap(l.slots))})
	c.Abort()
}
