package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// Promotion costs (experiments.PromotionCostStore) and customer aggregates
// (experiments.CustomerSegmentStore); tables in migration 0003. The shared
// part is in package sqlstore (segments.go); CustomerAggregates comes from
// the embedded sqlstore.Store.

var (
	_ experiments.PromotionCostStore   = (*Store)(nil)
	_ experiments.CustomerSegmentStore = (*Store)(nil)
)

// costJoin joins the cost rule of the unit's (first) variant to a rollup
// relation r, for the money of its conversions (cohortDialect.Cost).
const costJoin = sqlstore.CostJoin

// SyncPromotionCosts stores the cost rules of e's variants and, when they
// changed, recomputes the experiment's attributed conversions (holding
// every unit lock, like a change of the attribution window).
func (s *Store) SyncPromotionCosts(ctx context.Context, e *experiments.Experiment) error {
	return sqlstore.SyncPromotionCosts(ctx, s.Store, e, s.tx,
		func(tx *rtx) error { return lockAllUnits(ctx, tx) },
		func(tx *rtx) error { return recomputeExperiment(ctx, tx, e.Key) })
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
func updateCustomers(ctx context.Context, p stmts, events []experiments.Event, dup []bool) error {
	deltas := experiments.CustomerDeltas(events, dup)
	if len(deltas) == 0 {
		return nil
	}
	ids, envs := make([]string, len(deltas)), make([]string, len(deltas))
	for i, d := range deltas {
		ids[i], envs[i] = d.UnitID, d.Environment
	}
	var rows []sqlstore.AggregateRow
	// One probe of the key per customer (LATERAL, OFFSET 0): left to its
	// statistics the planner hashes the batch's keys and scans the whole
	// table while it is small enough (tens of thousands of customers).
	if err := p.sel(ctx, &rows, `SELECT a.* FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS k(unit_id, environment)
	CROSS JOIN LATERAL (SELECT `+sqlstore.AggregateColumns+` FROM customer_aggregates c
		WHERE c.unit_id = k.unit_id AND c.environment = k.environment OFFSET 0) a`,
		pq.Array(ids), pq.Array(envs)); err != nil {
		return err
	}
	type key struct{ unit, env string }
	cur := make(map[key]experiments.CustomerAggregate, len(rows))
	for _, r := range rows {
		cur[key{r.UnitID, r.Environment}] = r.ToDomain()
	}
	n := len(deltas)
	lp, pp, pc, mon, le, lr, rc, lx := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, d := range deltas {
		if c, ok := cur[key{d.UnitID, d.Environment}]; ok {
			c.Merge(d)
			d = c
		}
		lp[i], pp[i], pc[i], mon[i] = usOrZero(d.LastPurchaseAt), usOrZero(d.PrevPurchaseAt), d.PurchaseCount, d.Monetary
		le[i], lr[i], rc[i], lx[i] = usOrZero(d.LastEngagedAt), usOrZero(d.LastReviewAt), d.ReviewCount, usOrZero(d.LastExposedAt)
	}
	_, err := p.exec(ctx, `INSERT INTO customer_aggregates (`+sqlstore.AggregateColumns+`)
SELECT u, env, `+tsOf("lp")+`, `+tsOf("pp")+`, pc, mon, `+tsOf("le")+`, `+tsOf("lr")+`, rc, `+tsOf("lx")+`
FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]),
	CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[])) AS a(u, env, lp, pp, pc, mon, le, lr, rc, lx)
ON CONFLICT (unit_id, environment) DO UPDATE SET last_purchase_at = EXCLUDED.last_purchase_at,
	prev_purchase_at = EXCLUDED.prev_purchase_at, purchase_count = EXCLUDED.purchase_count,
	monetary = EXCLUDED.monetary, last_engaged_at = EXCLUDED.last_engaged_at,
	last_review_at = EXCLUDED.last_review_at, review_count = EXCLUDED.review_count,
	last_exposed_at = EXCLUDED.last_exposed_at`,
		pq.Array(ids), pq.Array(envs), pq.Array(lp), pq.Array(pp), pq.Array(pc), pq.Array(mon), pq.Array(le), pq.Array(lr), pq.Array(rc), pq.Array(lx))
	return err
}

// RFMBoundaries reads the nearest-rank quintile boundaries of the buyers
// of environment env, in one snapshot.
func (s *Store) RFMBoundaries(ctx context.Context, env string) (experiments.RFMBoundaries, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return experiments.RFMBoundaries{}, wrap("rfm boundaries", err)
	}
	defer func() { _ = tx.Rollback() }()
	b, err := sqlstore.RFMBoundaries(ctx, &rtx{tx}, env)
	return b, wrap("rfm boundaries", err)
}
