package sqlstore

import (
	"context"
	"errors"

	"github.com/promolift/promolift/experiments"
)

// Promotion costs and customer aggregates (migration 0003), as far as the
// stores share them.

// CostJoin joins the cost rule of the unit's (first) variant to a rollup
// relation r, for MoneyDialect.Cost (money.go).
const CostJoin = `
LEFT JOIN promotion_costs pc ON pc.experiment = r.experiment AND pc.variant = r.first_variant`

// SyncPromotionCosts stores the cost rules of e's variants and, when they
// changed, recomputes the experiment's attributed conversions, all in one
// transaction run by inTx: lockUnits (nil when the store needs no lock)
// runs before the rows are replaced and recompute after them.
func SyncPromotionCosts[T Queryer](ctx context.Context, s *Store, e *experiments.Experiment,
	inTx func(context.Context, func(T) error) error, lockUnits, recompute func(tx T) error) error {
	want := CostRows(e)
	err := inTx(ctx, func(tx T) error {
		changed, err := CostRowsChanged(ctx, tx, e.Key, want)
		if err != nil || !changed {
			return err
		}
		if lockUnits != nil {
			if err := lockUnits(tx); err != nil {
				return err
			}
		}
		if err := ReplaceCostRows(ctx, tx, e.Key, want); err != nil {
			return err
		}
		return recompute(tx)
	})
	return s.wrap("sync promotion costs", err)
}

// AggregateColumns are the columns of customer_aggregates, in the order of
// AggregateRow.Fields and AggregateRow.Args.
const AggregateColumns = `unit_id, environment, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at`

// AggregateRow is a customer_aggregates row (NULL times: never).
type AggregateRow struct {
	UnitID         string `db:"unit_id"`
	Environment    string `db:"environment"`
	LastPurchaseAt Time   `db:"last_purchase_at"`
	PrevPurchaseAt Time   `db:"prev_purchase_at"`
	PurchaseCount  int64  `db:"purchase_count"`
	Monetary       int64  `db:"monetary"`
	LastEngagedAt  Time   `db:"last_engaged_at"`
	LastReviewAt   Time   `db:"last_review_at"`
	ReviewCount    int64  `db:"review_count"`
	LastExposedAt  Time   `db:"last_exposed_at"`
}

// ToAggregateRow is a's row with its times in encoding enc.
func ToAggregateRow(enc TimeEncoding, a experiments.CustomerAggregate) AggregateRow {
	return AggregateRow{UnitID: a.UnitID, Environment: a.Environment, LastPurchaseAt: enc.Encode(a.LastPurchaseAt),
		PrevPurchaseAt: enc.Encode(a.PrevPurchaseAt), PurchaseCount: a.PurchaseCount, Monetary: a.Monetary,
		LastEngagedAt: enc.Encode(a.LastEngagedAt), LastReviewAt: enc.Encode(a.LastReviewAt),
		ReviewCount: a.ReviewCount, LastExposedAt: enc.Encode(a.LastExposedAt)}
}

// ToDomain converts r.
func (r AggregateRow) ToDomain() experiments.CustomerAggregate {
	return experiments.CustomerAggregate{UnitID: r.UnitID, Environment: r.Environment, LastPurchaseAt: r.LastPurchaseAt.Time,
		PrevPurchaseAt: r.PrevPurchaseAt.Time, PurchaseCount: r.PurchaseCount, Monetary: r.Monetary,
		LastEngagedAt: r.LastEngagedAt.Time, LastReviewAt: r.LastReviewAt.Time,
		ReviewCount: r.ReviewCount, LastExposedAt: r.LastExposedAt.Time}
}

// Fields are pointers to r's fields in the order of AggregateColumns, for
// a plain Scan.
func (r *AggregateRow) Fields() []any {
	return []any{&r.UnitID, &r.Environment, &r.LastPurchaseAt, &r.PrevPurchaseAt, &r.PurchaseCount, &r.Monetary,
		&r.LastEngagedAt, &r.LastReviewAt, &r.ReviewCount, &r.LastExposedAt}
}

