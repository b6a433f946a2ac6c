package experiments_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// The bandit simulation (docs/bandit.md, "What is checked"): simulated
// bandit experiments run through the real service (a SQLite store, the
// SDK config's GrowthBook assignment with sticky bucket docs, event
// ingest, and the updater on a fake clock), each next to a fixed equal
// split (a twin experiment hashed on another seed) that sees the same
// customers.
//
// The world: three arms, control (no promotion), save (100 off) and big
// (200 off). A customer u first seen in period p has net revenue (revenue −
// promotion cost) y_a = base_p + tau_a + e_u + n_ua under arm a, with e_u ~
// N(0, 120²) shared by the arms (the customer's propensity) and n_ua ~
// N(0, 90²); base_p = 2000 + 40p rises while the bandit moves traffic to
// the best arm, which biases the pooled effect upward. Every customer buys
// once (revenue y_a + cost_a, promotion cost cost_a). A tenth of each
// period's traffic are customers of earlier periods coming back: they are
// exposed again (and must get their variant again) but buy nothing more.

var (
	simTau  = []float64{0, 30, 90}
	simCost = []int64{0, 100, 200}
	simArms = []string{"control", "save", "big"}
)

const (
	simEvery = time.Hour
	simBase  = 2000.0
	simDrift = 40.0
)

// simRun is one simulated experiment and its equal-split twin.
type simRun struct {
	key, twin string
	units     int // new customers per period
	// bandit and equal are the total net revenue of the customers under
	// the bandit's and the twin's assignment; pooled are the bandit's
	// per-arm sums for the naive pooled estimate.
	bandit, equal float64
	pooled        [3]struct{ n, sum float64 }
	seen          []simUnit
}

type simUnit struct {
	id      string
	variant string
}

// simEnv is the simulation's service, clock and SDK-side sticky docs.
type simEnv struct {
	t     *testing.T
	svc   *experiments.Service
	clock *banditClock
	docs  *assign.StickyDocs
	start time.Time
	rng   *rand.Rand
}

func simCount(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// create adds a bandit experiment and its twin; budget 0 means unpaced.
func (s *simEnv) create(i, units, periods int, budget int64) *simRun {
	s.t.Helper()
	r := &simRun{key: fmt.Sprintf("sim-%03d", i), twin: fmt.Sprintf("eq-%03d", i), units: units}
	for _, x := range []struct {
		key   string
		alloc experiments.Allocation
	}{
		{r.key, experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: simEvery, MinWeight: 0.05,
			Budget: budget, Flight: time.Duration(periods) * simEvery}},
		{r.twin, experiments.Allocation{}},
	} {
		e := &experiments.Experiment{Key: x.key, PrimaryMetric: "purchase", Coverage: 1, Allocation: x.alloc}
		for a, v := range simArms {
			p := experiments.Promotion{Type: experiments.PromoNone}
			if a > 0 {
				p = experiments.Promotion{Type: experiments.PromoAmountOff, Value: float64(simCost[a]), Currency: "KRW"}
			}
			e.Variants = append(e.Variants, experiments.Variant{Key: v, Weight: 1.0 / 3, Promotion: p})
		}
		e.Variants[2].Weight = 1 - 2.0/3
		startExperiment(s.t, s.svc, e)
	}
	return r
}

