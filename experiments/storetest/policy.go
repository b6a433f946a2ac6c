package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// policyFixture is the data set of testPolicy. Experiment "pol", window
// 24h, variants control and treat; features tier and channel.
//
//	p1 control, tier gold, push: purchases at +1h (1000, cost 0) and +2d
//	   (500, outside the window, inside 30 days)
//	p2 control, tier silver, no channel: nothing
//	p3 treat, tier gold, push: a purchase at +2h (2000, cost 200) and a
//	   signup at +1h (another metric)
//	p4 treat, no tier, email, exposed twice: a purchase at +20d (3000,
//	   cost 300: inside 30 days only)
//	p5 treat then control: multiple exposure, excluded
//
// The folds (K = 3) are FNV-1a 64 of "policy-fold:" + the unit ID mod 3,
// computed by hand (python): p1 2, p2 1, p3 0, p4 2.
func policyFixture() []experiments.Event {
	h, d := time.Hour, 24*time.Hour
	cost := func(c int64) *int64 { return &c }
	return []experiments.Event{
		exposure("pl-p1", "p1", "pol", "control", 0, map[string]string{"tier": "gold"}, "push"),
		conversion("pl-p1-1", "p1", "purchase", 1*h, 1000, cost(0)),
		conversion("pl-p1-2", "p1", "purchase", 2*d, 500, cost(0)),
		exposure("pl-p2", "p2", "pol", "control", 0, map[string]string{"tier": "silver"}, ""),
		exposure("pl-p3", "p3", "pol", "treat", 0, map[string]string{"tier": "gold"}, "push"),
		conversion("pl-p3-1", "p3", "purchase", 2*h, 2000, cost(200)),
		conversion("pl-p3-2", "p3", "signup", 1*h, 0, nil),
		exposure("pl-p4", "p4", "pol", "treat", 0, nil, "email"),
		exposure("pl-p4b", "p4", "pol", "treat", 1*h, nil, "email"),
		conversion("pl-p4-1", "p4", "purchase", 20*d, 3000, cost(300)),
		exposure("pl-p5", "p5", "pol", "treat", 0, nil, ""),
		exposure("pl-p5b", "p5", "pol", "control", 1*h, nil, ""),
		conversion("pl-p5-1", "p5", "purchase", 2*h, 999, cost(0)),
	}
}

// testPolicy checks PolicyStats (PolicyStore) against hand-computed
// per-cell, per-fold sums, within the attribution window and over a
// 30-day horizon, with a per-exposure cost.
func testPolicy(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	ps, ok := s.(experiments.PolicyStore)
	if !ok {
		t.Fatalf("%T does not implement experiments.PolicyStore", s)
	}
	createExp(t, s, "pol", 24*time.Hour)
	ingest(t, s, policyFixture())
	for _, u := range []struct {
		unit string
		fold int
	}{{"p1", 2}, {"p2", 1}, {"p3", 0}, {"p4", 2}} {
		if got := experiments.PolicyFold(u.unit, 3); got != u.fold {
			t.Fatalf("PolicyFold(%s, 3) = %d, want %d", u.unit, got, u.fold)
		}
	}
	type pc = experiments.PolicyCell
	none := experiments.NoSlice
	cell := func(seg []string, variant string, fold int, conv int64, rev, cost float64) pc {
		net := rev - cost
		return pc{Segment: seg, Variant: variant, Fold: fold, Units: 1, Converted: conv,
			Revenue: rev, RevenueSquares: rev * rev, Net: net, NetSquares: net * net, Cost: cost}
	}
	for _, tc := range []struct {
		name string
		q    experiments.PolicyQuery
		want []pc
	}{
		{"window", experiments.PolicyQuery{},
			[]pc{
				cell([]string{none, "email"}, "treat", 2, 0, 0, 0),
				cell([]string{"gold", "push"}, "control", 2, 1, 1000, 0),
				cell([]string{"gold", "push"}, "treat", 0, 1, 2000, 200),
				cell([]string{"silver", none}, "control", 1, 0, 0, 0),
			}},
		{"per-exposure cost", experiments.PolicyQuery{ExposureCosts: map[string]int64{"treat": 7}},
			[]pc{
				cell([]string{none, "email"}, "treat", 2, 0, 0, 14),
				cell([]string{"gold", "push"}, "control", 2, 1, 1000, 0),
				cell([]string{"gold", "push"}, "treat", 0, 1, 2000, 207),
				cell([]string{"silver", none}, "control", 1, 0, 0, 0),
			}},
		{"30 days", experiments.PolicyQuery{Horizon: 30 * 24 * time.Hour},
			[]pc{
				cell([]string{none, "email"}, "treat", 2, 1, 3000, 300),
				cell([]string{"gold", "push"}, "control", 2, 1, 1500, 0),
				cell([]string{"gold", "push"}, "treat", 0, 1, 2000, 200),
				cell([]string{"silver", none}, "control", 1, 0, 0, 0),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Experiment, q.Metric, q.Features, q.Folds = "pol", "purchase", []string{"tier", "channel"}, 3
			got, err := ps.PolicyStats(ctx(t), q)
			must(t, err)
			equalJSON(t, "cells", got, tc.want)
		})
	}
	t.Run("p1 and p2 in one cell", func(t *testing.T) {
		// One feature, one fold: the control units of the whole test add up.
		got, err := ps.PolicyStats(ctx(t), experiments.PolicyQuery{Experiment: "pol", Metric: "purchase", Folds: 1})
		must(t, err)
		equalJSON(t, "cells", got, []pc{
			{Segment: []string{}, Variant: "control", Units: 2, Converted: 1, Revenue: 1000, RevenueSquares: 1e6, Net: 1000, NetSquares: 1e6},
			{Segment: []string{}, Variant: "treat", Units: 2, Converted: 1, Revenue: 2000, RevenueSquares: 4e6, Net: 1800, NetSquares: 1800 * 1800, Cost: 200},
		})
	})
}
