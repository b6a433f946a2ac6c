package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/promolift/promolift/assign"
)

// Event is one exposure or conversion as sent to POST /api/v1/events.
type Event struct {
	EventID       string            `json:"event_id"`
	Type          string            `json:"type"` // "exposure" or "conversion"
	Experiment    string            `json:"experiment,omitempty"`
	Variant       string            `json:"variant,omitempty"`
	UnitID        string            `json:"unit_id"`
	Timestamp     string            `json:"timestamp"` // RFC 3339 with nanoseconds, UTC
	Attributes    map[string]string `json:"attributes,omitempty"`
	Name          string            `json:"name,omitempty"`
	Revenue       int64             `json:"revenue,omitempty"`
	PromotionCost *int64            `json:"promotion_cost,omitempty"`
	Currency      string            `json:"currency,omitempty"`
	OrderID       string            `json:"order_id,omitempty"`
	Channel       string            `json:"channel,omitempty"`
	// CustomerID is the customer's ID when UnitID is another unit of
	// theirs (a device ID): the server links the unit to the customer, so
	// that erasing the customer erases it.
	CustomerID string `json:"customer_id,omitempty"`
}

// TrackOption sets an optional field of a conversion.
type TrackOption func(*Event)

// WithOrderID sets the order id (conversions with one order id are counted once per metric by the server).
func WithOrderID(id string) TrackOption { return func(e *Event) { e.OrderID = id } }

// WithChannel sets the channel (push, email, sms, in-app, web).
func WithChannel(ch string) TrackOption { return func(e *Event) { e.Channel = ch } }

// WithPromotionCost sets the promotion's cost on this conversion, in minor units.
func WithPromotionCost(cost int64) TrackOption { return func(e *Event) { e.PromotionCost = &cost } }

// WithAttributes adds attributes (segments such as device or country).
func WithAttributes(attrs map[string]string) TrackOption {
	return func(e *Event) {
		if e.Attributes == nil {
			e.Attributes = make(map[string]string, len(attrs))
		}
		for k, v := range attrs {
			e.Attributes[k] = v
		}
	}
}

// WithCustomerID names the customer a conversion's unit belongs to when
// the unit is not the customer's ID (a device ID): the server links the
// unit to the customer, so that erasing the customer erases it.
func WithCustomerID(id string) TrackOption { return func(e *Event) { e.CustomerID = id } }

// WithTimestamp sets when the conversion happened (default: now).
func WithTimestamp(t time.Time) TrackOption {
	return func(e *Event) { e.Timestamp = t.UTC().Format(time.RFC3339Nano) }
}

// Track queues a conversion of unitID named name (such as "purchase") with
// revenue in minor units of currency (ISO 4217; "" when revenue is 0). It
// returns at once; the event is sent with the next batch.
func (c *Client) Track(unitID, name string, revenue int64, currency string, opts ...TrackOption) error {
	switch {
	case c.closed.Load():
		return ErrClosed
	case unitID == "":
		return errors.New("sdk: Track: unitID is required")
	case name == "":
		return errors.New("sdk: Track: name is required (such as purchase)")
	case revenue < 0:
		return fmt.Errorf("sdk: Track: revenue must not be negative, got %d", revenue)
	case revenue != 0 && currency == "":
		return errors.New("sdk: Track: currency is required with revenue (ISO 4217, such as KRW)")
	}
	e := Event{EventID: newEventID(), Type: "conversion", UnitID: unitID, Name: name,
		Revenue: revenue, Currency: currency, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)}
	for _, o := range opts {
		o(&e)
	}
	if e.PromotionCost != nil && *e.PromotionCost < 0 {
		return fmt.Errorf("sdk: Track: promotion cost must not be negative, got %d", *e.PromotionCost)
	}
	if e.PromotionCost != nil && e.Currency == "" {
		return errors.New("sdk: Track: currency is required with a promotion cost")
	}
	c.enqueue(e)
	return nil
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// expose logs the exposure of r once per (unit, experiment, variant, and
// customer). When the unit is not the customer (attribute "id"; an
// experiment hashed on device_id), the exposure names the customer, so the
// server links the unit to it for erasure; a unit seen with a second
// customer is logged again for that link.
func (c *Client) expose(r *assign.Result, attrs assign.Attributes) {
	if c.cfg.DisableExposures || r.HashValue == "" {
		return
	}
	customer, _ := attrs["id"].(string)
	if customer == r.HashValue {
		customer = ""
	}
	if !c.dedupe.addFor(r.HashValue, customer, r.Experiment, r.VariantKey) {
		return
	}
	e := Event{EventID: newEventID(), Type: "exposure", Experiment: r.Experiment, Variant: r.VariantKey,
		UnitID: r.HashValue, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Attributes: stringAttrs(attrs, r.HashAttribute),
		CustomerID: customer}
	c.enqueue(e)
}

