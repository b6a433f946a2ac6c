package storetest

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testOrderRollups checks the order rollups (unit_orders, variant_orders)
// that ChannelCredit and OrderValues read, against a recomputation in this
// test from the raw events ingested (rawOrders), after every batch of a
// stream that brings, in random batches and order: conversions before
// their unit's exposure, conversions after the attribution window, orders
// with one or two refunds (some arriving before their order), conversions
// with and without their own channel, exposures delivered late that move a
// unit's first exposure earlier (its variant, channel and window with it),
// later exposures of another variant (multiple-exposed units), and
// batches of exposures only (the exposures' own ingest path). Then it
// erases two units and checks again, and CheckRollups / RecomputeRollups
// agree.
func testOrderRollups(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			s := newStore(t)
			createExp(t, s, "ord", 24*time.Hour)
			stream := append(orderStream(seed), scriptedOrders()...)
			var stored []experiments.Event
			for i, batch := range stream {
				ingest(t, s, batch)
				stored = append(stored, batch...)
				checkOrderRollups(t, s, fmt.Sprintf("after batch %d", i), stored)
			}
			svc := experiments.NewService(s, nil)
			for _, u := range []string{"u3", "u7"} {
				_, err := svc.EraseCustomer(ctx(t), rightsAdmin, u)
				must(t, err)
				stored = slices.DeleteFunc(stored, func(e experiments.Event) bool { return e.UnitID == u })
			}
			checkOrderRollups(t, s, "after erasure", stored)
			checkRollups(t, s)
			checkOrderRollups(t, s, "after RecomputeRollups", stored)
		})
	}
}

// scriptedOrders are batches that bring each case of testOrderRollups for
// sure, on units with orders already: a later exposure of another variant
// alone and with a conversion (the two ingest paths), an earlier exposure
// of another variant and channel alone and with a conversion, and a refund
// before its order.
func scriptedOrders() [][]experiments.Event {
	h := time.Hour
	var setup []experiments.Event
	for _, u := range []string{"m1", "m2", "e1", "e2"} {
		setup = append(setup, exposure("x-"+u, u, "ord", "control", 10*h, nil, "email"),
			conversion("c-"+u, u, "purchase", 12*h, 700, nil), conversion("c2-"+u, u, "purchase", 20*h, 900, nil))
	}
	return [][]experiments.Event{
		setup,
		{exposure("xl-m1", "m1", "ord", "treat", 11*h, nil, "")},
		{exposure("xl-m2", "m2", "ord", "treat", 11*h, nil, ""), conversion("c3-m2", "m2", "purchase", 13*h, 300, nil)},
		{exposure("xe-e1", "e1", "ord", "treat", h, nil, "push")},
		{exposure("xe-e2", "e2", "ord", "control", h, nil, "push"), conversion("c3-e2", "e2", "subscribe", 5*h, 300, nil)},
		{exposure("x-r1", "r1", "ord", "treat", h, nil, ""), refund("f-r1", "r1", "o-c-r1", 5*h, 200)},
		{conversion("c-r1", "r1", "purchase", 3*h, 500, nil)},
	}
}