// period runs period p of runs: the update at its boundary, then the
// traffic.
func (s *simEnv) period(p int, runs []*simRun) {
	t := s.t
	ctx := context.Background()
	s.clock.set(s.start.Add(time.Duration(p) * simEvery))
	if _, err := s.svc.UpdateBandits(ctx); err != nil {
		t.Fatal(err)
	}
	spec, _, err := s.svc.SDKSpec(ctx, experiments.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	base := simBase + simDrift*float64(p)
	var evs []experiments.Event
	for _, r := range runs {
		step := 40 * time.Minute / time.Duration(r.units)
		for i := range r.units {
			id := fmt.Sprintf("%s-p%d-u%d", r.key, p, i)
			at := s.start.Add(time.Duration(p)*simEvery + 10*time.Minute + time.Duration(i)*step)
			attrs := assign.Attributes{"id": id}
			res, err := spec.RunWith(&assign.Eval{Attributes: attrs, Sticky: s.docs}, r.key)
			if err != nil || !res.InExperiment {
				t.Fatalf("assign %s: %+v, %v", id, res, err)
			}
			twin, err := spec.Run(r.twin, attrs)
			if err != nil || !twin.InExperiment {
				t.Fatalf("assign %s to the twin: %+v, %v", id, twin, err)
			}
			e := 120 * s.rng.NormFloat64()
			var y [3]float64
			for a := range y {
				y[a] = base + simTau[a] + e + 90*s.rng.NormFloat64()
			}
			a, b := res.VariationIndex, twin.VariationIndex
			r.bandit += y[a]
			r.equal += y[b]
			r.pooled[a].n++
			r.pooled[a].sum += y[a]
			r.seen = append(r.seen, simUnit{id, res.VariantKey})
			c := simCost[a]
			evs = append(evs,
				experiments.Event{ID: "x-" + id, Type: experiments.EventExposure, UnitID: id, Timestamp: at, Experiment: r.key, Variant: res.VariantKey},
				experiments.Event{ID: "c-" + id, Type: experiments.EventConversion, UnitID: id, Timestamp: at.Add(time.Minute),
					Name: "purchase", Revenue: int64(math.Round(y[a])) + c, PromotionCost: &c, Currency: "KRW", OrderID: "o-" + id})
		}
		// Returning customers keep their variant whatever the weights.
		for i := 0; i < r.units/10 && p > 0; i++ {
			u := r.seen[s.rng.IntN(len(r.seen)-r.units)]
			res, err := spec.RunWith(&assign.Eval{Attributes: assign.Attributes{"id": u.id}, Sticky: s.docs}, r.key)
			if err != nil || res.VariantKey != u.variant {
				t.Fatalf("returning %s in period %d: %q (%v), want %q", u.id, p, res.VariantKey, err, u.variant)
			}
			evs = append(evs, experiments.Event{ID: fmt.Sprintf("x%d-%s-%d", p, u.id, i), Type: experiments.EventExposure, UnitID: u.id,
				Timestamp: s.start.Add(time.Duration(p)*simEvery + 55*time.Minute), Experiment: r.key, Variant: res.VariantKey})
		}
	}
	s.clock.set(s.start.Add(time.Duration(p)*simEvery + 59*time.Minute))
	for len(evs) > 0 {
		n := min(len(evs), 4000)
		out, err := s.svc.IngestEvents(ctx, specSDK, evs[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Status != experiments.EventAccepted {
				t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
			}
		}
		evs = evs[n:]
	}
}

// TestBanditSimulation runs PROMOLIFT_BANDIT_SIM_RUNS (default 200)
// unpaced bandits of 6 periods × 120 new customers and
// PROMOLIFT_BANDIT_SIM_PACED (default 12) paced ones of 5 periods × 1000
// new customers (`make test-bandit-sim` runs 1000 and 60) and checks:
//
//   - net revenue: every unpaced bandit earns more than its equal-split
//     twin on the same customers (the planted best arm, big, is 60 per
//     customer ahead of the next);
//   - pacing: with a budget equal to the equal split's expected spend
//     (which the bandit's move to the costliest arm would overrun), the
//     spend is within ±10% of the pacing line at every update after
//     period 0 and at the end of the flight;
//   - unbiasedness: the per-period weighted effect of big against control
//     has a mean error within 2 standard errors over the unpaced runs,
//     while the naive pooled difference is biased (more than 2 standard
//     errors), so the world does test the weighting; its 95% CI covers the
//     planted effect in 95% of the runs, within 3 binomial standard errors.
func TestBanditSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("the bandit simulation is not short")
	}
	ctx := context.Background()
	// An in-memory database: the simulation measures the method, not the
	// disk (the stores' durability is tested in storetest).
	st, err := sqlite.Open(ctx, ":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(st, nil)
	start := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	clock := &banditClock{t: start}
	svc.SetClock(clock.now)
	s := &simEnv{t: t, svc: svc, clock: clock, docs: assign.NewStickyDocs(), start: start, rng: rand.New(rand.NewPCG(18, 2026))}

	nRuns, nPaced := simCount("PROMOLIFT_BANDIT_SIM_RUNS", 200), simCount("PROMOLIFT_BANDIT_SIM_PACED", 12)
	const periods, pacedPeriods, units, pacedUnits = 6, 5, 120, 1000
	var runs, paced []*simRun
	for i := range nRuns {
		runs = append(runs, s.create(i, units, periods, 0))
	}
	// The equal split's expected spend per customer is (0 + 100 + 200)/3.
	budget := int64(100 * pacedUnits * pacedPeriods)
	for i := range nPaced {
		paced = append(paced, s.create(nRuns+i, pacedUnits, pacedPeriods, budget))
	}
	for p := range periods {
		batch := runs
		if p < pacedPeriods {
			batch = append(append([]*simRun{}, runs...), paced...)
		}
		s.period(p, batch)
	}
	clock.set(start.Add(periods * simEvery))
	if _, err := svc.UpdateBandits(ctx); err != nil {
		t.Fatal(err)
	}

	// Net revenue against the equal split.
	wins := 0
	var gain float64
	for _, r := range runs {
		if r.bandit > r.equal {
			wins++
		}
		gain += (r.bandit - r.equal) / float64(periods*units)
	}
	// Unbiasedness of the per-period weighted effect; the pooled one.
	truth := simTau[2] - simTau[0]
	var errs, pooled []float64
	covered := 0
	for _, r := range runs {
		rep, err := svc.BanditReport(ctx, r.key)
		if err != nil {
			t.Fatal(err)
		}
		eff := rep.Estimates[2].Effect
		if eff == nil || eff.Periods < 1 {
			t.Fatalf("%s: effect %+v", r.key, eff)
		}
		errs = append(errs, eff.Estimate-truth)
		if eff.CI[0] <= truth && truth <= eff.CI[1] {
			covered++
		}
		pooled = append(pooled, r.pooled[2].sum/r.pooled[2].n-r.pooled[0].sum/r.pooled[0].n-truth)
	}
	meanW, seW := meanSE(errs)
	meanP, seP := meanSE(pooled)
	// Pacing.
	var worst float64
	var worstAt string
	for _, r := range paced {
		rows, err := svc.BanditReport(ctx, r.key)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows.History) < pacedPeriods+1 {
			t.Fatalf("%s: %d periods in the history, want at least %d", r.key, len(rows.History), pacedPeriods+1)
		}
		for _, h := range rows.History[1 : pacedPeriods+1] {
			gap := math.Abs(h.Spend-h.PacingTarget) / h.PacingTarget
			if gap > worst {
				worst, worstAt = gap, fmt.Sprintf("%s period %d: spend %.0f, line %.0f, pacing factor %.3f", r.key, h.Period, h.Spend, h.PacingTarget, h.PacingFactor)
			}
			if gap > 0.10 {
				t.Errorf("%s period %d: spend %.0f against the pacing line %.0f (%.1f%%)", r.key, h.Period, h.Spend, h.PacingTarget, 100*gap)
			}
		}
	}
	coverage := float64(covered) / float64(len(runs))
	t.Logf("%d unpaced runs: the bandit beat the equal split in %d (mean gain %.1f per customer); per-period weighted error %.2f ± %.2f (SE), its 95%% CI covered the truth in %.1f%%; pooled error %.2f ± %.2f; %d paced runs: worst gap to the pacing line %.2f%% (%s)",
		len(runs), wins, gain/float64(len(runs)), meanW, seW, 100*coverage, meanP, seP, len(paced), 100*worst, worstAt)
	// 95% coverage over the runs: a binomial standard error of about 1.5
	// points at 200 runs; the band is 3 of them either side.
	if band := 3 * math.Sqrt(0.95*0.05/float64(len(runs))); math.Abs(coverage-0.95) > band {
		t.Errorf("the 95%% CI of the per-period weighted effect covered the truth in %.1f%% of %d runs", 100*coverage, len(runs))
	}
	if wins != len(runs) {
		t.Errorf("the bandit beat the equal split in %d of %d runs", wins, len(runs))
	}
	if math.Abs(meanW) > 2*seW {
		t.Errorf("per-period weighted effect biased: mean error %.3f, SE %.3f", meanW, seW)
	}
	if meanP < 2*seP {
		t.Errorf("the pooled effect shows no bias (%.3f ± %.3f): the world does not test the weighting", meanP, seP)
	}
}

// meanSE returns the mean of xs and its standard error.
func meanSE(xs []float64) (float64, float64) {
	var s, ss float64
	for _, x := range xs {
		s += x
	}
	n := float64(len(xs))
	m := s / n
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / (n - 1) / n)
}