// stringAttrs keeps the scalar attributes (at most 32) for segment breakdowns.
func stringAttrs(attrs assign.Attributes, skip string) map[string]string {
	var m map[string]string
	for k, v := range attrs {
		if k == skip || len(m) >= 32 {
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case bool:
			s = strconv.FormatBool(x)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case int:
			s = strconv.Itoa(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		default:
			continue
		}
		if len(k)+len(s) > 256 {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = s
	}
	return m
}

func (c *Client) enqueue(e Event) {
	c.nQueued.Add(1)
	if dropped := c.q.push(e); dropped > 0 {
		c.nDropped.Add(uint64(dropped))
		c.log.Warn("promolift sdk: event queue full, dropped the oldest event")
	}
	if c.q.len() >= c.cfg.BatchSize {
		c.q.kick()
	}
}

// dedupe is a bounded set of (unit, experiment, variant) with FIFO
// eviction. It stores 64-bit fingerprints in an open-addressing table read
// without locks, so a repeated exposure costs a few hashes and atomic
// loads; inserts take a mutex. When a probe window is full the slot is
// reused, so under heavy collision an exposure may be logged again (the
// server keeps a unit's first exposure, so that is harmless).
type dedupe struct {
	seed  maphash.Seed
	slots []atomic.Uint64 // 0 is empty
	mask  uint64

	mu   sync.Mutex
	ring []dedupeEntry // the last len(ring) insertions, oldest at next
	next int
	n    int // live fingerprints
}

type dedupeEntry struct {
	fp   uint64
	slot uint32
}

const dedupeProbe = 8

func newDedupe(n int) *dedupe {
	size := uint64(dedupeProbe)
	for size < 4*uint64(n) {
		size *= 2
	}
	return &dedupe{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, size), mask: size - 1, ring: make([]dedupeEntry, n)}
}

// len returns the number of fingerprints held.
func (d *dedupe) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// add reports whether (unit, exp, variant) was new, and remembers it.
func (d *dedupe) add(unit, exp, variant string) bool { return d.addFor(unit, "", exp, variant) }

// addFor is add of the unit seen for customer ("" for none).
func (d *dedupe) addFor(unit, customer, exp, variant string) bool {
	fp := maphash.String(d.seed, unit) ^ bits.RotateLeft64(maphash.String(d.seed, exp), 21) ^
		bits.RotateLeft64(maphash.String(d.seed, variant), 42)
	if customer != "" {
		fp ^= bits.RotateLeft64(maphash.String(d.seed, customer), 11)
	}
	if fp == 0 {
		fp = 1
	}
	for i := uint64(0); i < dedupeProbe; i++ {
		if d.slots[(fp+i)&d.mask].Load() == fp {
			return false
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := uint64(0); i < dedupeProbe; i++ {
		if d.slots[(fp+i)&d.mask].Load() == fp {
			return false
		}
	}
	// Forget the oldest insertion if it is still held.
	if old := d.ring[d.next]; old.fp != 0 && d.slots[old.slot].Load() == old.fp {
		d.slots[old.slot].Store(0)
		d.n--
	}
	slot := fp & d.mask
	for i := uint64(0); i < dedupeProbe; i++ {
		if j := (fp + i) & d.mask; d.slots[j].Load() == 0 {
			slot = j
			break
		}
	}
	if d.slots[slot].Load() != 0 { // probe window full: reuse its first slot
		d.n--
	}
	d.slots[slot].Store(fp)
	d.ring[d.next] = dedupeEntry{fp: fp, slot: uint32(slot)}
	d.next = (d.next + 1) % len(d.ring)
	d.n++
	return true
}

// queue is a bounded FIFO of events that drops the oldest when full.
type queue struct {
	mu    sync.Mutex
	buf   []Event
	head  int
	n     int
	wake  chan struct{}
	limit int
}

func newQueue(n int) *queue {
	return &queue{buf: make([]Event, n), limit: n, wake: make(chan struct{}, 1)}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push appends e and returns how many old events were dropped.
func (q *queue) push(e Event) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	dropped := 0
	if q.n == q.limit {
		q.buf[q.head] = Event{}
		q.head = (q.head + 1) % q.limit
		q.n--
		dropped = 1
	}
	q.buf[(q.head+q.n)%q.limit] = e
	q.n++
	return dropped
}

// take removes up to max events from the front.
func (q *queue) take(max int) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, q.n)
	out := make([]Event, n)
	for i := range out {
		out[i] = q.buf[q.head]
		q.buf[q.head] = Event{}
		q.head = (q.head + 1) % q.limit
	}
	q.n -= n
	return out
}

// unshift puts events back at the front, dropping the oldest of them that
// do not fit; it returns how many were dropped.
func (q *queue) unshift(evs []Event) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	free := q.limit - q.n
	dropped := 0
	if len(evs) > free {
		dropped = len(evs) - free
		evs = evs[dropped:]
	}
	for i := len(evs) - 1; i >= 0; i-- {
		q.head = (q.head - 1 + q.limit) % q.limit
		q.buf[q.head] = evs[i]
		q.n++
	}
	return dropped
}

