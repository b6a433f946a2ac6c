package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotReady is returned (or reported as PROVIDER_NOT_READY) before the
// first config snapshot has arrived.
var ErrNotReady = errors.New("sdk: no config received from the server yet")

// ErrClosed is returned by Track after Close.
var ErrClosed = errors.New("sdk: client closed")

// Paths of the promolift API used by the client.
const (
	ConfigPath = "/api/v1/sdk/config"
	StreamPath = "/api/v1/sdk/stream"
	EventsPath = "/api/v1/events"
)

// NotifyKind is the kind of a Notification.
type NotifyKind int

// The notifications a Client sends to its subscribers.
const (
	NotifyReady     NotifyKind = iota + 1 // the first snapshot arrived
	NotifyChanged                         // a new snapshot replaced the previous one
	NotifyStale                           // the server has been unreachable for StaleAfter
	NotifyRecovered                       // the server answered again after NotifyStale or NotifyError
	NotifyError                           // a fetch failed (Err says why); the last snapshot is kept
)

func (k NotifyKind) String() string {
	switch k {
	case NotifyReady:
		return "ready"
	case NotifyChanged:
		return "changed"
	case NotifyStale:
		return "stale"
	case NotifyRecovered:
		return "recovered"
	case NotifyError:
		return "error"
	}
	return "unknown"
}

// Notification reports a change of the client's config state.
type Notification struct {
	Kind    NotifyKind
	Version string // the snapshot's ETag
	Err     error
	// Fatal is set with NotifyError when retrying cannot help (the key was
	// refused or the config is invalid).
	Fatal bool
}

// Stats are the client's counters since New.
type Stats struct {
	Queued        uint64 // events put in the queue
	Pending       int    // events in the queue now
	Sent          uint64 // events the server accepted (or already had)
	Dropped       uint64 // events dropped because the queue was full
	Rejected      uint64 // events the server rejected (not retried)
	Retries       uint64 // batch retries
	ConfigFetches uint64 // config requests answered 200 or 304
	ConfigErrors  uint64 // config requests that failed
	Version       string // current snapshot's ETag
	LastError     string // last error of any kind, "" if none
	LastErrorAt   time.Time
}

// Client evaluates experiments and flags locally from a config snapshot kept
// fresh from the server, and sends exposures and conversions in batches.
// All methods are safe for concurrent use.
type Client struct {
	cfg  Config
	log  *slog.Logger
	snap atomic.Pointer[snapshot]

	ready     chan struct{}
	readyOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	loops     sync.WaitGroup
	closed    atomic.Bool

	refetch     chan struct{}
	lastContact atomic.Int64 // unix nanos of the last answer from the server
	stale       atomic.Bool
	failing     atomic.Bool // the last config fetch failed

	subMu  sync.Mutex
	subs   map[int]func(Notification)
	nextID int

	q      *queue
	dedupe *dedupe

	nFetches, nFetchErrs, nQueued, nSent, nDropped, nRejected, nRetries atomic.Uint64
	errMu                                                               sync.Mutex
	lastErr                                                             string
	lastErrAt                                                           time.Time
}

// New validates cfg and starts a client: it fetches the config in the
// background (see Ready and WaitReady), follows the stream or polls, and
// sends events. ctx only bounds nothing but is the parent of the client's
// background work: cancelling it stops refreshing (prefer Close).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:     cfg,
		log:     log,
		ready:   make(chan struct{}),
		refetch: make(chan struct{}, 1),
		subs:    map[int]func(Notification){},
		q:       newQueue(cfg.QueueSize),
		dedupe:  newDedupe(cfg.DedupeCacheSize),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.lastContact.Store(time.Now().UnixNano())
	c.loops.Add(3)
	go c.refreshLoop()
	go c.staleLoop()
	go c.sendLoop()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				c.cancel()
			case <-c.ctx.Done():
			}
		}()
	}
	return c, nil
}

// Ready is closed when the first config snapshot has arrived.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// WaitReady waits for the first snapshot, or returns ctx's error (with the
// last fetch error, if any).
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		if e := c.Stats().LastError; e != "" {
			return fmt.Errorf("sdk: not ready: %w (last error: %s)", ctx.Err(), e)
		}
		return fmt.Errorf("sdk: not ready: %w", ctx.Err())
	}
}

