package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/promolift/promolift/stats/bandit"
)

// Adaptive allocation (issue 18, "Adaptive allocation on profit";
// docs/bandit.md). An experiment whose Allocation.Mode is bandit starts
// with its variants' weights; at every period boundary (StartedAt + p ×
// UpdateEvery) UpdateBandit reads each arm's net revenue per unit (revenue −
// promotion cost of the primary metric's conversions, per analysed unit),
// gives every arm its Thompson-sampling probability of being best (package
// stats/bandit), floors the weights at MinWeight, paces the budget evenly
// over the flight, stores the weights as the period's row of the weight
// history (unique per experiment and period, so replicas agree) and makes
// them the experiment's variant weights. Assignment is the experiment's
// GrowthBook hashing with sticky bucketing forced on: a unit is bucketed
// with the weights in force when it first comes and keeps its variant
// afterwards (the bucket version does not change with the weights).

// The allocation modes.
const (
	AllocationFixed  = "fixed"
	AllocationBandit = "bandit"
)

// Bandit defaults and limits.
const (
	DefaultBanditUpdateEvery = 24 * time.Hour
	DefaultBanditMinWeight   = 0.05
	DefaultBanditFlight      = 14 * 24 * time.Hour
	MinBanditUpdateEvery     = time.Minute
	MaxBanditUpdateEvery     = 30 * 24 * time.Hour
	MaxBanditFlight          = 365 * 24 * time.Hour
)

// Allocation is how an experiment splits its traffic. The zero value is a
// fixed split by the variants' weights.
type Allocation struct {
	// Mode is AllocationFixed ("" means fixed) or AllocationBandit.
	Mode string
	// UpdateEvery is the length of a bandit period: the weights change at
	// StartedAt + p × UpdateEvery.
	UpdateEvery time.Duration
	// MinWeight is the least weight Thompson sampling leaves an arm (the
	// budget pacing may take promotion arms below it).
	MinWeight float64
	// Budget is the promotion spend allowed over the flight in minor
	// units; 0 means no pacing.
	Budget int64
	// Flight is the length of the flight from StartedAt: the pacing line
	// reaches Budget at StartedAt + Flight.
	Flight time.Duration
}

// Bandit reports whether the allocation is adaptive.
func (a Allocation) Bandit() bool { return a.Mode == AllocationBandit }

func (a *Allocation) applyDefaults() {
	if !a.Bandit() {
		return
	}
	if a.UpdateEvery == 0 {
		a.UpdateEvery = DefaultBanditUpdateEvery
	}
	if a.Flight == 0 {
		a.Flight = DefaultBanditFlight
	}
}

func (a Allocation) validate(variants int, errs *ValidationErrors) {
	switch a.Mode {
	case "", AllocationFixed:
		if a.UpdateEvery != 0 || a.MinWeight != 0 || a.Budget != 0 || a.Flight != 0 {
			errs.add("allocation.mode", "bandit_only",
				"update_every, min_weight, budget and flight apply to mode bandit only")
		}
		return
	case AllocationBandit:
	default:
		errs.add("allocation.mode", "invalid_mode", "must be fixed or bandit")
		return
	}
	if a.UpdateEvery < MinBanditUpdateEvery || a.UpdateEvery > MaxBanditUpdateEvery {
		errs.add("allocation.update_every", "out_of_range", "must be a duration between 1m and 720h, such as \"24h\"")
	}
	if variants > 0 && (math.IsNaN(a.MinWeight) || a.MinWeight < 0 || a.MinWeight > 1/float64(variants)) {
		errs.add("allocation.min_weight", "out_of_range", "must be between 0 and 1/(number of variants)")
	}
	if a.Budget < 0 {
		errs.add("allocation.budget", "negative", "must not be negative")
	}
	if a.Flight <= 0 || a.Flight > MaxBanditFlight || (a.UpdateEvery > 0 && a.Flight < a.UpdateEvery) {
		errs.add("allocation.flight", "out_of_range", "must be a duration of at least update_every and at most 8760h")
	}
}

