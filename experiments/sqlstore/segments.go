package sqlstore

import (
	"context"
	"database/sql"
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
const AggregateColumns = `unit_id, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at`

// AggregateRow is a customer_aggregates row (NULL times: never).
type AggregateRow struct {
	UnitID         string `db:"unit_id"`
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
	return AggregateRow{UnitID: a.UnitID, LastPurchaseAt: enc.Encode(a.LastPurchaseAt),
		PrevPurchaseAt: enc.Encode(a.PrevPurchaseAt), PurchaseCount: a.PurchaseCount, Monetary: a.Monetary,
		LastEngagedAt: enc.Encode(a.LastEngagedAt), LastReviewAt: enc.Encode(a.LastReviewAt),
		ReviewCount: a.ReviewCount, LastExposedAt: enc.Encode(a.LastExposedAt)}
}

// ToDomain converts r.
func (r AggregateRow) ToDomain() experiments.CustomerAggregate {
	return experiments.CustomerAggregate{UnitID: r.UnitID, LastPurchaseAt: r.LastPurchaseAt.Time,
		PrevPurchaseAt: r.PrevPurchaseAt.Time, PurchaseCount: r.PurchaseCount, Monetary: r.Monetary,
		LastEngagedAt: r.LastEngagedAt.Time, LastReviewAt: r.LastReviewAt.Time,
		ReviewCount: r.ReviewCount, LastExposedAt: r.LastExposedAt.Time}
}

// Fields are pointers to r's fields in the order of AggregateColumns, for
// a plain Scan.
func (r *AggregateRow) Fields() []any {
	return []any{&r.UnitID, &r.LastPurchaseAt, &r.PrevPurchaseAt, &r.PurchaseCount, &r.Monetary,
		&r.LastEngagedAt, &r.LastReviewAt, &r.ReviewCount, &r.LastExposedAt}
}

// Args are r's column values in the order of AggregateColumns.
func (r AggregateRow) Args() []any {
	return []any{r.UnitID, r.LastPurchaseAt, r.PrevPurchaseAt, r.PurchaseCount, r.Monetary,
		r.LastEngagedAt, r.LastReviewAt, r.ReviewCount, r.LastExposedAt}
}

// CustomerAggregate returns one customer's aggregate.
func (s *Store) CustomerAggregate(ctx context.Context, unitID string) (experiments.CustomerAggregate, bool, error) {
	var row AggregateRow
	err := s.R.GetContext(ctx, &row, `SELECT `+AggregateColumns+` FROM customer_aggregates WHERE unit_id = ?`, unitID)
	if errors.Is(err, sql.ErrNoRows) {
		return experiments.CustomerAggregate{UnitID: unitID}, false, nil
	}
	if err != nil {
		return experiments.CustomerAggregate{}, false, s.wrap("customer aggregate", err)
	}
	return row.ToDomain(), true, nil
}

// RFMBoundaries reads the nearest-rank quintile boundaries of the buyers
// from the aggregate table (through its partial indexes). Pass a read-only
// transaction as tx for one snapshot.
func RFMBoundaries(ctx context.Context, tx Queryer) (experiments.RFMBoundaries, error) {
	var b experiments.RFMBoundaries
	if err := tx.GetContext(ctx, &b.Customers, `SELECT COUNT(*) FROM customer_aggregates WHERE purchase_count > 0`); err != nil {
		return b, err
	}
	if b.Customers == 0 {
		return b, nil
	}
	// The value of col of the buyer at rank r (1-based) in col's order.
	nth := func(col string) string {
		return `SELECT ` + col + ` FROM customer_aggregates WHERE purchase_count > 0 ORDER BY ` + col + ` LIMIT 1 OFFSET ?`
	}
	for k, r := range experiments.QuintileRanks(b.Customers) {
		var at Time
		if err := tx.GetContext(ctx, &at, nth("last_purchase_at"), r-1); err != nil {
			return b, err
		}
		if at.Time.IsZero() {
			return b, errors.New("customer_aggregates: a buyer without last_purchase_at")
		}
		b.Recency[k] = at.Time.UnixMicro()
		if err := tx.GetContext(ctx, &b.Frequency[k], nth("purchase_count"), r-1); err != nil {
			return b, err
		}
		if err := tx.GetContext(ctx, &b.Monetary[k], nth("monetary"), r-1); err != nil {
			return b, err
		}
	}
	return b, nil
}
