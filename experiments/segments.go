package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Customer segments computed from each customer's history: RFM and AIPL.
//
// The stores keep one CustomerAggregate per customer (unit ID), updated in
// the ingest transaction from the batch's new events only (incremental: a
// batch costs one read and one write per customer it names). RFM quintile
// boundaries are read from the aggregate table, never from the events.
//
// Event names: a conversion named "purchase" (PurchaseEvent) is a purchase;
// one named "review" (ReviewEvent) is a review; every other conversion
// (view, add_to_cart, click, review, …) is an engagement; an exposure is an
// exposure. Frequency and monetary value are over the customer's whole
// stored history; monetary sums revenue in minor units, whatever the
// currency.
//
// RFM scores are 1–5 per dimension over the customers with at least one
// purchase. The boundaries q1..q4 of a dimension are the nearest-rank
// quintiles of its values in ascending order (q_k is the value at 1-based
// rank ceil(k·N/5)), and a value v scores 1 + #{k : v > q_k}, so equal
// values always score alike. Recency scores the last purchase time (more
// recent is higher), frequency the purchase count, monetary the revenue
// sum. With F+M as the combined frequency–monetary score (2–10), the named
// segment is the first rule that matches:
//
//	champions           R ≥ 4 and F+M ≥ 8
//	new                 R ≥ 4 and F = 1
//	loyal               R ≥ 3 and F+M ≥ 6
//	potential_loyalist  R ≥ 3
//	cannot_lose         R ≤ 2 and F+M ≥ 9
//	at_risk             R ≤ 2 and F+M ≥ 6
//	hibernating         R = 2
//	lost                R = 1
//
// Customers without a purchase are "none".
//
// AIPL stage at time now, the first that matches (windows in SegmentConfig):
//
//	loyalty    a review within LoyaltyWindow (365 days), or at least two
//	           purchases within LoyaltyWindow (the second-latest purchase
//	           is in the window)
//	purchase   a purchase within PurchaseWindow (365 days)
//	interest   an engagement (a conversion that is not a purchase) within
//	           EngagementWindow (15 days)
//	awareness  any other customer with a stored event (exposed, or active
//	           longer ago)
//	none       no event at all
const (
	PurchaseEvent = "purchase"
	ReviewEvent   = "review"
)

// The targeting attributes and report dimensions of the segments.
const (
	AttrRFMSegment = "rfm_segment"
	AttrAIPLStage  = "aipl_stage"
)

// RFMSegment names an RFM segment.
type RFMSegment string

// The RFM segments.
const (
	RFMNone              RFMSegment = "none"
	RFMChampions         RFMSegment = "champions"
	RFMLoyal             RFMSegment = "loyal"
	RFMPotentialLoyalist RFMSegment = "potential_loyalist"
	RFMNew               RFMSegment = "new"
	RFMAtRisk            RFMSegment = "at_risk"
	RFMCannotLose        RFMSegment = "cannot_lose"
	RFMHibernating       RFMSegment = "hibernating"
	RFMLost              RFMSegment = "lost"
)

// AIPLStage is a customer's stage in the Awareness–Interest–Purchase–Loyalty
// funnel.
type AIPLStage string

// The AIPL stages.
const (
	AIPLNone      AIPLStage = "none"
	AIPLAwareness AIPLStage = "awareness"
	AIPLInterest  AIPLStage = "interest"
	AIPLPurchase  AIPLStage = "purchase"
	AIPLLoyalty   AIPLStage = "loyalty"
)

// CustomerAggregate is what the stores keep per customer. Zero times mean
// never.
type CustomerAggregate struct {
	UnitID         string
	LastPurchaseAt time.Time
	PrevPurchaseAt time.Time // the second-latest purchase
	PurchaseCount  int64
	Monetary       int64 // revenue of the purchases, minor units
	LastEngagedAt  time.Time
	LastReviewAt   time.Time
	ReviewCount    int64
	LastExposedAt  time.Time
}