// BanditWeight is one variant's row in a bandit period.
type BanditWeight struct {
	Variant string
	Weight  float64
	// ProbBest is the arm's posterior probability of the largest net
	// revenue per unit when the weights were computed (before the floor
	// and the pacing).
	ProbBest float64
}

// BanditPeriod is one row of a bandit's weight history: the weights in
// force from StartsAt, and the spend and pacing line when they were set.
type BanditPeriod struct {
	Experiment string
	Period     int
	StartsAt   time.Time
	Weights    []BanditWeight
	// Units are the analysed units assigned before StartsAt.
	Units int64
	// Spend is the promotion spend of those units and PacingTarget the
	// pacing line, both at StartsAt, in minor units (0 without a budget).
	Spend, PacingTarget float64
	// PacingFactor is the factor the pacing applied to the promotion arms
	// (1: unchanged).
	PacingFactor float64
	CreatedAt    time.Time
}

// BanditQuery asks for the per-period, per-arm sums of a bandit
// experiment's analysed units. A unit's period is the last index p with
// Starts[p] ≤ its first exposure (0 when before Starts[0]).
type BanditQuery struct {
	Experiment string
	// Metric is the conversion name whose revenue and cost count.
	Metric string
	// ExposureCosts: see PolicyQuery.ExposureCosts.
	ExposureCosts map[string]int64
	Starts        []time.Time
}

// BanditCell are the sums over the analysed units of one period and
// variant; a unit's net revenue is its revenue − its promotion cost.
type BanditCell struct {
	Period     int
	Variant    string
	Units      int64
	Net        float64
	NetSquares float64
	Cost       float64
}

// BanditStore is an optional store capability: the weight history of
// bandit experiments and their per-period statistics. Both SQL stores
// implement it.
type BanditStore interface {
	// InsertBanditPeriod stores p unless the experiment has a row for
	// p.Period; it reports whether it stored it.
	InsertBanditPeriod(ctx context.Context, p *BanditPeriod) (bool, error)
	// BanditPeriods returns the experiment's rows in period order.
	BanditPeriods(ctx context.Context, experiment string) ([]BanditPeriod, error)
	// BanditStats returns the sums of q, sorted by period and variant.
	BanditStats(ctx context.Context, q BanditQuery) ([]BanditCell, error)
}

// BanditPeriodOf returns the index of the period of t among starts (sorted
// ascending): the last p with starts[p] ≤ t, 0 when t is before them all.
// For the stores.
func BanditPeriodOf(starts []time.Time, t time.Time) int {
	p := sort.Search(len(starts), func(i int) bool { return starts[i].After(t) }) - 1
	return max(p, 0)
}

// ErrNoBandit is returned when the store keeps no bandit history.
var ErrNoBandit = &Error{Kind: KindNotFound, Code: "bandit_unsupported", Message: "this store cannot run bandit experiments"}

func (s *Service) banditStore() (BanditStore, error) {
	st, ok := s.store.(BanditStore)
	if !ok {
		return nil, ErrNoBandit
	}
	return st, nil
}

// banditQuery is the query of e's statistics over the periods of rows.
func banditQuery(e *Experiment, rows []BanditPeriod) BanditQuery {
	q := BanditQuery{Experiment: e.Key, Metric: e.PrimaryMetric, ExposureCosts: map[string]int64{}}
	if q.Metric == "" {
		q.Metric = PurchaseEvent
	}
	for _, v := range e.Variants {
		if v.Promotion.CostRule == CostPerExposure {
			q.ExposureCosts[v.Key] = v.Promotion.UnitCost
		}
	}
	for _, r := range rows {
		q.Starts = append(q.Starts, r.StartsAt)
	}
	return q
}