// Version returns the ETag of the current snapshot ("" before the first).
func (c *Client) Version() string {
	if s := c.snap.Load(); s != nil {
		return s.etag
	}
	return ""
}

// Subscribe calls fn for every Notification until the returned function is
// called. fn runs on the client's goroutine: it must not block.
func (c *Client) Subscribe(fn func(Notification)) (unsubscribe func()) {
	c.subMu.Lock()
	id := c.nextID
	c.nextID++
	c.subs[id] = fn
	c.subMu.Unlock()
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

func (c *Client) notify(n Notification) {
	c.subMu.Lock()
	fns := make([]func(Notification), 0, len(c.subs))
	for _, fn := range c.subs {
		fns = append(fns, fn)
	}
	c.subMu.Unlock()
	for _, fn := range fns {
		fn(n)
	}
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	st := Stats{
		Queued:        c.nQueued.Load(),
		Pending:       c.q.len(),
		Sent:          c.nSent.Load(),
		Dropped:       c.nDropped.Load(),
		Rejected:      c.nRejected.Load(),
		Retries:       c.nRetries.Load(),
		ConfigFetches: c.nFetches.Load(),
		ConfigErrors:  c.nFetchErrs.Load(),
		Version:       c.Version(),
	}
	c.errMu.Lock()
	st.LastError, st.LastErrorAt = c.lastErr, c.lastErrAt
	c.errMu.Unlock()
	return st
}

func (c *Client) setErr(err error) {
	c.errMu.Lock()
	c.lastErr, c.lastErrAt = err.Error(), time.Now()
	c.errMu.Unlock()
}

// Close stops refreshing and flushes the queued events, waiting at most
// until ctx is done. Events still queued then are lost and counted in the
// returned error.
func (c *Client) Close(ctx context.Context) error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cancel()
	c.loops.Wait()
	err := c.flushAll(ctx)
	if n := c.q.len(); n > 0 {
		return fmt.Errorf("sdk: close: %d events not delivered: %w", n, err)
	}
	return err
}

// contact records an answer from the server.
func (c *Client) contact() {
	c.lastContact.Store(time.Now().UnixNano())
	wasStale := c.stale.Swap(false)
	if wasFailing := c.failing.Swap(false); wasStale || wasFailing {
		c.notify(Notification{Kind: NotifyRecovered, Version: c.Version()})
	}
}

func (c *Client) staleLoop() {
	defer c.loops.Done()
	tick := c.cfg.StaleAfter / 4
	if tick > 5*time.Second {
		tick = 5 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			last := time.Unix(0, c.lastContact.Load())
			if time.Since(last) > c.cfg.StaleAfter && c.stale.CompareAndSwap(false, true) {
				c.log.Warn("promolift sdk: server unreachable, serving the last config", "since", last)
				c.notify(Notification{Kind: NotifyStale, Version: c.Version()})
			}
		}
	}
}

// fetchError is an error of a config fetch.
type fetchError struct {
	err   error
	fatal bool
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.ServerURL+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	req.Header.Set("User-Agent", "promolift-go-sdk")
	return req, nil
}

// fetch gets the config once; it returns nil on 200 (new snapshot) and 304.
func (c *Client) fetch(ctx context.Context) error {
	err := c.doFetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		c.nFetchErrs.Add(1)
		c.failing.Store(true)
		c.setErr(err)
		c.log.Warn("promolift sdk: config fetch failed", "err", err)
		var fe *fetchError
		fatal := errors.As(err, &fe) && fe.fatal
		c.notify(Notification{Kind: NotifyError, Err: err, Fatal: fatal, Version: c.Version()})
	}
	return err
}

