package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testChannelCredit: a conversion is credited to its own channel when it
// carries one, else to its unit's exposure channel, else to (none); units
// exposed to several variants are left out unless counted in their first.
func testChannelCredit(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s := newStore(t)
	cs, ok := s.(experiments.ChannelStore)
	if !ok {
		t.Fatalf("%T has no ChannelCredit", s)
	}
	createExp(t, s, "chan", 24*time.Hour)
	h := time.Hour
	on := func(e experiments.Event, channel string) experiments.Event { e.Channel = channel; return e }
	ingest(t, s, []experiments.Event{
		exposure("x1", "u1", "chan", "treat", h, nil, "email"),
		on(conversion("c1", "u1", "purchase", 2*h, 1000, nil), "push"),
		conversion("c2", "u1", "purchase", 3*h, 500, nil),
		exposure("x2", "u2", "chan", "control", h, nil, ""),
		conversion("c3", "u2", "purchase", 2*h, 200, nil),
		on(conversion("c4", "u2", "purchase", 3*h, 300, nil), "sms"),
		exposure("x3", "u3", "chan", "treat", h, nil, "email"),
		exposure("x4", "u3", "chan", "control", 2*h, nil, "email"),
		on(conversion("c5", "u3", "purchase", 3*h, 700, nil), "push"),
		on(conversion("c6", "u2", "purchase", 30*h, 900, nil), "push"), // after the window
	})
	for _, c := range []struct {
		mode experiments.MultipleExposure
		want []experiments.ChannelCredit
	}{
		{experiments.MultipleExclude, []experiments.ChannelCredit{
			{Channel: experiments.NoSlice, Variant: "control", Metric: "purchase", Conversions: 1, Revenue: 200},
			{Channel: "email", Variant: "treat", Metric: "purchase", Conversions: 1, Revenue: 500},
			{Channel: "push", Variant: "treat", Metric: "purchase", Conversions: 1, Revenue: 1000},
			{Channel: "sms", Variant: "control", Metric: "purchase", Conversions: 1, Revenue: 300},
		}},
		{experiments.MultipleFirst, []experiments.ChannelCredit{
			{Channel: experiments.NoSlice, Variant: "control", Metric: "purchase", Conversions: 1, Revenue: 200},
			{Channel: "email", Variant: "treat", Metric: "purchase", Conversions: 1, Revenue: 500},
			{Channel: "push", Variant: "treat", Metric: "purchase", Conversions: 2, Revenue: 1700},
			{Channel: "sms", Variant: "control", Metric: "purchase", Conversions: 1, Revenue: 300},
		}},
	} {
		got, err := cs.ChannelCredit(ctx(t), experiments.StatsQuery{Experiment: "chan", MultipleExposure: c.mode})
		must(t, err)
		equalJSON(t, "channel credit "+string(c.mode), got, c.want)
	}
}
