package experiments_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// banditClock is a settable clock for a Service.
type banditClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *banditClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *banditClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var banditStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// banditFixture starts a bandit experiment "bandit-sale" (control,
// ten_off, twenty_off at equal weights; periods of 6h) over a fresh SQLite
// file, with the Service's clock at its start.
func banditFixture(t *testing.T, alloc experiments.Allocation) (*experiments.Service, *sqlite.Store, *banditClock) {
	t.Helper()
	svc, st := sqliteService(t)
	clock := &banditClock{t: banditStart}
	svc.SetClock(clock.now)
	e := specExperiment("bandit-sale", "")
	e.Variants = append(e.Variants, experiments.Variant{Key: "twenty_off",
		Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 20}})
	for i := range e.Variants {
		e.Variants[i].Weight = 1.0 / 3
	}
	e.Allocation = alloc
	startExperiment(t, svc, e)
	return svc, st, clock
}

// banditTraffic stores n units per variant exposed at `at`, each buying
// once a minute later: revenue base + lift of the variant + a spread of
// ±50, promotion cost cost[variant].
func banditTraffic(t *testing.T, svc *experiments.Service, clock *banditClock, at time.Time, prefix string, n int, net map[string]int64, cost map[string]int64) {
	t.Helper()
	var evs []experiments.Event
	for v, m := range net {
		for i := range n {
			unit := fmt.Sprintf("%s-%s-%d", prefix, v, i)
			c := cost[v]
			evs = append(evs,
				experiments.Event{ID: "x-" + unit, Type: experiments.EventExposure, UnitID: unit, Timestamp: at,
					Experiment: "bandit-sale", Variant: v},
				experiments.Event{ID: "c-" + unit, Type: experiments.EventConversion, UnitID: unit, Timestamp: at.Add(time.Minute),
					Name: "purchase", Revenue: m + c + int64(i%3-1)*50, PromotionCost: &c, Currency: "KRW", OrderID: "o-" + unit})
		}
	}
	clock.set(at.Add(2 * time.Minute))
	out, err := svc.IngestEvents(context.Background(), specSDK, evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status == experiments.EventRejected {
			t.Fatalf("event %s rejected: %v", o.EventID, o.Err)
		}
	}
}

func weightsOf(t *testing.T, svc *experiments.Service) map[string]float64 {
	t.Helper()
	e, err := svc.GetExperiment(context.Background(), "bandit-sale")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, v := range e.Variants {
		out[v.Key] = v.Weight
	}
	return out
}

// TestUpdateBandit drives the updater over three periods: the first pass
// stores period 0 with the initial weights; at the boundary the period's
// weights follow the arms' net revenue (the clearly best arm takes almost
// all, the others keep the minimum weight) and become the experiment's
// weights without a new bucket version; passes within a period change
// nothing; two replicas updating one period at once store one row.
func TestUpdateBandit(t *testing.T) {
	ctx := context.Background()
	alloc := experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * time.Hour, MinWeight: 0.05}
	svc, st, clock := banditFixture(t, alloc)
	first, err := svc.UpdateBandit(ctx, "bandit-sale")
	if err != nil || first == nil || first.Period != 0 || math.Abs(first.Weights[1].Weight-1.0/3) > 1e-12 {
		t.Fatalf("first pass: %+v, %v", first, err)
	}
	banditTraffic(t, svc, clock, banditStart.Add(time.Hour), "p0", 40,
		map[string]int64{"control": 1000, "ten_off": 1100, "twenty_off": 1600}, map[string]int64{"ten_off": 100, "twenty_off": 200})

	clock.set(banditStart.Add(6*time.Hour + time.Second))
	replica := experiments.NewService(st, nil)
	replica.SetClock(clock.now)
	var wg sync.WaitGroup
	rows := make([]*experiments.BanditPeriod, 2)
	errs := make([]error, 2)
	for i, s := range []*experiments.Service{svc, replica} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i], errs[i] = s.UpdateBandit(ctx, "bandit-sale")
		}()
	}
	wg.Wait()
	for i := range rows {
		if errs[i] != nil || rows[i] == nil || rows[i].Period != 1 {
			t.Fatalf("replica %d: %+v, %v", i, rows[i], errs[i])
		}
	}
	hist, err := st.BanditPeriods(ctx, "bandit-sale")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %+v, %v: want periods 0 and 1", hist, err)
	}
	w := weightsOf(t, svc)
	if w["control"] != 0.05 || w["ten_off"] != 0.05 || math.Abs(w["twenty_off"]-0.9) > 1e-12 {
		t.Errorf("weights after period 0: %v, want the best arm 0.9 and the others at the floor", w)
	}
	if hist[1].Units != 120 || hist[1].Weights[2].ProbBest < 0.999 || !hist[1].StartsAt.Equal(banditStart.Add(6*time.Hour)) {
		t.Errorf("period 1 row %+v", hist[1])
	}
	if e, _ := svc.GetExperiment(ctx, "bandit-sale"); e.BucketVersion != 1 {
		t.Errorf("bucket version %d after an update, want 1 (sticky units keep their variant)", e.BucketVersion)
	}

	// Within the period nothing changes; the next boundary adds period 2.
	clock.set(banditStart.Add(11 * time.Hour))
	if r, err := svc.UpdateBandit(ctx, "bandit-sale"); err != nil || r.Period != 1 {
		t.Fatalf("pass within period 1: %+v, %v", r, err)
	}
	clock.set(banditStart.Add(12 * time.Hour))
	if n, err := svc.UpdateBandits(ctx); err != nil || n != 1 {
		t.Fatalf("UpdateBandits: %d, %v", n, err)
	}
	if hist, _ = st.BanditPeriods(ctx, "bandit-sale"); len(hist) != 3 || hist[2].Period != 2 {
		t.Fatalf("history after 12h: %+v", hist)
	}
}