func (c *Client) sendLoop() {
	defer c.loops.Done()
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.q.wake:
		}
		for c.q.len() > 0 && c.ctx.Err() == nil {
			if !c.sendBatch(c.ctx) {
				break
			}
		}
	}
}

// flushAll sends everything queued, bounded by ctx.
func (c *Client) flushAll(ctx context.Context) error {
	for c.q.len() > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !c.sendBatch(ctx) {
			if err := ctx.Err(); err != nil {
				return err
			}
			// The server refused the batch for now: wait a little and try again.
			t := time.NewTimer(c.cfg.RetryBackoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

type batchReply struct {
	Results []struct {
		Index   int    `json:"index"`
		EventID string `json:"event_id"`
		Status  string `json:"status"`
		Error   any    `json:"error,omitempty"`
	} `json:"results"`
}

// sendBatch sends one batch with retries; it reports false when the batch
// went back into the queue.
func (c *Client) sendBatch(ctx context.Context) bool {
	batch := c.q.take(c.cfg.BatchSize)
	if len(batch) == 0 {
		return true
	}
	body, err := json.Marshal(struct {
		Events []Event `json:"events"`
	}{batch})
	if err != nil { // cannot happen with these types
		c.setErr(err)
		c.nRejected.Add(uint64(len(batch)))
		return true
	}
	for attempt := 0; ; attempt++ {
		retryAfter, done, err := c.post(ctx, body, batch)
		if done {
			return true
		}
		c.setErr(err)
		c.log.Warn("promolift sdk: sending events failed", "events", len(batch), "attempt", attempt+1, "err", err)
		if attempt >= c.cfg.MaxRetries || ctx.Err() != nil {
			break
		}
		d := backoff(c.cfg.RetryBackoff, attempt)
		if retryAfter > d {
			d = retryAfter
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		c.nRetries.Add(1)
	}
	if dropped := c.q.unshift(batch); dropped > 0 {
		c.nDropped.Add(uint64(dropped))
	}
	return false
}

// post sends one batch. done is true when the batch needs no retry.
func (c *Client) post(ctx context.Context, body []byte, batch []Event) (retryAfter time.Duration, done bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := c.request(rctx, http.MethodPost, EventsPath, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("sdk: send events: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 ||
		resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusRequestTimeout:
		return parseRetryAfter(resp.Header.Get("Retry-After")), false,
			fmt.Errorf("sdk: send events: %s: %s", resp.Status, snippet(raw))
	default: // the batch itself is bad: retrying cannot help
		c.nRejected.Add(uint64(len(batch)))
		err := fmt.Errorf("sdk: send events: %s: %s", resp.Status, snippet(raw))
		c.setErr(err)
		return 0, true, nil
	}
	var rep batchReply
	if json.Unmarshal(raw, &rep) != nil || len(rep.Results) == 0 {
		c.nSent.Add(uint64(len(batch)))
		return 0, true, nil
	}
	var sent, rejected uint64
	for _, r := range rep.Results {
		switch r.Status {
		case "rejected":
			rejected++
			c.log.Warn("promolift sdk: event rejected", "event_id", r.EventID, "error", r.Error)
		default:
			sent++
		}
	}
	if rejected > 0 {
		c.setErr(fmt.Errorf("sdk: %d events rejected by the server", rejected))
	}
	c.nSent.Add(sent)
	c.nRejected.Add(rejected)
	return 0, true, nil
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxBackoff)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxBackoff)
	}
	return 0
}