func (c *Client) doFetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := c.request(ctx, http.MethodGet, ConfigPath, nil)
	if err != nil {
		return &fetchError{err: err, fatal: true}
	}
	req.Header.Set("Accept", "application/json")
	cur := c.snap.Load()
	if cur != nil && cur.etag != "" {
		req.Header.Set("If-None-Match", cur.etag)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return &fetchError{err: fmt.Errorf("sdk: fetch config: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &fetchError{err: fmt.Errorf("sdk: fetch config: read body: %w", err)}
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && cur != nil:
		c.contact()
		c.nFetches.Add(1)
		return nil
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &fetchError{err: fmt.Errorf("sdk: fetch config: %s: the key was refused (it needs the sdk scope): %s", resp.Status, snippet(body)), fatal: true}
	default:
		return &fetchError{err: fmt.Errorf("sdk: fetch config: %s: %s", resp.Status, snippet(body))}
	}
	c.contact()
	c.nFetches.Add(1)
	etag := resp.Header.Get("ETag")
	if cur != nil && etag != "" && etag == cur.etag {
		return nil
	}
	s, err := decodeSnapshot(body, etag)
	if err != nil {
		return &fetchError{err: fmt.Errorf("sdk: invalid config from server: %w", err), fatal: cur == nil}
	}
	c.snap.Store(s)
	first := false
	c.readyOnce.Do(func() { close(c.ready); first = true })
	if first {
		c.notify(Notification{Kind: NotifyReady, Version: s.etag})
	} else {
		c.notify(Notification{Kind: NotifyChanged, Version: s.etag})
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// backoff returns the n-th (from 0) retry delay with jitter in [d/2, d).
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	if d > maxBackoff {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) refreshLoop() {
	defer c.loops.Done()
	// First snapshot: retry with backoff until it arrives.
	for n := 0; c.snap.Load() == nil; n++ {
		if c.fetch(c.ctx) == nil {
			break
		}
		d := backoff(c.cfg.RetryBackoff, n)
		if d > c.cfg.PollInterval {
			d = c.cfg.PollInterval
		}
		if !c.sleep(d) {
			return
		}
	}
	if c.cfg.Stream {
		c.streamLoop()
		return
	}
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.refetch:
		}
		_ = c.fetch(c.ctx)
	}
}

// streamLoop follows the SSE stream; while it is down it polls, trying to
// reconnect with backoff (at least every PollInterval).
func (c *Client) streamLoop() {
	for n := 0; ; n++ {
		connected, err := c.followStream()
		if c.ctx.Err() != nil {
			return
		}
		if connected {
			n = 0
		}
		if err != nil {
			c.setErr(err)
			c.log.Warn("promolift sdk: stream interrupted, polling", "err", err)
		}
		_ = c.fetch(c.ctx) // catch up on what the stream missed
		d := backoff(c.cfg.RetryBackoff, n)
		if d > c.cfg.PollInterval {
			d = c.cfg.PollInterval
		}
		if !c.sleep(d) {
			return
		}
	}
}

// followStream reads the stream until it fails. connected reports whether
// the server accepted it.
func (c *Client) followStream() (connected bool, err error) {
	req, err := c.request(c.ctx, http.MethodGet, StreamPath, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	hc := *c.cfg.HTTPClient
	hc.Timeout = 0 // the stream lives long; liveness comes from pings
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("sdk: stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return false, fmt.Errorf("sdk: stream: %s: %s", resp.Status, snippet(b))
	}
	c.contact()
	// Catch up on a change made while we were connecting.
	_ = c.fetch(c.ctx)
	// A dead connection is noticed when no line (not even a ping) arrives
	// for a while: the server pings every 15s.
	idle := time.AfterFunc(45*time.Second, func() { resp.Body.Close() })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), 1<<20)
	event, data := "", ""
	for sc.Scan() {
		idle.Reset(45 * time.Second)
		c.contact()
		line := sc.Text()
		switch {
		case line == "":
			if event == "config" && !c.hasVersion(data) {
				_ = c.fetch(c.ctx)
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("sdk: stream: %w", err)
	}
	return true, errors.New("sdk: stream: closed by the server")
}

// hasVersion reports whether the data of a config event ({"version":
// "<etag>"}) names the snapshot the client already has.
func (c *Client) hasVersion(data string) bool {
	var msg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal([]byte(data), &msg) != nil || msg.Version == "" {
		return false
	}
	return strings.Trim(msg.Version, `"`) == strings.Trim(c.Version(), `"`)
}

// Refresh asks the client to refetch the config now (polling mode) and
// returns at once.
func (c *Client) Refresh() {
	select {
	case c.refetch <- struct{}{}:
	default:
	}
}