// Args are r's column values in the order of AggregateColumns.
func (r AggregateRow) Args() []any {
	return []any{r.UnitID, r.Environment, r.LastPurchaseAt, r.PrevPurchaseAt, r.PurchaseCount, r.Monetary,
		r.LastEngagedAt, r.LastReviewAt, r.ReviewCount, r.LastExposedAt}
}

// CustomerAggregates returns one customer's aggregates, one per
// environment it has events in, in one read.
func (s *Store) CustomerAggregates(ctx context.Context, unitID string) ([]experiments.CustomerAggregate, error) {
	var rows []AggregateRow
	if err := s.R.SelectContext(ctx, &rows, `SELECT `+AggregateColumns+` FROM customer_aggregates WHERE unit_id = ?`, unitID); err != nil {
		return nil, s.wrap("customer aggregates", err)
	}
	out := make([]experiments.CustomerAggregate, len(rows))
	for i, r := range rows {
		out[i] = r.ToDomain()
	}
	return out, nil
}

// buyersIn are the customers with a purchase counting in environment ?
// (their rows of that environment and of ” merged, as
// experiments.AggregateIn merges them): unit_id, lp (last purchase), pc
// (purchases), mon (monetary). The latest purchase of the merge is the
// later of the rows'.
const buyersIn = `WITH m AS (SELECT unit_id, MAX(last_purchase_at) AS lp,
	CAST(SUM(purchase_count) AS BIGINT) AS pc, CAST(SUM(monetary) AS BIGINT) AS mon
	FROM customer_aggregates WHERE environment IN (?, '') GROUP BY unit_id HAVING SUM(purchase_count) > 0) `

// RFMBoundaries reads the nearest-rank quintile boundaries of the buyers
// of environment env (their rows of env and of ” merged; env "" reads the
// ” rows alone). Pass a read-only transaction as tx for one snapshot.
func RFMBoundaries(ctx context.Context, tx Queryer, env string) (experiments.RFMBoundaries, error) {
	var b experiments.RFMBoundaries
	if err := tx.GetContext(ctx, &b.Customers, buyersIn+`SELECT COUNT(*) FROM m`, env); err != nil {
		return b, err
	}
	if b.Customers == 0 {
		return b, nil
	}
	ranks := experiments.QuintileRanks(b.Customers)
	// The values of col at the ranks (1-based) in col's order, one query
	// per dimension.
	nth := func(dest any, col string) error {
		return tx.SelectContext(ctx, dest, buyersIn+`SELECT rn, v FROM (SELECT ROW_NUMBER() OVER (ORDER BY `+col+`) AS rn, `+col+` AS v FROM m) r
			WHERE rn IN (?, ?, ?, ?)`, env, ranks[0], ranks[1], ranks[2], ranks[3])
	}
	var times []struct {
		Rn int64 `db:"rn"`
		V  Time  `db:"v"`
	}
	if err := nth(&times, "lp"); err != nil {
		return b, err
	}
	for _, r := range times {
		if r.V.Time.IsZero() {
			return b, errors.New("customer_aggregates: a buyer without last_purchase_at")
		}
		setAtRanks(&b.Recency, ranks, r.Rn, r.V.Time.UnixMicro())
	}
	for col, q := range map[string]*[4]int64{"pc": &b.Frequency, "mon": &b.Monetary} {
		var vals []struct {
			Rn int64 `db:"rn"`
			V  int64 `db:"v"`
		}
		if err := nth(&vals, col); err != nil {
			return b, err
		}
		for _, r := range vals {
			setAtRanks(q, ranks, r.Rn, r.V)
		}
	}
	return b, nil
}

// setAtRanks sets q[k] to v for every k whose rank is rn.
func setAtRanks(q *[4]int64, ranks [4]int64, rn, v int64) {
	for k, r := range ranks {
		if r == rn {
			q[k] = v
		}
	}
}
