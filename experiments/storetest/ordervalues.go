package storetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testOrderValues plants orders per variant and checks the order values
// the store returns at chosen ranks against the planted values sorted in
// the test. Besides plain orders: a unit with two orders (both count), a
// partly refunded order (its net value counts), an order after the
// attribution window and a conversion of another name (neither counts),
// and a unit exposed to both variants (counted only with MultipleFirst).
func testOrderValues(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	ov, ok := s.(experiments.OrderValueStore)
	if !ok {
		t.Fatalf("%T has no OrderValues", s)
	}
	createExp(t, s, "ov", 24*time.Hour)
	h := time.Hour
	var evs []experiments.Event
	planted := map[string][]float64{}
	for i := 0; i < 41; i++ {
		for _, v := range []string{"control", "treat"} {
			u := fmt.Sprintf("%s-%d", v, i)
			value := int64((i*17)%41+1) * 100 // a permutation of 100..4100
			if v == "treat" {
				value = value*3/2 + 7
			}
			evs = append(evs, exposure("x-"+u, u, "ov", v, h, nil, ""), conversion("p-"+u, u, "purchase", 2*h, value, nil))
			planted[v] = append(planted[v], float64(value))
		}
	}
	evs = append(evs,
		conversion("p2-control-0", "control-0", "purchase", 3*h, 999, nil), // a second order
		conversion("late-control-1", "control-1", "purchase", 30*h, 50, nil),
		conversion("other-control-2", "control-2", "subscribe", 2*h, 60, nil),
		refund("r-treat-3", "treat-3", "o-p-treat-3", 4*h, 1000),
		exposure("x-m", "m", "ov", "treat", h, nil, ""), exposure("x-m2", "m", "ov", "control", 2*h, nil, ""),
		conversion("p-m", "m", "purchase", 3*h, 1, nil))
	planted["control"] = append(planted["control"], 999)
	// treat-3's order: (3·17 mod 41 + 1)·100 = 1100, ·3/2 + 7 = 1657; a refund of 1000 leaves 657.
	for i, x := range planted["treat"] {
		if x == 1657 {
			planted["treat"][i] = 657
		}
	}
	ingest(t, s, evs)
	// Rank 5 (6 with MultipleFirst) of treat is the refunded order (657), rank 1 would be the late
	// order (50) or the other conversion (60) if they counted.
	ranks := func(n int64) []int64 { return []int64{1, 2, 5, 6, n / 2, (n*9 + 9) / 10, n - 1, n} }
	for _, c := range []struct {
		mode  experiments.MultipleExposure
		extra float64 // the multiple-exposed unit's order, counted in treat
	}{{experiments.MultipleExclude, 0}, {experiments.MultipleFirst, 1}} {
		t.Run(string(c.mode), func(t *testing.T) {
			want := map[string][]float64{}
			for v, xs := range planted {
				want[v] = append([]float64{}, xs...)
			}
			if c.extra != 0 {
				want["treat"] = append(want["treat"], c.extra)
			}
			got, err := ov.OrderValues(ctx(t), experiments.StatsQuery{Experiment: "ov", MultipleExposure: c.mode}, "purchase", ranks)
			must(t, err)
			var exp []experiments.VariantOrderValues
			for _, v := range []string{"control", "treat"} {
				xs := want[v]
				sort.Float64s(xs)
				n := int64(len(xs))
				r := ranks(n)
				vals := make([]float64, len(r))
				for i, k := range r {
					vals[i] = xs[k-1]
				}
				exp = append(exp, experiments.VariantOrderValues{Variant: v, N: n, Ranks: r, Values: vals})
			}
			equalJSON(t, "order values", got, exp)
		})
	}
	t.Run("NoOrders", func(t *testing.T) {
		got, err := ov.OrderValues(ctx(t), experiments.StatsQuery{Experiment: "ov"}, "nothing", ranks)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("got %+v, want none", got)
		}
	})
}
