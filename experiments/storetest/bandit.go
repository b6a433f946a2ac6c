package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testBandit checks the bandit capability (BanditStore): the allocation
// setting round-trips, a period's row is written once (a second writer's
// row is ignored), and BanditStats folds the analysed units by the period
// of their first exposure, with hand-computed sums.
func testBandit(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	bs, ok := s.(experiments.BanditStore)
	if !ok {
		t.Fatalf("%T does not implement experiments.BanditStore", s)
	}
	h := time.Hour
	e := &experiments.Experiment{Key: "bnd", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5}, {Key: "treat", Weight: 0.5}},
		Allocation: experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * h, MinWeight: 0.1,
			Budget: 90000, Flight: 48 * h}}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	e.CreatedAt, e.UpdatedAt, e.StartedAt = t0, t0, t0
	must(t, s.CreateExperiment(ctx(t), e))
	got, err := s.GetExperiment(ctx(t), "bnd")
	must(t, err)
	if !reflect.DeepEqual(got.Allocation, e.Allocation) || !got.Sticky {
		t.Errorf("allocation %+v sticky %v, want %+v and sticky", got.Allocation, got.Sticky, e.Allocation)
	}
	fixed := createExp(t, s, "fixed", 24*h)
	if got, err := s.GetExperiment(ctx(t), fixed.Key); err != nil || got.Allocation != (experiments.Allocation{}) {
		t.Errorf("fixed experiment's allocation %+v (%v)", got.Allocation, err)
	}

	row := func(p int, w float64) *experiments.BanditPeriod {
		return &experiments.BanditPeriod{Experiment: "bnd", Period: p, StartsAt: t0.Add(time.Duration(p) * 6 * h),
			Weights: []experiments.BanditWeight{{Variant: "control", Weight: 1 - w, ProbBest: 0.25}, {Variant: "treat", Weight: w, ProbBest: 0.75}},
			Units:   int64(10 * p), Spend: 123.5, PacingTarget: 125, PacingFactor: 0.5, CreatedAt: t0.Add(time.Duration(p)*6*h + time.Minute)}
	}
	for _, tc := range []struct {
		name string
		row  *experiments.BanditPeriod
		want bool
	}{{"period 1", row(1, 0.7), true}, {"period 0", row(0, 0.5), true}, {"period 1 again", row(1, 0.9), false}} {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := bs.InsertBanditPeriod(ctx(t), tc.row)
			must(t, err)
			if ins != tc.want {
				t.Errorf("inserted %v, want %v", ins, tc.want)
			}
		})
	}
	rows, err := bs.BanditPeriods(ctx(t), "bnd")
	must(t, err)
	if len(rows) != 2 || rows[0].Period != 0 || rows[1].Period != 1 {
		t.Fatalf("rows %+v, want periods 0 and 1", rows)
	}
	if want := *row(1, 0.7); !reflect.DeepEqual(rows[1], want) {
		t.Errorf("period 1 %+v, want the first writer's %+v", rows[1], want)
	}

	// b1 control in period 0 (purchase 1000, cost 0), b2 treat in period 0
	// (purchase 2000, cost 300), b3 treat in period 1 (+7h: purchase 500,
	// cost 100; exposed again at +8h), b4 control in period 1 with no
	// purchase, b5 treat then control (multiple: excluded), b6 treat in
	// period 1 with a signup only.
	cost := func(c int64) *int64 { return &c }
	ingest(t, s, []experiments.Event{
		exposure("bd-b1", "b1", "bnd", "control", 1*h, nil, ""),
		conversion("bd-b1-1", "b1", "purchase", 2*h, 1000, cost(0)),
		exposure("bd-b2", "b2", "bnd", "treat", 5*h, nil, ""),
		conversion("bd-b2-1", "b2", "purchase", 5*h+time.Minute, 2000, cost(300)),
		exposure("bd-b3", "b3", "bnd", "treat", 7*h, nil, ""),
		exposure("bd-b3b", "b3", "bnd", "treat", 8*h, nil, ""),
		conversion("bd-b3-1", "b3", "purchase", 9*h, 500, cost(100)),
		exposure("bd-b4", "b4", "bnd", "control", 6*h, nil, ""),
		exposure("bd-b5", "b5", "bnd", "treat", 1*h, nil, ""),
		exposure("bd-b5b", "b5", "bnd", "control", 2*h, nil, ""),
		conversion("bd-b5-1", "b5", "purchase", 3*h, 999, cost(0)),
		exposure("bd-b6", "b6", "bnd", "treat", 10*h, nil, ""),
		conversion("bd-b6-1", "b6", "signup", 11*h, 0, nil),
	})
	cells, err := bs.BanditStats(ctx(t), experiments.BanditQuery{Experiment: "bnd", Metric: "purchase",
		Starts: []time.Time{t0, t0.Add(6 * h)}, ExposureCosts: map[string]int64{"treat": 10}})
	must(t, err)
	want := []experiments.BanditCell{
		{Period: 0, Variant: "control", Units: 1, Net: 1000, NetSquares: 1e6, Cost: 0},
		{Period: 0, Variant: "treat", Units: 1, Net: 1690, NetSquares: 1690 * 1690, Cost: 310},
		{Period: 1, Variant: "control", Units: 1},
		// b3: 500 − 100 − 2 exposures × 10 = 380; b6: −10.
		{Period: 1, Variant: "treat", Units: 2, Net: 370, NetSquares: 380*380 + 100, Cost: 130},
	}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("bandit stats\n got %+v\nwant %+v", cells, want)
	}
}
