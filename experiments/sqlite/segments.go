package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// Promotion costs (experiments.PromotionCostStore) and customer aggregates
// (experiments.CustomerSegmentStore); tables in migration 0003.

var (
	_ experiments.PromotionCostStore   = (*Store)(nil)
	_ experiments.CustomerSegmentStore = (*Store)(nil)
)

// costJoin joins the cost rule of the unit's (first) variant to a rollup
// relation r; costExpr is then the cost of conversion c: its own
// promotion_cost, else the rule's cost when c is an order.
const (
	costJoin = `
LEFT JOIN promotion_costs pc ON pc.experiment = r.experiment AND pc.variant = r.first_variant`
	costExpr = `COALESCE(c.promotion_cost, CASE WHEN pc.experiment IS NOT NULL AND (c.revenue > 0 OR c.order_id <> '')
	THEN (c.revenue / 10000) * pc.percent_bp + ((c.revenue % 10000) * pc.percent_bp + 5000) / 10000
		+ CASE WHEN pc.capped THEN MIN(pc.amount, c.revenue) ELSE pc.amount END
	ELSE 0 END)`
)

// SyncPromotionCosts stores the cost rules of e's variants and, when they
// changed, recomputes the experiment's attributed conversions.
func (s *Store) SyncPromotionCosts(ctx context.Context, e *experiments.Experiment) error {
	want := sqlstore.CostRows(e)
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		changed, err := sqlstore.CostRowsChanged(ctx, tx, e.Key, want)
		if err != nil || !changed {
			return err
		}
		if err := sqlstore.ReplaceCostRows(ctx, tx, e.Key, want); err != nil {
			return err
		}
		if err := resetTouched(ctx, tx); err != nil {
			return err
		}
		if err := sqlstore.TouchExperimentUnits(ctx, tx, e.Key); err != nil {
			return err
		}
		return recomputeMetricsTouched(ctx, tx)
	})
	return wrap("sync promotion costs", err)
}

// aggregateRow is a customer_aggregates row.
type aggregateRow struct {
	UnitID         string        `db:"unit_id"`
	LastPurchaseAt sql.NullInt64 `db:"last_purchase_at"`
	PrevPurchaseAt sql.NullInt64 `db:"prev_purchase_at"`
	PurchaseCount  int64         `db:"purchase_count"`
	Monetary       int64         `db:"monetary"`
	LastEngagedAt  sql.NullInt64 `db:"last_engaged_at"`
	LastReviewAt   sql.NullInt64 `db:"last_review_at"`
	ReviewCount    int64         `db:"review_count"`
	LastExposedAt  sql.NullInt64 `db:"last_exposed_at"`
}

const aggregateColumns = `unit_id, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at`

func (r aggregateRow) toDomain() experiments.CustomerAggregate {
	return experiments.CustomerAggregate{UnitID: r.UnitID, LastPurchaseAt: fromMicros(r.LastPurchaseAt),
		PrevPurchaseAt: fromMicros(r.PrevPurchaseAt), PurchaseCount: r.PurchaseCount, Monetary: r.Monetary,
		LastEngagedAt: fromMicros(r.LastEngagedAt), LastReviewAt: fromMicros(r.LastReviewAt),
		ReviewCount: r.ReviewCount, LastExposedAt: fromMicros(r.LastExposedAt)}
}

func toAggregateRow(a experiments.CustomerAggregate) aggregateRow {
	return aggregateRow{UnitID: a.UnitID, LastPurchaseAt: micros(a.LastPurchaseAt), PrevPurchaseAt: micros(a.PrevPurchaseAt),
		PurchaseCount: a.PurchaseCount, Monetary: a.Monetary, LastEngagedAt: micros(a.LastEngagedAt),
		LastReviewAt: micros(a.LastReviewAt), ReviewCount: a.ReviewCount, LastExposedAt: micros(a.LastExposedAt)}
}

// updateCustomers folds the batch's new events (dup[i] false) into the
// aggregates of their customers, inside the ingest transaction (the single
// writer connection serializes it with every other ingest).
func updateCustomers(ctx context.Context, tx *sqlx.Tx, events []experiments.Event, dup []bool) error {
	deltas := experiments.CustomerDeltas(events, dup)
	if len(deltas) == 0 {
		return nil
	}
	get, err := tx.PrepareContext(ctx, `SELECT `+aggregateColumns+` FROM customer_aggregates WHERE unit_id = ?`)
	if err != nil {
		return err
	}
	defer get.Close()
	put, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO customer_aggregates (`+aggregateColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer put.Close()
	// Plain Scan and positional arguments: this runs for every customer of
	// every batch, and reflection would cost more than the statements.
	for _, d := range deltas {
		var r aggregateRow
		err := get.QueryRowContext(ctx, d.UnitID).Scan(r.fields()...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			cur := r.toDomain()
			cur.Merge(d)
			d = cur
		}
		r = toAggregateRow(d)
		if _, err := put.ExecContext(ctx, r.UnitID, r.LastPurchaseAt, r.PrevPurchaseAt, r.PurchaseCount, r.Monetary,
			r.LastEngagedAt, r.LastReviewAt, r.ReviewCount, r.LastExposedAt); err != nil {
			return err
		}
	}
	return nil
}

// fields are pointers to r's fields in the order of aggregateColumns.
func (r *aggregateRow) fields() []any {
	return []any{&r.UnitID, &r.LastPurchaseAt, &r.PrevPurchaseAt, &r.PurchaseCount, &r.Monetary,
		&r.LastEngagedAt, &r.LastReviewAt, &r.ReviewCount, &r.LastExposedAt}
}

// CustomerAggregate returns one customer's aggregate.
func (s *Store) CustomerAggregate(ctx context.Context, unitID string) (experiments.CustomerAggregate, bool, error) {
	var row aggregateRow
	err := s.r.GetContext(ctx, &row, `SELECT `+aggregateColumns+` FROM customer_aggregates WHERE unit_id = ?`, unitID)
	if errors.Is(err, sql.ErrNoRows) {
		return experiments.CustomerAggregate{UnitID: unitID}, false, nil
	}
	if err != nil {
		return experiments.CustomerAggregate{}, false, wrap("customer aggregate", err)
	}
	return row.toDomain(), true, nil
}

// RFMBoundaries reads the nearest-rank quintile boundaries of the buyers
// from the aggregate table (through its partial indexes).
func (s *Store) RFMBoundaries(ctx context.Context) (experiments.RFMBoundaries, error) {
	var b experiments.RFMBoundaries
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return b, wrap("rfm boundaries", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.GetContext(ctx, &b.Customers, `SELECT COUNT(*) FROM customer_aggregates WHERE purchase_count > 0`); err != nil {
		return b, wrap("rfm boundaries", err)
	}
	ranks := experiments.QuintileRanks(b.Customers)
	if b.Customers == 0 {
		return b, nil
	}
	for _, d := range []struct {
		col string
		out *[4]int64
	}{{"last_purchase_at", &b.Recency}, {"purchase_count", &b.Frequency}, {"monetary", &b.Monetary}} {
		for k, r := range ranks {
			if err := tx.GetContext(ctx, &d.out[k], `SELECT `+d.col+` FROM customer_aggregates
				WHERE purchase_count > 0 ORDER BY `+d.col+` LIMIT 1 OFFSET ?`, r-1); err != nil {
				return b, wrap("rfm boundaries", err)
			}
		}
	}
	return b, nil
}