// banditArms folds cells into per-period, per-arm statistics in the order
// of e's variants (cells of variants e no longer has are dropped).
func banditArms(e *Experiment, cells []BanditCell, periods int) [][]bandit.Arm {
	idx := make(map[string]int, len(e.Variants))
	for i, v := range e.Variants {
		idx[v.Key] = i
	}
	out := make([][]bandit.Arm, periods)
	for p := range out {
		out[p] = make([]bandit.Arm, len(e.Variants))
	}
	for _, c := range cells {
		i, ok := idx[c.Variant]
		if !ok || c.Period < 0 || c.Period >= periods {
			continue
		}
		a := &out[c.Period][i]
		a.N += float64(c.Units)
		a.Sum += c.Net
		a.SumSquares += c.NetSquares
	}
	return out
}

// banditCosts returns the promotion cost per arm (in variant order) summed
// over cells.
func banditCosts(e *Experiment, cells []BanditCell) []float64 {
	out := make([]float64, len(e.Variants))
	for _, c := range cells {
		for i, v := range e.Variants {
			if v.Key == c.Variant {
				out[i] += c.Cost
			}
		}
	}
	return out
}

// PacingLine is the budget a's pacing line allows spent by elapsed time
// since the start: Budget × min(elapsed, Flight)/Flight.
func (a Allocation) PacingLine(elapsed time.Duration) float64 {
	if a.Budget <= 0 || a.Flight <= 0 {
		return 0
	}
	elapsed = min(max(elapsed, 0), a.Flight)
	return float64(a.Budget) * float64(elapsed) / float64(a.Flight)
}

// UpdateBandit brings the weight history of the running bandit experiment
// key up to now: when now is in a period p after the last stored one, it
// computes and stores the row of p (a replica that finds the row stored by
// another keeps that one), and it makes the last row's weights the
// experiment's variant weights when they differ. It returns the last row,
// and nil for an experiment that is not a running bandit.
//
// The weights of period p (see package stats/bandit for the formulas):
// w = Floor(ProbBestPeriodWeighted(periods), MinWeight) on the analysed
// units' net revenue so far, by period of first exposure; with a budget B, the pacing line is L(t) = B·min(t − start,
// Flight)/Flight, and when the next period's expected spend U·Σ w_a κ_a
// (U: the units per period of the last period's rate, κ_a: arm a's spend
// per unit so far) exceeds L(start + (p+1)·UpdateEvery) − S (S: spent so
// far), the promotion arms' weights are scaled down to fit and control
// takes the rest.
func (s *Service) UpdateBandit(ctx context.Context, key string) (*BanditPeriod, error) {
	st, err := s.banditStore()
	if err != nil {
		return nil, err
	}
	e, err := s.store.GetExperiment(ctx, key)
	if err != nil {
		return nil, err
	}
	if !e.Allocation.Bandit() || e.Status != StatusRunning || e.StartedAt.IsZero() {
		return nil, nil
	}
	rows, err := st.BanditPeriods(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("bandit %s: %w", key, err)
	}
	now := s.now().UTC()
	if len(rows) == 0 {
		first := BanditPeriod{Experiment: key, Period: 0, StartsAt: e.StartedAt.UTC(), PacingFactor: 1, CreatedAt: now}
		for _, v := range e.Variants {
			first.Weights = append(first.Weights, BanditWeight{Variant: v.Key, Weight: v.Weight, ProbBest: 1 / float64(len(e.Variants))})
		}
		if _, err := st.InsertBanditPeriod(ctx, &first); err != nil {
			return nil, fmt.Errorf("bandit %s: %w", key, err)
		}
		if rows, err = st.BanditPeriods(ctx, key); err != nil {
			return nil, fmt.Errorf("bandit %s: %w", key, err)
		}
	}
	every := e.Allocation.UpdateEvery
	p := int(now.Sub(e.StartedAt) / every)
	if last := rows[len(rows)-1]; p > last.Period {
		next, err := s.nextBanditPeriod(ctx, st, e, rows, p, now)
		if err != nil {
			return nil, fmt.Errorf("bandit %s: %w", key, err)
		}
		if _, err := st.InsertBanditPeriod(ctx, next); err != nil {
			return nil, fmt.Errorf("bandit %s: %w", key, err)
		}
		if rows, err = st.BanditPeriods(ctx, key); err != nil {
			return nil, fmt.Errorf("bandit %s: %w", key, err)
		}
	}
	last := rows[len(rows)-1]
	if err := s.applyBanditWeights(ctx, e, last); err != nil {
		return nil, fmt.Errorf("bandit %s: %w", key, err)
	}
	return &last, nil
}

