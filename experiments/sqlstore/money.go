package sqlstore

// The money of an attributed conversion c (events c, joined to its unit's
// rollup row r and, by CostJoin, to the cost rule pc of the unit's
// variant), as the rollups count it (docs/report.md, "Money"):
//
//   - refunded: a conversion named experiments.RefundName with the order
//     ID of c, of the same unit and at or after c, reverses c's revenue by
//     its own revenue, or all of it when it carries none; the refunds of an
//     order add up, and never reverse more than its revenue. Refunds
//     themselves are never refunded.
//   - revenue: c's revenue minus what was refunded of it.
//   - cost: 0 for a refund and for a conversion whose name is not one of
//     the experiment's cost metrics (pc.cost_metrics, ",name,..." of its
//     primary and secondary metrics; "" counts every name); 0 for an order
//     of a discount (percent_off, amount_off) refunded in full, since the
//     discount goes back with the goods; else c's own promotion_cost, or
//     the rule's cost when c is an order (revenue > 0 or an order ID).

// CountsIn is true when the conversion alias (events, a refund included)
// may count for an experiment of environment env, an SQL expression such as
// xw.environment: when it was sent by a key bound to that environment or to
// none (environment ""). A NULL env (no such experiment) admits only "".
// Every read that attributes conversions to an experiment's units applies
// it (docs/report.md, "Which conversions count").
func CountsIn(alias, env string) string {
	return `(` + alias + `.environment = '' OR ` + alias + `.environment = ` + env + `)`
}

// MoneyDialect names the database's functions in the money expressions.
type MoneyDialect struct {
	// Least and Greatest are the two-argument minimum and maximum
	// (LEAST/GREATEST in PostgreSQL, MIN/MAX in SQLite).
	Least, Greatest string
	// Strpos is the 1-based position of its second argument in its first,
	// 0 when absent (strpos in PostgreSQL, instr in SQLite).
	Strpos string
}

// refunded is the amount refunded of c; cond is an extra condition on the
// refunds f (such as a time bound with its parameter). Only refunds that
// count for the experiment xw (CountsIn) reverse c: a query using it joins
// experiments xw.
func refunded(cond string) string {
	return `CASE WHEN c.order_id <> '' AND c.name <> 'refund' THEN COALESCE((SELECT SUM(CASE WHEN f.revenue > 0 THEN f.revenue ELSE c.revenue END)
	FROM events f WHERE f.type = 'conversion' AND f.name = 'refund' AND f.unit_id = c.unit_id AND f.order_id = c.order_id
		AND ` + CountsIn("f", "xw.environment") + ` AND f.ts >= c.ts` + cond + `), 0) ELSE 0 END`
}

// Revenue is c's revenue net of its refunds (see above), the refunds
// restricted by cond ("" for all; each parameter of cond is one argument).
func (d MoneyDialect) Revenue(cond string) string {
	return d.Greatest + `(c.revenue - (` + refunded(cond) + `), 0)`
}

// Cost is c's promotion cost (see above); cond restricts the refunds as in
// Revenue.
func (d MoneyDialect) Cost(cond string) string {
	return `CASE WHEN ` + discount + ` AND c.revenue > 0 AND (` + refunded(cond) + `) >= c.revenue THEN 0
	ELSE ` + d.GrossCost() + ` END`
}

// discount is true when the unit's promotion is a discount, whose cost a
// full refund reverses.
const discount = `pc.type IN ('percent_off', 'amount_off')`

// GrossCost is c's promotion cost before refunds.
func (d MoneyDialect) GrossCost() string {
	return `CASE WHEN c.name = 'refund' OR (pc.cost_metrics <> '' AND ` + d.Strpos + `(pc.cost_metrics, ',' || c.name || ',') = 0) THEN 0
	ELSE COALESCE(c.promotion_cost, CASE WHEN pc.experiment IS NOT NULL AND (c.revenue > 0 OR c.order_id <> '')
	THEN (c.revenue / 10000) * pc.percent_bp + ((c.revenue % 10000) * pc.percent_bp + 5000) / 10000
		+ CASE WHEN pc.capped THEN ` + d.Least + `(pc.amount, c.revenue) ELSE pc.amount END
	ELSE 0 END) END`
}

// Currency aggregates the currencies of a group of conversions c: the one
// currency they carry, "" when none carries one, and
// experiments.MixedCurrency when they carry several.
const Currency = `CASE WHEN MIN(NULLIF(c.currency, '')) IS NULL THEN ''
	WHEN MIN(NULLIF(c.currency, '')) = MAX(NULLIF(c.currency, '')) THEN MIN(NULLIF(c.currency, '')) ELSE '*' END`

// MergeCurrency is the currency of a unit_metrics row m after adding the
// conversions of excluded (an upsert's SET expression; excluded is
// spelled as the database wants it).
func MergeCurrency(excluded string) string {
	return `CASE WHEN ` + excluded + `.currency = '' OR ` + excluded + `.currency = m.currency THEN m.currency
	WHEN m.currency = '' THEN ` + excluded + `.currency ELSE '*' END`
}
