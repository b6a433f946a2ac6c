package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/promolift/promolift/experiments"
)

// Pacing of report reads (issue 17). A report read answers from a snapshot
// and costs little, but readers that poll back to back still take the
// CPU from assignment: on a 2-CPU server, 8 such readers made about 5,000
// reads a second, most of the process's CPU, and assign's p50 five times
// its time alone. Report reads are the low-priority class of the server:
// all of them together (JSON, CSV and the HTML report page, of every key)
// take tokens of one server-wide bucket. So that one reader polling fast
// cannot crowd out the others, each API key's reads also take tokens of
// the key's own bucket, a share of the server's (reportKeyShare: a
// quarter of its rate and burst): a key reads at most that, and the rest
// of the server's rate stays for the other keys. A read over either rate
// waits its turn (first come, first served) for up to ReportReadWait, and
// past that answers 503 overloaded with Retry-After, without waiting. A
// read that a person or a dashboard makes never notices the pacing: the
// snapshot it reads changes at most every few seconds
// (reportsnap.DefaultMinInterval).

// Defaults of the report read pacing.
var (
	// DefaultReportReadLimit is the default of Config.ReportReadLimit:
	// the report reads of the whole server per second, and their burst.
	DefaultReportReadLimit = RateLimit{Rate: 200, Burst: 20}
)

// DefaultReportReadWait is the default of Config.ReportReadWait.
const DefaultReportReadWait = time.Second

// reportKeyShare is the part of the server's report reads one API key may
// take: its bucket has rate/reportKeyShare and burst/reportKeyShare (at
// least 1).
const reportKeyShare = 4

// readPacer paces the report reads (see above); nil paces nothing.
type readPacer struct {
	bucket  *rate.Limiter // the server's
	keys    *bucketSet    // each key's, by key ID
	maxWait time.Duration
	now     func() time.Time
}

func newReadPacer(cfg Config) *readPacer {
	l := cfg.ReportReadLimit
	if l.Rate == 0 {
		l = DefaultReportReadLimit
	}
	if l.Rate < 0 {
		return nil
	}
	wait := cfg.ReportReadWait
	if wait == 0 {
		wait = DefaultReportReadWait
	}
	perKey := RateLimit{Rate: l.Rate / reportKeyShare, Burst: max(1, l.burst()/reportKeyShare)}
	return &readPacer{bucket: rate.NewLimiter(rate.Limit(l.Rate), l.burst()), keys: newBucketSet(perKey),
		maxWait: max(wait, 0), now: time.Now}
}

// paceReads is the middleware of the report routes, after
// authentication: it waits for the read's turn, first in its key's bucket
// and then in the server's, or answers 503 (an HTML page for the pages).
// The server's token is taken once the key's turn has come, so that a
// key's reads waiting on its own bucket hold none of the server's.
func (a *api) paceReads(page bool) gin.HandlerFunc {
	p := a.reads
	return func(c *gin.Context) {
		if p == nil {
			return
		}
		key := ""
		if pr, ok := c.Get(ctxPrincipal); ok {
			key = pr.(experiments.Principal).KeyID
		}
		waited, ok := a.readTurn(c, page, p.keys.limiter(key), 0,
			fmt.Sprintf("too many report reads with this API key (at most %g a second for one key)", p.keys.limit.Rate))
		if !ok {
			return
		}
		a.readTurn(c, page, p.bucket, waited,
			fmt.Sprintf("too many report reads on this server (at most %g a second)", float64(p.bucket.Limit())))
	}
}

// readTurn takes a token of bucket for the read of c, which has waited
// waited already, and waits for it. When that would make the read wait
// more than maxWait in all, or the client leaves while it waits, it
// answers (503 overloaded with Retry-After and detail, or the client's
// cancellation), aborts and returns false. It returns how long the read
// has waited in all.
func (a *api) readTurn(c *gin.Context, page bool, bucket *rate.Limiter, waited time.Duration, detail string) (time.Duration, bool) {
	p := a.reads
	now := p.now()
	r := bucket.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if !r.OK() || waited+delay > p.maxWait {
		r.CancelAt(now)
		c.Header("Retry-After", strconv.Itoa(max(1, int((delay+time.Second-1)/time.Second))))
		a.authFailure(c, page, &Problem{Status: http.StatusServiceUnavailable, Code: "overloaded", Detail: detail + "; retry later"})
		return waited, false
	}
	if delay <= 0 {
		return waited, true
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return waited + delay, true
	case <-c.Request.Context().Done():
		// The client is gone (or its deadline passed) while the read
		// waited: its turn goes to the next read.
		r.Cancel()
		abortProblem(c, fmt.Errorf("report read: %w", context.Canceled))
		return waited, false
	}
}
