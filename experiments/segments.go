package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Customer segments computed from each customer's history: RFM and AIPL.
//
// The stores keep one CustomerAggregate per customer (unit ID) and
// environment (the events' Environment: an SDK key's for a conversion, the
// experiment's for an exposure, "" for a key bound to none), updated in the
// ingest transaction from the batch's new events only (incremental: a batch
// costs one read and one write per customer and environment it names). RFM
// quintile boundaries are read from the aggregate table, never from the
// events.
//
// Environments: the segments of a customer in environment E are computed
// from the merge of its aggregates of E and of "" (AggregateIn), and the
// RFM boundaries of E over the customers' merges in E, so the events of
// another environment's keys never move a customer's segment in E (as a
// report counts a conversion only in its environment or, for "", in every
// one). Targeting reads the segments in the environment of the experiment
// it evaluates.
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
	Environment    string // the events' environment ("": a key bound to none)
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
// stored now (dup[i] false), one per customer and environment, in (unit ID,
// environment) order.
func CustomerDeltas(events []Event, dup []bool) []CustomerAggregate {
	type key struct{ unit, env string }
	by := map[key]*CustomerAggregate{}
	for i := range events {
		if i < len(dup) && dup[i] {
			continue
		}
		e := &events[i]
		k := key{e.UnitID, e.Environment}
		a := by[k]
		if a == nil {
			a = &CustomerAggregate{UnitID: e.UnitID, Environment: e.Environment}
			by[k] = a
		}
		a.Add(e)
	}
	out := make([]CustomerAggregate, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UnitID != out[j].UnitID {
			return out[i].UnitID < out[j].UnitID
		}
		return out[i].Environment < out[j].Environment
	})
	return out
}