// Add folds one event into the aggregate.
func (a *CustomerAggregate) Add(e *Event) {
	ts := e.Timestamp.UTC()
	switch e.Type {
	case EventExposure:
		a.LastExposedAt = later(a.LastExposedAt, ts)
	case EventConversion:
		if e.Name == PurchaseEvent {
			a.addPurchases(ts, time.Time{})
			a.PurchaseCount++
			a.Monetary += e.Revenue
			return
		}
		a.LastEngagedAt = later(a.LastEngagedAt, ts)
		if e.Name == ReviewEvent {
			a.LastReviewAt = later(a.LastReviewAt, ts)
			a.ReviewCount++
		}
	}
}

// Merge folds b (the aggregate of other events of the same customer) into
// a. Merging is commutative and associative, so the order in which
// batches arrive does not matter.
func (a *CustomerAggregate) Merge(b CustomerAggregate) {
	a.addPurchases(b.LastPurchaseAt, b.PrevPurchaseAt)
	a.PurchaseCount += b.PurchaseCount
	a.Monetary += b.Monetary
	a.LastEngagedAt = later(a.LastEngagedAt, b.LastEngagedAt)
	a.LastReviewAt = later(a.LastReviewAt, b.LastReviewAt)
	a.ReviewCount += b.ReviewCount
	a.LastExposedAt = later(a.LastExposedAt, b.LastExposedAt)
}

