package experiments

import "testing"

func TestPromotionCost(t *testing.T) {
	cases := []struct {
		name  string
		p     Promotion
		order int64
		want  int64
	}{
		{"none", Promotion{Type: PromoNone}, 10000, 0},
		{"percent_off 10% of 12345", Promotion{Type: PromoPercentOff, Value: 10}, 12345, 1235}, // 1234.5 → 1235
		{"percent_off 10% of 12344", Promotion{Type: PromoPercentOff, Value: 10}, 12344, 1234},
		{"percent_off 12.5%", Promotion{Type: PromoPercentOff, Value: 12.5}, 8000, 1000},
		{"percent_off 100%", Promotion{Type: PromoPercentOff, Value: 100}, 777, 777},
		{"percent_off zero order", Promotion{Type: PromoPercentOff, Value: 10}, 0, 0},
		{"percent_off huge order", Promotion{Type: PromoPercentOff, Value: 50}, MaxMoney, MaxMoney / 2},
		{"amount_off below order", Promotion{Type: PromoAmountOff, Value: 500}, 3000, 500},
		{"amount_off capped at order", Promotion{Type: PromoAmountOff, Value: 5000}, 3000, 3000},
		{"amount_off rounds value", Promotion{Type: PromoAmountOff, Value: 499.5}, 3000, 500},
		{"cashback 5%", Promotion{Type: PromoCashback, Value: 5}, 20000, 1000},
		{"cashback 3% of 999", Promotion{Type: PromoCashback, Value: 3}, 999, 30}, // 29.97
		{"free_shipping", Promotion{Type: PromoFreeShipping, UnitCost: 300}, 5000, 300},
		{"free_shipping zero order", Promotion{Type: PromoFreeShipping, UnitCost: 300}, 0, 300},
		{"bundle", Promotion{Type: PromoBundle, UnitCost: 1200}, 5000, 1200},
		{"points", Promotion{Type: PromoPoints, Value: 100, UnitCost: 2}, 5000, 200},
		{"points fractional", Promotion{Type: PromoPoints, Value: 3, UnitCost: 1}, 5000, 3},
		{"free_trial", Promotion{Type: PromoFreeTrial, Value: 30, UnitCost: 900}, 0, 900},
		{"per_exposure costs nothing per conversion", Promotion{Type: PromoPercentOff, Value: 10, CostRule: CostPerExposure, UnitCost: 5}, 10000, 0},
		{"fixed costs nothing per conversion", Promotion{Type: PromoFreeShipping, CostRule: CostFixed, UnitCost: 100000}, 10000, 0},
		{"explicit per_redemption", Promotion{Type: PromoCashback, Value: 10, CostRule: CostPerRedemption}, 10000, 1000},
		{"negative order counts as 0", Promotion{Type: PromoAmountOff, Value: 500}, -5, 0},
	}
	for _, c := range cases {
		if got := PromotionCost(c.p, c.order); got != c.want {
			t.Errorf("%s: PromotionCost(%+v, %d) = %d, want %d", c.name, c.p, c.order, got, c.want)
		}
	}
}

func TestIsRedemption(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{Event{Type: EventConversion, Name: "purchase", Revenue: 100}, true},
		{Event{Type: EventConversion, Name: "trial", OrderID: "o1"}, true},
		{Event{Type: EventConversion, Name: "view"}, false},
		{Event{Type: EventExposure}, false},
	} {
		if got := IsRedemption(&c.e); got != c.want {
			t.Errorf("IsRedemption(%+v) = %v", c.e, got)
		}
	}
}