// AggregateIn merges the aggregates of one customer (from
// CustomerSegmentStore.CustomerAggregates) that count in environment env:
// env's and those of "" (env "" takes those of "" alone). ok is false when
// none does.
func AggregateIn(rows []CustomerAggregate, env string) (agg CustomerAggregate, ok bool) {
	for _, r := range rows {
		if r.Environment != env && r.Environment != "" {
			continue
		}
		agg.UnitID = r.UnitID
		agg.Merge(r)
		ok = true
	}
	agg.Environment = env
	return agg, ok
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
	// CustomerAggregates returns the customer's aggregates, one per
	// environment it has stored events in (none without events), in one
	// read.
	CustomerAggregates(ctx context.Context, unitID string) ([]CustomerAggregate, error)
	// RFMBoundaries returns the current quintile boundaries (see
	// QuintileRanks) of environment env: over the customers' aggregates of
	// env and "" merged (AggregateIn).
	RFMBoundaries(ctx context.Context, env string) (RFMBoundaries, error)
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

// segmentState caches the RFM boundaries of one Service, per environment.
type segmentState struct {
	mu  sync.Mutex
	cfg SegmentConfig
	b   map[string]cachedBoundaries
}

type cachedBoundaries struct {
	b  RFMBoundaries
	at time.Time
}

// ErrNoSegments is returned by Segments when the store keeps no customer
// aggregates.
var ErrNoSegments = &Error{Kind: KindNotFound, Code: "segments_unsupported", Message: "this store keeps no customer segments"}

// SetSegmentConfig sets the AIPL windows and the boundary cache TTL.
func (s *Service) SetSegmentConfig(cfg SegmentConfig) {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	s.segs.cfg, s.segs.b = cfg, nil
}

// boundaries returns the RFM boundaries of environment env, cached for
// BoundaryTTL.
func (s *Service) boundaries(ctx context.Context, st CustomerSegmentStore, env string, now time.Time) (RFMBoundaries, SegmentConfig, error) {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	cfg := s.segs.cfg.withDefaults()
	if c, ok := s.segs.b[env]; ok && cfg.BoundaryTTL > 0 && now.Sub(c.at) < cfg.BoundaryTTL && !now.Before(c.at) {
		return c.b, cfg, nil
	}
	b, err := st.RFMBoundaries(ctx, env)
	if err != nil {
		return RFMBoundaries{}, cfg, err
	}
	if s.segs.b == nil {
		s.segs.b = map[string]cachedBoundaries{}
	}
	s.segs.b[env] = cachedBoundaries{b: b, at: now}
	return b, cfg, nil
}

// Segments returns the RFM and AIPL segments of a customer (a unit ID) in
// environment env: from its events of env's keys and experiments and of
// keys bound to no environment, scored against the boundaries of env. A
// customer without such events is Known false with RFM and AIPL "none".
func (s *Service) Segments(ctx context.Context, env, customerID string) (Segment, error) {
	gs, err := s.segmentsIn(ctx, customerID, []string{env})
	if err != nil {
		return Segment{}, err
	}
	return gs[env], nil
}

// segmentsIn returns the customer's segments in each environment of envs,
// with one read of its aggregates.
func (s *Service) segmentsIn(ctx context.Context, customerID string, envs []string) (map[string]Segment, error) {
	if customerID == "" {
		return nil, Invalid("customer_id", "required", "is required")
	}
	st, ok := s.store.(CustomerSegmentStore)
	if !ok {
		return nil, ErrNoSegments
	}
	now := s.now().UTC()
	rows, err := st.CustomerAggregates(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	out := make(map[string]Segment, len(envs))
	for _, env := range envs {
		a, known := AggregateIn(rows, env)
		a.UnitID = customerID
		b, cfg, err := s.boundaries(ctx, st, env, now)
		if err != nil {
			return nil, fmt.Errorf("segments: %w", err)
		}
		out[env] = ComputeSegment(a, known, b, cfg, now)
	}
	return out, nil
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

// segmentAttrs are the segments of the unit of one call per environment
// (unitAssignment.prepare): targeting in an experiment reads the unit's
// segments in the experiment's environment.
type segmentAttrs struct {
	by    map[string]Segment
	hasR  bool // the caller sent rfm_segment: it stands
	hasA  bool // the caller sent aipl_stage: it stands
	attrs map[string]any
}

// use sets the segment attributes of environment env in the call's
// attributes (nothing when the call read none for env).
func (g *segmentAttrs) use(env string) {
	if g == nil {
		return
	}
	seg, ok := g.by[env]
	if !ok {
		return
	}
	if !g.hasR {
		g.attrs[AttrRFMSegment] = string(seg.RFM)
	}
	if !g.hasA {
		g.attrs[AttrAIPLStage] = string(seg.AIPL)
	}
}

// segmentAttributes reads the segments of the unit of attrs in the
// environment of each experiment of keys that uses them, when attrs do not
// carry them, with one read of the unit's aggregates (the RFM boundaries
// are cached); without such an experiment it reads nothing (nil). It sets
// the attributes of the first such environment in attrs; use sets those of
// another. Assign and the OpenFeature evaluation call it alike
// (unitAssignment.prepare). A failure is logged: the assignment goes on
// without them.
func (s *Service) segmentAttributes(ctx context.Context, exps map[string]*Experiment, keys []string, attrs map[string]any) *segmentAttrs {
	_, hasR := attrs[AttrRFMSegment]
	_, hasA := attrs[AttrAIPLStage]
	if hasR && hasA {
		return nil
	}
	if _, ok := s.store.(CustomerSegmentStore); !ok {
		return nil
	}
	var envs []string
	for _, k := range keys {
		if e := exps[k]; e != nil && usesSegments(e) && !slices.Contains(envs, e.Environment) {
			envs = append(envs, e.Environment)
		}
	}
	id, _ := attrs[DefaultUnitAttribute].(string)
	if len(envs) == 0 || id == "" {
		return nil
	}
	by, err := s.segmentsIn(ctx, id, envs)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("customer segments", "err", err)
		}
		return nil
	}
	g := &segmentAttrs{by: by, hasR: hasR, hasA: hasA, attrs: attrs}
	g.use(envs[0])
	return g
}