// addPurchases keeps the two latest of a's two purchase times and t1, t2.
func (a *CustomerAggregate) addPurchases(t1, t2 time.Time) {
	for _, t := range []time.Time{t1, t2} {
		switch {
		case t.IsZero():
		case a.LastPurchaseAt.IsZero() || !t.Before(a.LastPurchaseAt):
			a.PrevPurchaseAt, a.LastPurchaseAt = a.LastPurchaseAt, t
		case a.PrevPurchaseAt.IsZero() || t.After(a.PrevPurchaseAt):
			a.PrevPurchaseAt = t
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// CustomerDeltas returns the aggregates of the events of a batch that were
// stored now (dup[i] false), one per customer, in unit ID order.
func CustomerDeltas(events []Event, dup []bool) []CustomerAggregate {
	by := map[string]*CustomerAggregate{}
	for i := range events {
		if i < len(dup) && dup[i] {
			continue
		}
		e := &events[i]
		a := by[e.UnitID]
		if a == nil {
			a = &CustomerAggregate{UnitID: e.UnitID}
			by[e.UnitID] = a
		}
		a.Add(e)
	}
	out := make([]CustomerAggregate, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UnitID < out[j].UnitID })
	return out
}

// RFMBoundaries are the quintile boundaries q1..q4 of each RFM dimension
// over the Customers with at least one purchase. Recency holds last
// purchase times in unix microseconds.
type RFMBoundaries struct {
	Customers int64
	Recency   [4]int64
	Frequency [4]int64
	Monetary  [4]int64
}

// QuintileRanks returns the 1-based nearest ranks ceil(k·n/5), k = 1..4,
// of the quintile boundaries of n values (zeros when n is 0).
func QuintileRanks(n int64) [4]int64 {
	var r [4]int64
	if n <= 0 {
		return r
	}
	for k := int64(1); k <= 4; k++ {
		r[k-1] = max((k*n+4)/5, 1)
	}
	return r
}

// quintile scores v against boundaries q: 1 + #{k : v > q_k}.
func quintile(v int64, q [4]int64) int {
	s := 1
	for _, b := range q {
		if v > b {
			s++
		}
	}
	return s
}

// CustomerSegmentStore is implemented by stores that keep customer
// aggregates.
type CustomerSegmentStore interface {
	// CustomerAggregate returns the customer's aggregate; ok is false when
	// the store has no event of the customer.
	CustomerAggregate(ctx context.Context, unitID string) (agg CustomerAggregate, ok bool, err error)
	// RFMBoundaries returns the current quintile boundaries (see
	// QuintileRanks).
	RFMBoundaries(ctx context.Context) (RFMBoundaries, error)
}

// SegmentConfig holds the windows of the AIPL stages and how long RFM
// boundaries are cached. Zero fields take the defaults.
type SegmentConfig struct {
	EngagementWindow time.Duration // default 15 days
	PurchaseWindow   time.Duration // default 365 days
	LoyaltyWindow    time.Duration // default 365 days
	BoundaryTTL      time.Duration // default 1 minute; negative: no cache
}

// Default segment windows.
const (
	DefaultEngagementWindow = 15 * 24 * time.Hour
	DefaultPurchaseWindow   = 365 * 24 * time.Hour
	DefaultLoyaltyWindow    = 365 * 24 * time.Hour
	DefaultBoundaryTTL      = time.Minute
)

func (c SegmentConfig) withDefaults() SegmentConfig {
	if c.EngagementWindow <= 0 {
		c.EngagementWindow = DefaultEngagementWindow
	}
	if c.PurchaseWindow <= 0 {
		c.PurchaseWindow = DefaultPurchaseWindow
	}
	if c.LoyaltyWindow <= 0 {
		c.LoyaltyWindow = DefaultLoyaltyWindow
	}
	if c.BoundaryTTL == 0 {
		c.BoundaryTTL = DefaultBoundaryTTL
	}
	return c
}

// Segment is one customer's segments.
type Segment struct {
	CustomerID string
	// Known is false when the store has no event of the customer.
	Known bool
	// Recency, Frequency and Monetary are the RFM scores 1–5 (0 without a
	// purchase).
	Recency, Frequency, Monetary int
	RFM                          RFMSegment
	AIPL                         AIPLStage
	Aggregate                    CustomerAggregate
	At                           time.Time
}

// Attributes returns the segment as targeting attributes.
func (g Segment) Attributes() map[string]string {
	return map[string]string{AttrRFMSegment: string(g.RFM), AttrAIPLStage: string(g.AIPL)}
}

// ComputeSegment computes a customer's segments from its aggregate (known
// false for a customer without events) and the RFM boundaries, at now.
func ComputeSegment(a CustomerAggregate, known bool, b RFMBoundaries, cfg SegmentConfig, now time.Time) Segment {
	cfg = cfg.withDefaults()
	g := Segment{CustomerID: a.UnitID, Known: known, Aggregate: a, At: now, RFM: RFMNone, AIPL: AIPLNone}
	if !known {
		return g
	}
	if a.PurchaseCount > 0 && !a.LastPurchaseAt.IsZero() {
		g.Recency = quintile(a.LastPurchaseAt.UnixMicro(), b.Recency)
		g.Frequency = quintile(a.PurchaseCount, b.Frequency)
		g.Monetary = quintile(a.Monetary, b.Monetary)
		g.RFM = rfmSegment(g.Recency, g.Frequency, g.Monetary)
	}
	within := func(t time.Time, w time.Duration) bool { return !t.IsZero() && now.Sub(t) <= w }
	switch {
	case within(a.LastReviewAt, cfg.LoyaltyWindow) || within(a.PrevPurchaseAt, cfg.LoyaltyWindow):
		g.AIPL = AIPLLoyalty
	case within(a.LastPurchaseAt, cfg.PurchaseWindow):
		g.AIPL = AIPLPurchase
	case within(a.LastEngagedAt, cfg.EngagementWindow):
		g.AIPL = AIPLInterest
	default:
		g.AIPL = AIPLAwareness
	}
	return g
}

func rfmSegment(r, f, m int) RFMSegment {
	fm := f + m
	switch {
	case r >= 4 && fm >= 8:
		return RFMChampions
	case r >= 4 && f == 1:
		return RFMNew
	case r >= 3 && fm >= 6:
		return RFMLoyal
	case r >= 3:
		return RFMPotentialLoyalist
	case fm >= 9:
		return RFMCannotLose
	case fm >= 6:
		return RFMAtRisk
	case r == 2:
		return RFMHibernating
	}
	return RFMLost
}

// segmentState caches the RFM boundaries of one Service.
type segmentState struct {
	mu  sync.Mutex
	cfg SegmentConfig
	b   RFMBoundaries
	at  time.Time
}

// ErrNoSegments is returned by Segments when the store keeps no customer
// aggregates.
var ErrNoSegments = &Error{Kind: KindNotFound, Code: "segments_unsupported", Message: "this store keeps no customer segments"}

// SetSegmentConfig sets the AIPL windows and the boundary cache TTL.
func (s *Service) SetSegmentConfig(cfg SegmentConfig) {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	s.segs.cfg, s.segs.at = cfg, time.Time{}
}

// boundaries returns the RFM boundaries, cached for BoundaryTTL.
func (s *Service) boundaries(ctx context.Context, st CustomerSegmentStore, now time.Time) (RFMBoundaries, SegmentConfig, error) {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	cfg := s.segs.cfg.withDefaults()
	if !s.segs.at.IsZero() && cfg.BoundaryTTL > 0 && now.Sub(s.segs.at) < cfg.BoundaryTTL && !now.Before(s.segs.at) {
		return s.segs.b, cfg, nil
	}
	b, err := st.RFMBoundaries(ctx)
	if err != nil {
		return RFMBoundaries{}, cfg, err
	}
	s.segs.b, s.segs.at = b, now
	return b, cfg, nil
}

// Segments returns the RFM and AIPL segments of a customer (a unit ID).
// A customer without events is Known false with RFM and AIPL "none".
func (s *Service) Segments(ctx context.Context, customerID string) (Segment, error) {
	if customerID == "" {
		return Segment{}, Invalid("customer_id", "required", "is required")
	}
	st, ok := s.store.(CustomerSegmentStore)
	if !ok {
		return Segment{}, ErrNoSegments
	}
	now := s.now().UTC()
	a, known, err := st.CustomerAggregate(ctx, customerID)
	if err != nil {
		return Segment{}, fmt.Errorf("segments: %w", err)
	}
	a.UnitID = customerID
	b, cfg, err := s.boundaries(ctx, st, now)
	if err != nil {
		return Segment{}, fmt.Errorf("segments: %w", err)
	}
	return ComputeSegment(a, known, b, cfg, now), nil
}

var segmentAttrNames = [][]byte{[]byte(`"` + AttrRFMSegment + `"`), []byte(`"` + AttrAIPLStage + `"`)}

// usesSegments reports whether an experiment targets or breaks down by a
// segment attribute.
func usesSegments(e *Experiment) bool {
	for _, d := range e.Segments {
		if d == AttrRFMSegment || d == AttrAIPLStage {
			return true
		}
	}
	for _, n := range segmentAttrNames {
		if bytes.Contains(e.Condition, n) {
			return true
		}
	}
	return false
}

// addSegmentAttributes sets rfm_segment and aipl_stage of the unit in
// attrs when one of the experiments of keys uses them and attrs do not
// carry them, with one read of the unit's aggregate (the RFM boundaries are
// cached); without such an experiment it reads nothing. Assign and the
// OpenFeature evaluation call it alike (unitAssignment.prepare). A failure
// is logged: the assignment goes on without them.
func (s *Service) addSegmentAttributes(ctx context.Context, exps map[string]*Experiment, keys []string, attrs map[string]any) {
	_, hasR := attrs[AttrRFMSegment]
	_, hasA := attrs[AttrAIPLStage]
	if hasR && hasA {
		return
	}
	if _, ok := s.store.(CustomerSegmentStore); !ok {
		return
	}
	need := false
	for _, k := range keys {
		if e := exps[k]; e != nil && usesSegments(e) {
			need = true
			break
		}
	}
	id, _ := attrs[DefaultUnitAttribute].(string)
	if !need || id == "" {
		return
	}
	g, err := s.Segments(ctx, id)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("customer segments", "err", err)
		}
		return
	}
	if !hasR {
		attrs[AttrRFMSegment] = string(g.RFM)
	}
	if !hasA {
		attrs[AttrAIPLStage] = string(g.AIPL)
	}
}
