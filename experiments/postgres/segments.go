package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

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
		+ CASE WHEN pc.capped THEN LEAST(pc.amount, c.revenue) ELSE pc.amount END
	ELSE 0 END)`
)

// SyncPromotionCosts stores the cost rules of e's variants and, when they
// changed, recomputes the experiment's attributed conversions (holding
// every unit lock, like a change of the attribution window).
func (s *Store) SyncPromotionCosts(ctx context.Context, e *experiments.Experiment) error {
	want := sqlstore.CostRows(e)
	err := s.tx(ctx, func(tx *rtx) error {
		changed, err := sqlstore.CostRowsChanged(ctx, tx, e.Key, want)
		if err != nil || !changed {
			return err
		}
		if err := lockAllUnits(ctx, tx); err != nil {
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
	UnitID         string       `db:"unit_id"`
	LastPurchaseAt sql.NullTime `db:"last_purchase_at"`
	PrevPurchaseAt sql.NullTime `db:"prev_purchase_at"`
	PurchaseCount  int64        `db:"purchase_count"`
	Monetary       int64        `db:"monetary"`
	LastEngagedAt  sql.NullTime `db:"last_engaged_at"`
	LastReviewAt   sql.NullTime `db:"last_review_at"`
	ReviewCount    int64        `db:"review_count"`
	LastExposedAt  sql.NullTime `db:"last_exposed_at"`
}

const aggregateColumns = `unit_id, last_purchase_at, prev_purchase_at, purchase_count, monetary,
	last_engaged_at, last_review_at, review_count, last_exposed_at`

func fromNullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (r aggregateRow) toDomain() experiments.CustomerAggregate {
	return experiments.CustomerAggregate{UnitID: r.UnitID, LastPurchaseAt: fromNullTime(r.LastPurchaseAt),
		PrevPurchaseAt: fromNullTime(r.PrevPurchaseAt), PurchaseCount: r.PurchaseCount, Monetary: r.Monetary,
		LastEngagedAt: fromNullTime(r.LastEngagedAt), LastReviewAt: fromNullTime(r.LastReviewAt),
		ReviewCount: r.ReviewCount, LastExposedAt: fromNullTime(r.LastExposedAt)}
}

// usOrZero is t in unix microseconds, 0 for never (stored as NULL),
// rounded to the microsecond as PostgreSQL rounds the events' timestamps.
func usOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Round(time.Microsecond).UnixMicro()
}

// tsOf turns an array element of unix microseconds (0: NULL) back into a
// timestamp, exactly.
func tsOf(col string) string {
	return `TIMESTAMPTZ 'epoch' + NULLIF(` + col + `, 0) * INTERVAL '1 microsecond'`
}

// updateCustomers folds the batch's new events (dup[i] false) into the
// aggregates of their customers, inside the ingest transaction. The
// caller holds the advisory locks of every unit of the batch, so the
// read-merge-write cannot race another ingest of the same customer.
func updateCustomers(ctx context.Context, tx *rtx, events []experiments.Event, dup []bool) error {
	deltas := experiments.CustomerDeltas(events, dup)
	if len(deltas) == 0 {
		return nil
	}
	ids := make([]string, len(deltas))
	for i, d := range deltas {
		ids[i] = d.UnitID
	}
	var rows []aggregateRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+aggregateColumns+` FROM customer_aggregates
		WHERE unit_id = ANY(CAST(? AS TEXT[]))`, pq.Array(ids)); err != nil {
		return err
	}
	cur := make(map[string]experiments.CustomerAggregate, len(rows))
	for _, r := range rows {
		cur[r.UnitID] = r.toDomain()
	}
	n := len(deltas)
	lp, pp, pc, mon, le, lr, rc, lx := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, d := range deltas {
		if c, ok := cur[d.UnitID]; ok {
			c.Merge(d)
			d = c
		}
		lp[i], pp[i], pc[i], mon[i] = usOrZero(d.LastPurchaseAt), usOrZero(d.PrevPurchaseAt), d.PurchaseCount, d.Monetary
		le[i], lr[i], rc[i], lx[i] = usOrZero(d.LastEngagedAt), usOrZero(d.LastReviewAt), d.ReviewCount, usOrZero(d.LastExposedAt)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO customer_aggregates (`+aggregateColumns+`)
SELECT u, `+tsOf("lp")+`, `+tsOf("pp")+`, pc, mon, `+tsOf("le")+`, `+tsOf("lr")+`, rc, `+tsOf("lx")+`
FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]),
	CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[])) AS a(u, lp, pp, pc, mon, le, lr, rc, lx)
ON CONFLICT (unit_id) DO UPDATE SET last_purchase_at = EXCLUDED.last_purchase_at,
	prev_purchase_at = EXCLUDED.prev_purchase_at, purchase_count = EXCLUDED.purchase_count,
	monetary = EXCLUDED.monetary, last_engaged_at = EXCLUDED.last_engaged_at,
	last_review_at = EXCLUDED.last_review_at, review_count = EXCLUDED.review_count,
	last_exposed_at = EXCLUDED.last_exposed_at`,
		pq.Array(ids), pq.Array(lp), pq.Array(pp), pq.Array(pc), pq.Array(mon), pq.Array(le), pq.Array(lr), pq.Array(rc), pq.Array(lx))
	return err
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
// from the aggregate table (through its partial indexes), in one snapshot.
func (s *Store) RFMBoundaries(ctx context.Context) (experiments.RFMBoundaries, error) {
	var b experiments.RFMBoundaries
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return b, wrap("rfm boundaries", err)
	}
	defer func() { _ = tx.Rollback() }()
	t := &rtx{tx}
	if err := t.GetContext(ctx, &b.Customers, `SELECT COUNT(*) FROM customer_aggregates WHERE purchase_count > 0`); err != nil {
		return b, wrap("rfm boundaries", err)
	}
	if b.Customers == 0 {
		return b, nil
	}
	ranks := experiments.QuintileRanks(b.Customers)
	for k, r := range ranks {
		var at time.Time
		if err := t.GetContext(ctx, &at, `SELECT last_purchase_at FROM customer_aggregates
			WHERE purchase_count > 0 ORDER BY last_purchase_at LIMIT 1 OFFSET ?`, r-1); err != nil {
			return b, wrap("rfm boundaries", err)
		}
		b.Recency[k] = at.UnixMicro()
		for _, d := range []struct {
			col string
			out *[4]int64
		}{{"purchase_count", &b.Frequency}, {"monetary", &b.Monetary}} {
			if err := t.GetContext(ctx, &d.out[k], `SELECT `+d.col+` FROM customer_aggregates
				WHERE purchase_count > 0 ORDER BY `+d.col+` LIMIT 1 OFFSET ?`, r-1); err != nil {
				return b, wrap("rfm boundaries", err)
			}
		}
	}
	return b, nil
}
