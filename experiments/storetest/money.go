package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// moneyExperiment is the experiment of testMoney: primary purchase,
// secondary subscribe, guardrail refund, window 24 h.
func moneyExperiment() *experiments.Experiment {
	return &experiments.Experiment{Key: "money", PrimaryMetric: "purchase", SecondaryMetrics: []string{"subscribe"},
		GuardrailMetrics: []string{"refund"}, AttributionWindow: 24 * time.Hour, Variants: []experiments.Variant{
			{Key: "control", Weight: 0.4},
			{Key: "pct", Weight: 0.3, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
			{Key: "ship", Weight: 0.3, Promotion: experiments.Promotion{Type: experiments.PromoFreeShipping, UnitCost: 300}},
		}}
}

// refund is a refund of order (revenue 0: all of it).
func refund(id, unit, order string, at time.Duration, revenue int64) experiments.Event {
	e := conversion(id, unit, experiments.RefundName, at, revenue, nil)
	e.OrderID = order
	return e
}

// moneyKey is a (variant, metric) of the money test.
type moneyKey struct{ variant, metric string }

// moneySums are the figures the money test checks.
type moneySums struct {
	count         float64
	revenue, cost float64
}

// testMoney checks the money rules of docs/report.md on the rollups, the
// as-of recomputation and a full rebuild: refunds reverse their order's
// revenue (partially, in full, several, before or after the order
// arrives, after the window), a discount's cost goes back with a full
// refund while free shipping's stays, conversions of names that are not
// the experiment's primary or secondary metrics and refunds add no cost,
// and the currency of each unit's conversions.
//
//	a pct:  purchase 10000 at +2h, full refund at +3h           → 0, cost 0
//	b pct:  purchase 10000 at +2h, refunds 4000 (+3h), 3000 (+4h) → 3000, cost 1000
//	c ship: purchase 10000 at +2h, full refund at +3h           → 0, cost 300 kept
//	d pct:  gift_card 5000 (no cost), purchase 2000 with its own cost 50,
//	        subscribe 1000 (10% = 100)
//	e pct:  refund at +5h stored before its purchase (10000 at +2h) → 0, cost 0
//	f pct:  purchase 10000 at +2h, full refund at +30h (after the window) → 0, cost 0
//	g control: purchases of 1000 USD and 2000 KRW (mixed currency)
//	h control: a purchase of a refund-free order 4000, and a refund naming
//	        an order it does not have: nothing is reversed
func testMoney(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	if _, ok := s.(experiments.PromotionCostStore); !ok {
		t.Skip("the store derives no promotion costs")
	}
	svc := experiments.NewService(s, nil)
	svc.SetClock(func() time.Time { return t0 })
	must(t, svc.CreateExperiment(ctx(t), experiments.Principal{}, moneyExperiment()))
	_, err := svc.Transition(ctx(t), experiments.Principal{}, "money", experiments.ActionStart)
	must(t, err)
	h := time.Hour
	variant := map[string]string{"a": "pct", "b": "pct", "c": "ship", "d": "pct", "e": "pct", "f": "pct", "g": "control", "h": "control"}
	var first []experiments.Event
	for _, u := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		first = append(first, exposure("x-"+u, u, "money", variant[u], h, nil, ""))
	}
	first = append(first, refund("r-e", "e", "o-p-e", 5*h, 0))
	usd := conversion("p-g1", "g", "purchase", 2*h, 1000, nil)
	usd.Currency = "USD"
	gift := conversion("gc-d", "d", "gift_card", 2*h, 5000, nil)
	second := []experiments.Event{
		conversion("p-a", "a", "purchase", 2*h, 10000, nil), refund("r-a", "a", "o-p-a", 3*h, 0),
		conversion("p-b", "b", "purchase", 2*h, 10000, nil), refund("r-b1", "b", "o-p-b", 3*h, 4000),
		refund("r-b2", "b", "o-p-b", 4*h, 3000),
		conversion("p-c", "c", "purchase", 2*h, 10000, nil), refund("r-c", "c", "o-p-c", 3*h, 0),
		gift, conversion("p-d", "d", "purchase", 2*h, 2000, ptr[int64](50)), conversion("s-d", "d", "subscribe", 2*h, 1000, nil),
		conversion("p-e", "e", "purchase", 2*h, 10000, nil),
		conversion("p-f", "f", "purchase", 2*h, 10000, nil),
		usd, conversion("p-g2", "g", "purchase", 3*h, 2000, nil),
		conversion("p-h", "h", "purchase", 2*h, 4000, nil), refund("r-h", "h", "o-elsewhere", 3*h, 0),
	}
	third := []experiments.Event{refund("r-f", "f", "o-p-f", 30*h, 0)}
	for _, batch := range [][]experiments.Event{first, second, third} {
		ingest(t, s, batch)
	}
	check := func(label string, q experiments.StatsQuery, want map[moneyKey]moneySums) {
		t.Helper()
		got := map[moneyKey]moneySums{}
		for _, m := range stats(t, s, q).Metrics {
			if m.Count > 0 {
				got[moneyKey{m.Variant, m.Metric}] = moneySums{m.Count, m.Revenue, m.Cost}
			}
		}
		equalJSON(t, label, fmtMoney(got), fmtMoney(want))
	}
	all := map[moneyKey]moneySums{
		{"pct", "purchase"}:     {5, 0 + 3000 + 2000 + 0 + 0, 0 + 1000 + 50 + 0 + 0},
		{"pct", "gift_card"}:    {1, 5000, 0},
		{"pct", "subscribe"}:    {1, 1000, 100},
		{"pct", "refund"}:       {4, 4000 + 3000, 0}, // a, b×2, e (f's is after the window)
		{"ship", "purchase"}:    {1, 0, 300},
		{"ship", "refund"}:      {1, 0, 0},
		{"control", "purchase"}: {3, 3000 + 4000, 0},
		{"control", "refund"}:   {1, 0, 0},
	}
	check("rollups", experiments.StatsQuery{Experiment: "money"}, all)
	check("as of the end", experiments.StatsQuery{Experiment: "money", Until: t0.Add(100 * h)}, all)
	// Before the first refund (+2h30): every order counts in full.
	check("as of +2h30", experiments.StatsQuery{Experiment: "money", Until: t0.Add(2*h + 30*time.Minute)}, map[moneyKey]moneySums{
		{"pct", "purchase"}:     {5, 10000 + 10000 + 2000 + 10000 + 10000, 1000 + 1000 + 50 + 1000 + 1000},
		{"pct", "gift_card"}:    {1, 5000, 0},
		{"pct", "subscribe"}:    {1, 1000, 100},
		{"ship", "purchase"}:    {1, 10000, 300},
		{"control", "purchase"}: {2, 1000 + 4000, 0},
	})
	// Currencies per variant, metric and currency: g paid in two.
	cur := map[string]int64{}
	for _, c := range stats(t, s, experiments.StatsQuery{Experiment: "money"}).Currencies {
		cur[c.Variant+"/"+c.Metric+"/"+c.Currency] += c.Units
	}
	equalJSON(t, "currencies", cur, map[string]int64{
		"control/purchase/" + experiments.MixedCurrency: 1, "control/purchase/KRW": 1, "control/refund/": 1,
		"pct/gift_card/KRW": 1, "pct/purchase/KRW": 5, "pct/refund/": 2, "pct/refund/KRW": 1, "pct/subscribe/KRW": 1,
		"ship/purchase/KRW": 1, "ship/refund/": 1,
	})
	// The daily series in one pass counts each refund on its own day, as
	// the recomputation as of each cut-off does.
	if ss, ok := s.(experiments.SeriesStore); ok {
		for _, cuts := range [][]time.Time{{t0.Add(2*h + 30*time.Minute)}, {t0, t0.Add(24 * h), t0.Add(48 * h), t0.Add(100 * h)}} {
			compareSeries(t, s, ss, "money", cuts)
		}
	}
	checkRollups(t, s)
}

// fmtMoney keys m by "variant/metric" for a readable comparison.
func fmtMoney(m map[moneyKey]moneySums) map[string][3]float64 {
	out := map[string][3]float64{}
	for k, v := range m {
		out[k.variant+"/"+k.metric] = [3]float64{v.count, v.revenue, v.cost}
	}
	return out
}