// orderStream is the event stream of testOrderRollups in batches.
func orderStream(seed uint64) [][]experiments.Event {
	r := rand.New(rand.NewPCG(seed, 17))
	h := time.Hour
	channels := []string{"", "", "email", "push"}
	var evs []experiments.Event
	for u := 0; u < 24; u++ {
		unit := fmt.Sprint("u", u)
		variant := []string{"control", "treat"}[u%2]
		first := time.Duration(10+r.IntN(10)) * h
		evs = append(evs, exposure(fmt.Sprintf("x%d", u), unit, "ord", variant, first, nil, channels[r.IntN(4)]))
		switch r.IntN(4) {
		case 0: // a late-delivered earlier exposure, maybe of the other variant
			v := variant
			if r.IntN(2) == 0 {
				v = []string{"treat", "control"}[u%2]
			}
			evs = append(evs, exposure(fmt.Sprintf("xe%d", u), unit, "ord", v, first-time.Duration(1+r.IntN(8))*h, nil, channels[r.IntN(4)]))
		case 1: // a later exposure of the other variant
			evs = append(evs, exposure(fmt.Sprintf("xl%d", u), unit, "ord", []string{"treat", "control"}[u%2], first+h, nil, ""))
		}
		for k := 0; k < r.IntN(4); k++ {
			name := "purchase"
			if r.IntN(5) == 0 {
				name = "subscribe"
			}
			// From before any exposure to after the window.
			at := time.Duration(r.IntN(40)) * h
			c := conversion(fmt.Sprintf("c%d-%d", u, k), unit, name, at, int64(100*(1+r.IntN(6))), nil)
			c.Channel = channels[r.IntN(4)]
			evs = append(evs, c)
			for j := 0; j < r.IntN(3); j++ {
				amount := int64(50 * r.IntN(3)) // 0 refunds all of it
				evs = append(evs, refund(fmt.Sprintf("r%d-%d-%d", u, k, j), unit, c.OrderID, at+time.Duration(1+r.IntN(5))*h, amount))
			}
		}
	}
	r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	var out [][]experiments.Event
	for len(evs) > 0 {
		var batch []experiments.Event
		if r.IntN(3) == 0 { // exposures only
			for i := 0; i < len(evs) && len(batch) < 4; {
				if evs[i].Type == experiments.EventExposure {
					batch = append(batch, evs[i])
					evs = slices.Delete(evs, i, i+1)
					continue
				}
				i++
			}
		}
		if len(batch) == 0 {
			n := min(1+r.IntN(6), len(evs))
			batch, evs = evs[:n:n], evs[n:]
		}
		out = append(out, batch)
	}
	return out
}

// checkOrderRollups compares the channel credit and the order values of
// experiment "ord", both ways of counting multiple-exposed units, with
// rawOrders over the events stored.
func checkOrderRollups(t *testing.T, s experiments.Store, when string, stored []experiments.Event) {
	t.Helper()
	ranks := func(n int64) []int64 { return []int64{n, 1, (n + 1) / 2, max(n-1, 1)} }
	for _, mode := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
		q := experiments.StatsQuery{Experiment: "ord", MultipleExposure: mode}
		orders := rawOrders(stored, 24*time.Hour, mode == experiments.MultipleFirst)
		credit, err := s.(experiments.ChannelStore).ChannelCredit(ctx(t), q)
		must(t, err)
		equalJSON(t, when+": channel credit "+string(mode), credit, rawChannelCredit(orders))
		values, err := s.(experiments.OrderValueStore).OrderValues(ctx(t), q, "purchase", ranks)
		must(t, err)
		equalJSON(t, when+": order values "+string(mode), values, rawOrderValues(orders, "purchase", ranks))
	}
}

// rawOrder is an attributed conversion as the report counts it.
type rawOrder struct {
	variant, metric, channel string
	value                    int64
}