// nextBanditPeriod computes the row of period p from the units assigned in
// the periods of rows.
func (s *Service) nextBanditPeriod(ctx context.Context, st BanditStore, e *Experiment, rows []BanditPeriod, p int, now time.Time) (*BanditPeriod, error) {
	cells, err := st.BanditStats(ctx, banditQuery(e, rows))
	if err != nil {
		return nil, err
	}
	per := banditArms(e, cells, len(rows))
	k := len(e.Variants)
	cum := make([]bandit.Arm, k)
	for _, ps := range per {
		for a := range cum {
			cum[a].N += ps[a].N
			cum[a].Sum += ps[a].Sum
			cum[a].SumSquares += ps[a].SumSquares
		}
	}
	alloc := e.Allocation
	start := e.StartedAt.UTC().Add(time.Duration(p) * alloc.UpdateEvery)
	prob := bandit.ProbBestPeriodWeighted(per)
	w := bandit.Floor(prob, alloc.MinWeight)
	row := &BanditPeriod{Experiment: e.Key, Period: p, StartsAt: start, PacingFactor: 1, CreatedAt: now}
	costs := banditCosts(e, cells)
	for a := range cum {
		row.Units += int64(cum[a].N)
		row.Spend += costs[a]
	}
	if alloc.Budget > 0 {
		row.PacingTarget = alloc.PacingLine(start.Sub(e.StartedAt))
		kappa := make([]float64, k)
		for a := range kappa {
			if cum[a].N > 0 {
				kappa[a] = costs[a] / cum[a].N
			}
		}
		// The next period's traffic at the rate of the last stored period.
		last := rows[len(rows)-1]
		var lastUnits float64
		for _, arm := range per[len(per)-1] {
			lastUnits += arm.N
		}
		units := lastUnits
		if span := start.Sub(last.StartsAt); span > 0 {
			units = lastUnits * float64(alloc.UpdateEvery) / float64(span)
		}
		allowed := alloc.PacingLine(start.Add(alloc.UpdateEvery).Sub(e.StartedAt)) - row.Spend
		w, row.PacingFactor = bandit.Pace(w, kappa, units, allowed)
	}
	var sum float64
	for _, x := range w {
		sum += x
	}
	for a, v := range e.Variants {
		row.Weights = append(row.Weights, BanditWeight{Variant: v.Key, Weight: w[a] / sum, ProbBest: prob[a]})
	}
	return row, nil
}

// applyBanditWeights makes row's weights e's variant weights unless they
// already are (without bumping the bucket version: sticky units keep their
// variant).
func (s *Service) applyBanditWeights(ctx context.Context, e *Experiment, row BanditPeriod) error {
	if banditWeightsEqual(e, row) {
		return nil
	}
	_, err := s.modifyExperiment(ctx, Principal{}, e.Key, "bandit_update", func(cur *Experiment) error {
		if !cur.Allocation.Bandit() || cur.Status != StatusRunning {
			return errBanditStopped
		}
		vs := make([]Variant, len(cur.Variants))
		copy(vs, cur.Variants)
		for i := range vs {
			for _, w := range row.Weights {
				if w.Variant == vs[i].Key {
					vs[i].Weight = w.Weight
				}
			}
		}
		cur.Variants = vs
		return nil
	})
	if errors.Is(err, errBanditStopped) {
		return nil
	}
	return err
}

var errBanditStopped = errors.New("bandit no longer running")