// TestBanditPacing: with a budget whose pacing line the best arm's demand
// would overrun, the promotion arms are scaled by the pacing factor and
// control takes the rest; the row records spend and the pacing line.
func TestBanditPacing(t *testing.T) {
	ctx := context.Background()
	// Budget 36000 over 24h: the line is 9000 per 6h period. Period 0
	// spends 40×100 + 40×200 = 12000 (no data to pace it on).
	alloc := experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * time.Hour, MinWeight: 0.05,
		Budget: 36000, Flight: 24 * time.Hour}
	svc, _, clock := banditFixture(t, alloc)
	if _, err := svc.UpdateBandit(ctx, "bandit-sale"); err != nil {
		t.Fatal(err)
	}
	banditTraffic(t, svc, clock, banditStart.Add(time.Hour), "p0", 40,
		map[string]int64{"control": 1000, "ten_off": 1100, "twenty_off": 1600}, map[string]int64{"ten_off": 100, "twenty_off": 200})
	clock.set(banditStart.Add(6 * time.Hour))
	row, err := svc.UpdateBandit(ctx, "bandit-sale")
	if err != nil {
		t.Fatal(err)
	}
	// Unpaced weights 0.05, 0.05, 0.9 would spend 120 × (0.05×100 +
	// 0.9×200) = 22200 next period; the line at 12h allows 18000 − 12000
	// = 6000: f = 6000/22200.
	f := 6000.0 / 22200
	if row.Spend != 12000 || row.PacingTarget != 9000 || math.Abs(row.PacingFactor-f) > 1e-12 {
		t.Errorf("row spend %g target %g factor %g, want 12000, 9000, %g", row.Spend, row.PacingTarget, row.PacingFactor, f)
	}
	w := weightsOf(t, svc)
	if math.Abs(w["ten_off"]-0.05*f) > 1e-12 || math.Abs(w["twenty_off"]-0.9*f) > 1e-12 || math.Abs(w["control"]-(1-0.95*f)) > 1e-12 {
		t.Errorf("paced weights %v", w)
	}
}

// TestBanditAssignmentSticky: assignment is deterministic per unit within
// a period, a unit keeps its variant when the weights move, and new units
// follow the new weights.
func TestBanditAssignmentSticky(t *testing.T) {
	ctx := context.Background()
	alloc := experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * time.Hour, MinWeight: 0.05}
	svc, _, clock := banditFixture(t, alloc)
	if _, err := svc.UpdateBandit(ctx, "bandit-sale"); err != nil {
		t.Fatal(err)
	}
	assignAll := func(prefix string, n int) map[string]string {
		out := map[string]string{}
		for i := range n {
			unit := fmt.Sprintf("%s%d", prefix, i)
			got, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit, Experiments: []string{"bandit-sale"}})
			if err != nil || len(got) != 1 || !got[0].InExperiment {
				t.Fatalf("Assign(%s): %+v, %v", unit, got, err)
			}
			out[unit] = got[0].Variant
		}
		return out
	}
	before := assignAll("s", 300)
	if again := assignAll("s", 300); fmt.Sprint(again) != fmt.Sprint(before) {
		t.Fatal("a unit's variant changed within a period")
	}
	counts := map[string]int{}
	for _, v := range before {
		counts[v]++
	}
	if counts["control"] < 60 || counts["twenty_off"] < 60 {
		t.Fatalf("period 0 split %v, want about a third each", counts)
	}
	banditTraffic(t, svc, clock, banditStart.Add(time.Hour), "p0", 40,
		map[string]int64{"control": 1000, "ten_off": 1100, "twenty_off": 1600}, map[string]int64{"ten_off": 100, "twenty_off": 200})
	clock.set(banditStart.Add(6 * time.Hour))
	if _, err := svc.UpdateBandit(ctx, "bandit-sale"); err != nil {
		t.Fatal(err)
	}
	if after := assignAll("s", 300); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("units assigned in period 0 changed variant when the weights moved")
	}
	fresh := map[string]int{}
	for _, v := range assignAll("n", 300) {
		fresh[v]++
	}
	// Weights 0.05/0.05/0.9: 270 of 300 expected on twenty_off (sd ≈ 5).
	if fresh["twenty_off"] < 240 {
		t.Errorf("new units' split %v, want about 90%% twenty_off", fresh)
	}
}
