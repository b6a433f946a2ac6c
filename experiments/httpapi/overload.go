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
	// DefaultIngestReadTimeout is the default of Config.IngestReadTimeout.
	DefaultIngestReadTimeout = 5 * time.Second
	// ingestQueueFactor bounds the requests waiting for a slot to this
	// many times the slots; beyond it requests are refused at once.
	ingestQueueFactor = 4
	// ctxEventsBody holds the events body read by readEventsBody.
	ctxEventsBody = "promolift.events_body"
)

// DefaultMaxInflightIngest is the default of Config.MaxInflightIngest.
// With MaxBodyBytes of 1 MiB, 16 batches in flight hold at most 16 MiB of
// decoded events, while a few clients sending big batches to a slow store
// never wait.
func DefaultMaxInflightIngest() int { return max(16, 4*runtime.GOMAXPROCS(0)) }

// ingestLimiter bounds the concurrent event ingests, so that a burst of
// batches cannot queue without end on the store. A request waits at most
// the queue timeout for a slot, and only a bounded number of requests
// wait; the others get 503 overloaded with Retry-After: 1. The body is
// read before (readEventsBody, under a short deadline), so a slow client
// never holds a slot. One key may use every free slot while no other key
// waits, and holds at most perKey.max slots while one does (take), so one
// key's burst leaves room for the others.
type ingestLimiter struct {
	slots   chan struct{} // nil: no limit
	perKey  *perKey
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
	perKeyMax := cfg.MaxIngestPerKey
	if perKeyMax == 0 {
		perKeyMax = max(1, n/2)
	}
	l.perKey = newPerKey(perKeyMax)
	if n > 0 {
		l.slots = make(chan struct{}, n)
		l.maxWait = int64(n * ingestQueueFactor)
	}
	return l
}

// readEventsBody reads the events body within Config.IngestReadTimeout
// (from now) and keeps it for postEvents; it runs before the limiter.
func (a *api) readEventsBody(c *gin.Context) {
	timeout := a.cfg.IngestReadTimeout
	if timeout <= 0 {
		timeout = DefaultIngestReadTimeout
	}
	rc := http.NewResponseController(c.Writer)
	// Not every writer supports deadlines (then the server's read timeout
	// still bounds the read).
	deadlineSet := rc.SetReadDeadline(time.Now().Add(timeout)) == nil
	data, err := a.readBody(c, false)
	if err != nil {
		// The rest of the body is not wanted: closing the connection
		// keeps net/http from reading it before the answer.
		c.Header("Connection", "close")
		abortProblem(c, err)
		return
	}
	if deadlineSet {
		_ = rc.SetReadDeadline(time.Time{})
	}
	c.Set(ctxEventsBody, data)
}

func (l *ingestLimiter) limit(c *gin.Context) {
	if l.slots == nil {
		c.Next()
		return
	}
	key := who(c).KeyID
	if !l.take(c, key) {
		return
	}
	defer l.release(key)
	c.Next()
}

// take takes a slot for key, or answers 503 and reports false. Within its
// share (perKey.max) a request takes a free slot or waits for one; beyond
// it, it takes a free slot only while no request of another key waits
// (perKey.borrow), and never waits on the slots themselves, so a waiting
// key gets the next slot freed: one key alone may use every slot, and a
// busy key still leaves the others their share.
func (l *ingestLimiter) take(c *gin.Context, key string) bool {
	share := l.perKey.acquire(key)
	if share || l.perKey.borrow(key) {
		select {
		case l.slots <- struct{}{}:
			return true
		default:
		}
		if !share {
			l.perKey.unborrow(key)
		}
	}
	if l.waiting.Add(1) > l.maxWait {
		l.waiting.Add(-1)
		l.refuse(c, key, share)
		return false
	}
	defer l.waiting.Add(-1)
	l.perKey.queued(key, 1)
	defer l.perKey.queued(key, -1)
	ctx := c.Request.Context()
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	for !share {
		ok, over := l.perKey.wait(ctx, key, t.C)
		if !ok {
			l.refuse(c, key, false)
			return false
		}
		if !over {
			share = true
			break
		}
		select {
		case l.slots <- struct{}{}:
			return true
		default:
		}
		// Every slot is taken: wait for one to be freed (a release),
		// then ask again.
		select {
		case <-l.perKey.unborrow(key):
		case <-t.C:
			l.refuse(c, key, false)
			return false
		case <-ctx.Done():
			l.refuse(c, key, false)
			return false
		}
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	l.refuse(c, key, true)
	return false
}

// release gives back a slot and key's share of it.
func (l *ingestLimiter) release(key string) {
	<-l.slots
	l.perKey.release(key)
}

// refuse answers 503; keyHeld says whether key's share was taken (and is
// given back), else the key was at its share.
func (l *ingestLimiter) refuse(c *gin.Context, key string, keyHeld bool) {
	detail := fmt.Sprintf("too many event batches are being ingested (at most %d at once); retry after a second", cap(l.slots))
	if keyHeld {
		l.perKey.release(key)
	} else {
		detail = fmt.Sprintf("this key has too many event batches being ingested while other keys wait (at most %d at once); retry after a second", l.perKey.max)
	}
	c.Header("Retry-After", "1")
	writeProblem(c, &Problem{Status: http.StatusServiceUnavailable, Code: "overloaded", Detail: detail})
	c.Abort()
}