// rawOrders recomputes the attributed conversions of the analysed units
// (all exposed units with first, else those exposed to one variant) from
// the events: a unit's first exposure is its least (ts, ID); a conversion
// counts from it to the end of the window; a refund (same unit and order,
// at or after the order) takes back its revenue, or all of it without
// one; the channel is the conversion's, else its unit's, else NoSlice.
func rawOrders(evs []experiments.Event, window time.Duration, first bool) []rawOrder {
	type unit struct {
		first    *experiments.Event
		variants map[string]bool
	}
	units := map[string]*unit{}
	for i := range evs {
		e := &evs[i]
		if e.Type != experiments.EventExposure {
			continue
		}
		u := units[e.UnitID]
		if u == nil {
			u = &unit{variants: map[string]bool{}}
			units[e.UnitID] = u
		}
		u.variants[e.Variant] = true
		if u.first == nil || e.Timestamp.Before(u.first.Timestamp) || e.Timestamp.Equal(u.first.Timestamp) && e.ID < u.first.ID {
			u.first = e
		}
	}
	var out []rawOrder
	for _, c := range evs {
		u := units[c.UnitID]
		if c.Type != experiments.EventConversion || u == nil || !first && len(u.variants) > 1 ||
			c.Timestamp.Before(u.first.Timestamp) || c.Timestamp.After(u.first.Timestamp.Add(window)) {
			continue
		}
		value := c.Revenue
		if c.OrderID != "" && c.Name != experiments.RefundName {
			for _, f := range evs {
				if f.Type == experiments.EventConversion && f.Name == experiments.RefundName && f.UnitID == c.UnitID &&
					f.OrderID == c.OrderID && !f.Timestamp.Before(c.Timestamp) {
					value -= cmp.Or(f.Revenue, c.Revenue)
				}
			}
		}
		out = append(out, rawOrder{variant: u.first.Variant, metric: c.Name,
			channel: cmp.Or(c.Channel, u.first.Channel, experiments.NoSlice), value: max(value, 0)})
	}
	return out
}

// rawChannelCredit sums orders per channel, variant and metric, in that
// order.
func rawChannelCredit(orders []rawOrder) []experiments.ChannelCredit {
	out := []experiments.ChannelCredit{}
	for _, o := range orders {
		i := slices.IndexFunc(out, func(c experiments.ChannelCredit) bool {
			return c.Channel == o.channel && c.Variant == o.variant && c.Metric == o.metric
		})
		if i < 0 {
			out = append(out, experiments.ChannelCredit{Channel: o.channel, Variant: o.variant, Metric: o.metric})
			i = len(out) - 1
		}
		out[i].Conversions++
		out[i].Revenue += float64(o.value)
	}
	slices.SortFunc(out, func(a, b experiments.ChannelCredit) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Variant, b.Variant), cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// rawOrderValues sorts each variant's values of metric and picks the
// ranks.
func rawOrderValues(orders []rawOrder, metric string, ranks func(n int64) []int64) []experiments.VariantOrderValues {
	values := map[string][]float64{}
	for _, o := range orders {
		if o.metric == metric {
			values[o.variant] = append(values[o.variant], float64(o.value))
		}
	}
	out := []experiments.VariantOrderValues{}
	for _, v := range slices.Sorted(maps.Keys(values)) {
		xs := values[v]
		slices.Sort(xs)
		vo := experiments.VariantOrderValues{Variant: v, N: int64(len(xs)), Ranks: ranks(int64(len(xs)))}
		for _, k := range vo.Ranks {
			vo.Values = append(vo.Values, xs[k-1])
		}
		out = append(out, vo)
	}
	return out
}

// IngestOrderStream creates experiment "ord" in s and ingests the stream of
// testOrderRollups (seed 1) into it, for an upgrade test: it returns the
// events for CheckOrderRollups.
func IngestOrderStream(t *testing.T, s experiments.Store) []experiments.Event {
	t.Helper()
	createExp(t, s, "ord", 24*time.Hour)
	var stored []experiments.Event
	for _, batch := range append(orderStream(1), scriptedOrders()...) {
		ingest(t, s, batch)
		stored = append(stored, batch...)
	}
	return stored
}

// CheckOrderRollups checks the channel credit and order values of
// IngestOrderStream's experiment against the recomputation from the
// events stored, and that CheckRollups finds no difference (after an
// upgrade that filled the order rollups from the stored events).
func CheckOrderRollups(t *testing.T, s experiments.Store, stored []experiments.Event) {
	t.Helper()
	checkOrderRollups(t, s, "after the upgrade", stored)
	if rm, ok := s.(RollupMaintainer); ok {
		diffs, err := rm.CheckRollups(ctx(t))
		must(t, err)
		if len(diffs) > 0 {
			t.Fatalf("CheckRollups after the upgrade: %v", diffs)
		}
	}
}
