package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// Pacing of report reads (issue 17). A report read answers from a snapshot
// and costs little, but readers that poll back to back still take the
// CPU from assignment: on a 2-CPU server, 8 such readers made about 5,000
// reads a second, most of the process's CPU, and assign's p50 five times
// its time alone. Report reads are the low-priority class of the server:
// all of them together (JSON, CSV and the HTML report page, of every key)
// take tokens of one server-wide bucket. A read over the rate waits its
// turn (first come, first served) for up to ReportReadWait, and past that
// answers 503 overloaded with Retry-After, without waiting. A read that a
// person or a dashboard makes never notices the pacing: the snapshot it
// reads changes at most every few seconds (reportsnap.DefaultMinInterval).

// Defaults of the report read pacing.
var (
	// DefaultReportReadLimit is the default of Config.ReportReadLimit:
	// the report reads of the whole server per second, and their burst.
	DefaultReportReadLimit = RateLimit{Rate: 200, Burst: 20}
)

// DefaultReportReadWait is the default of Config.ReportReadWait.
const DefaultReportReadWait = time.Second

// readPacer paces the report reads (see above); nil paces nothing.
type readPacer struct {
	bucket  *rate.Limiter
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
	return &readPacer{bucket: rate.NewLimiter(rate.Limit(l.Rate), l.burst()), maxWait: max(wait, 0), now: time.Now}
}

// paceReads is the middleware of the report routes, after
// authentication: it waits for the read's turn or answers 503 (an HTML
// page for the pages).
func (a *api) paceReads(page bool) gin.HandlerFunc {
	p := a.reads
	return func(c *gin.Context) {
		if p == nil {
			return
		}
		now := p.now()
		r := p.bucket.ReserveN(now, 1)
		delay := r.DelayFrom(now)
		if !r.OK() || delay > p.maxWait {
			r.CancelAt(now)
			c.Header("Retry-After", strconv.Itoa(max(1, int((delay+time.Second-1)/time.Second))))
			a.authFailure(c, page, &Problem{Status: http.StatusServiceUnavailable, Code: "overloaded",
				Detail: fmt.Sprintf("too many report reads on this server (at most %g a second); retry later", float64(p.bucket.Limit()))})
			return
		}
		if delay <= 0 {
			return
		}
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.Request.Context().Done():
			// The client is gone (or its deadline passed) while the read
			// waited: its turn goes to the next read.
			r.Cancel()
			abortProblem(c, fmt.Errorf("report read: %w", context.Canceled))
		}
	}
}
