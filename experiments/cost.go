package experiments

import (
	"context"
	"math"
)

// ConversionCost is a promotion's per-redemption cost rule in integer form,
// the form the stores keep per (experiment, variant) to derive the cost of
// a conversion that does not carry its own promotion_cost:
//
//	cost = round(order × PercentBP / 10000) + (Capped ? min(Amount, order) : Amount)
//
// where round is half up, computed exactly in integers as
// (order / 10000) × PercentBP + ((order % 10000) × PercentBP + 5000) / 10000.
// The stores evaluate the same expression in SQL, so Go and both databases
// agree to the minor unit.
type ConversionCost struct {
	// PercentBP is the share of the order value in basis points
	// (percent_off, cashback: Value × 100, rounded).
	PercentBP int64
	// Amount is a fixed amount per redemption in minor units.
	Amount int64
	// Capped caps Amount at the order value (amount_off).
	Capped bool
}

// ConversionCostOf returns p's per-redemption rule. Promotions counted per
// exposure or as a fixed sum, and type none, cost nothing per conversion
// (the report counts those from the exposures or the fixed sum).
//
//	percent_off, cashback  Value percent of the order value
//	amount_off             Value minor units, at most the order value
//	free_shipping          UnitCost per order (the shipping cost)
//	bundle                 UnitCost per redemption (the bundled item)
//	points                 Value points × UnitCost per point, rounded
//	free_trial             UnitCost per redemption
//	none                   0
func ConversionCostOf(p Promotion) ConversionCost {
	if p.CostRule == CostPerExposure || p.CostRule == CostFixed {
		return ConversionCost{}
	}
	switch p.Type {
	case PromoPercentOff, PromoCashback:
		return ConversionCost{PercentBP: clampMoney(math.Round(p.Value * 100))}
	case PromoAmountOff:
		return ConversionCost{Amount: clampMoney(math.Round(p.Value)), Capped: true}
	case PromoFreeShipping, PromoBundle, PromoFreeTrial:
		return ConversionCost{Amount: p.UnitCost}
	case PromoPoints:
		return ConversionCost{Amount: clampMoney(math.Round(p.Value * float64(p.UnitCost)))}
	}
	return ConversionCost{}
}

// Of returns the cost of one redemption on an order of orderValue minor
// units (negative values count as 0).
func (c ConversionCost) Of(orderValue int64) int64 {
	if orderValue < 0 {
		orderValue = 0
	}
	cost := orderValue/10000*c.PercentBP + (orderValue%10000*c.PercentBP+5000)/10000
	if c.Capped {
		return cost + min(c.Amount, orderValue)
	}
	return cost + c.Amount
}

// Zero reports whether the rule never costs anything.
func (c ConversionCost) Zero() bool { return c.PercentBP == 0 && c.Amount == 0 }

// PromotionCost is the cost of one redemption of p on an order worth
// orderValue minor units: the discount given (percent_off: Value percent of
// the order; amount_off: Value, at most the order), the cashback paid
// (Value percent), UnitCost for free_shipping, bundle and free_trial,
// Value × UnitCost for points, and 0 for none. A per-exposure or fixed
// promotion costs nothing per redemption: its cost is UnitCost per
// exposure, or UnitCost once, counted by the report. Amounts are rounded
// half up to the minor unit.
//
// The stores use it (through ConversionCostOf) for the conversions that
// are redemptions (they carry revenue or an order ID) and do not carry
// their own promotion_cost.
func PromotionCost(p Promotion, orderValue int64) int64 {
	return ConversionCostOf(p).Of(orderValue)
}

// IsRedemption reports whether a conversion counts as a redemption of the
// unit's promotion when its cost is derived: it is an order (it carries
// revenue or an order ID) and not a refund. Views, clicks and reviews cost
// nothing unless they carry a promotion_cost. Whether its name is a cost
// metric of the experiment (CostMetrics) is for the stores to check.
func IsRedemption(e *Event) bool {
	return e.Type == EventConversion && e.Name != RefundName && (e.Revenue > 0 || e.OrderID != "")
}

// RefundName is the conversion name of a refund: with an order_id it
// reverses that order of the same unit (docs/report.md, "Refunds").
const RefundName = "refund"

// CostMetrics are the conversion names whose conversions are redemptions of
// e's promotion, in the form the stores match (",purchase,subscribe,"): its
// primary and secondary metrics, never RefundName. "" (every name but
// RefundName) when e has no primary metric. Other names (a gift_card, a
// guardrail) add no promotion cost.
func CostMetrics(e *Experiment) string {
	if e.PrimaryMetric == "" {
		return ""
	}
	names := ","
	seen := map[string]bool{}
	for _, m := range append([]string{e.PrimaryMetric}, e.SecondaryMetrics...) {
		if m != RefundName && !seen[m] {
			seen[m] = true
			names += m + ","
		}
	}
	return names
}

func clampMoney(f float64) int64 {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= float64(MaxMoney):
		return MaxMoney
	}
	return int64(f)
}

// PromotionCostStore is implemented by stores that derive the promotion
// cost of conversions without one from the rule of the unit's variant.
type PromotionCostStore interface {
	// SyncPromotionCosts stores ConversionCostOf of every variant of e,
	// replacing the experiment's earlier rules, and recomputes the
	// experiment's attributed costs when a rule changed.
	SyncPromotionCosts(ctx context.Context, e *Experiment) error
}

// syncPromotionCosts passes e's cost rules to the store after a create or
// update. A failure is logged, not returned (the change is made; the next
// change of the experiment, such as its start, syncs again).
func (s *Service) syncPromotionCosts(ctx context.Context, e *Experiment) {
	st, ok := s.store.(PromotionCostStore)
	if !ok {
		return
	}
	if err := st.SyncPromotionCosts(ctx, e); err != nil {
		s.log.Error("sync promotion costs", "experiment", e.Key, "err", err)
	}
}