func banditWeightsEqual(e *Experiment, row BanditPeriod) bool {
	for _, v := range e.Variants {
		found := false
		for _, w := range row.Weights {
			if w.Variant == v.Key {
				found = true
				if math.Abs(w.Weight-v.Weight) > 1e-12 {
					return false
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// UpdateBandits runs UpdateBandit on every running bandit experiment and
// returns how many it updated; an experiment's failure is logged and the
// others go on. The background updater (package experiments/banditrun)
// calls it.
func (s *Service) UpdateBandits(ctx context.Context) (int, error) {
	all, err := s.store.ListExperiments(ctx, ExperimentFilter{Status: StatusRunning})
	if err != nil {
		return 0, fmt.Errorf("list bandits: %w", err)
	}
	n := 0
	for _, e := range all {
		if !e.Allocation.Bandit() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := s.UpdateBandit(ctx, e.Key); err != nil {
			s.log.Warn("bandit update failed", "experiment", e.Key, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// BanditReport is the report section of a bandit experiment: its weight
// history, its spend against the pacing line, and the per-period weighted
// estimates that stay valid while the weights change (docs/bandit.md).
type BanditReport struct {
	Allocation Allocation
	// History is the weight history, one row per period.
	History []BanditPeriod
	// PeriodUnits are the analysed units first exposed in each period of
	// History, per variant in the experiment's order.
	PeriodUnits [][]int64
	// Spend is the promotion spend of the analysed units as of the report
	// and PacingTarget the pacing line then (0 without a budget).
	Spend, PacingTarget float64
	// Estimates has one entry per variant, in order.
	Estimates []BanditEstimate
}

// BanditEstimate is one arm's per-period weighted net revenue per unit
// and, for a treatment, its effect against control (nil for control).
type BanditEstimate struct {
	Variant string
	Mean    bandit.Effect
	Effect  *bandit.Effect
}

// banditZ is the normal quantile of the bandit estimates' 95% intervals.
const banditZ = 1.959963984540054

// banditReport builds the bandit section of e's report as of now; nil
// for an experiment that is not a bandit or a store without the history.
func (s *Service) banditReport(ctx context.Context, e *Experiment, now time.Time) (*BanditReport, error) {
	st, ok := s.store.(BanditStore)
	if !ok || !e.Allocation.Bandit() {
		return nil, nil
	}
	rows, err := st.BanditPeriods(ctx, e.Key)
	if err != nil {
		return nil, err
	}
	out := &BanditReport{Allocation: e.Allocation, History: rows}
	if len(rows) == 0 {
		return out, nil
	}
	cells, err := st.BanditStats(ctx, banditQuery(e, rows))
	if err != nil {
		return nil, err
	}
	per := banditArms(e, cells, len(rows))
	for _, ps := range per {
		units := make([]int64, len(ps))
		for a, arm := range ps {
			units[a] = int64(arm.N)
		}
		out.PeriodUnits = append(out.PeriodUnits, units)
	}
	for _, c := range banditCosts(e, cells) {
		out.Spend += c
	}
	if !e.StartedAt.IsZero() {
		end := now
		if !e.EndedAt.IsZero() && e.EndedAt.Before(end) {
			end = e.EndedAt
		}
		out.PacingTarget = e.Allocation.PacingLine(end.Sub(e.StartedAt))
	}
	for a, v := range e.Variants {
		est := BanditEstimate{Variant: v.Key, Mean: bandit.PeriodWeightedMean(per, a, banditZ)}
		if a > 0 {
			eff := bandit.PeriodWeighted(per, a, banditZ)
			est.Effect = &eff
		}
		out.Estimates = append(out.Estimates, est)
	}
	return out, nil
}

// BanditReport returns the bandit section of experiment key's report as
// of now (the per-period weighted estimates, the weight history and the
// spend against the pacing line) without the rest of the report; nil when
// the experiment is not a bandit.
func (s *Service) BanditReport(ctx context.Context, key string) (*BanditReport, error) {
	e, err := s.store.GetExperiment(ctx, key)
	if err != nil {
		return nil, err
	}
	out, err := s.banditReport(ctx, e, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("bandit report %s: %w", key, err)
	}
	return out, nil
}
