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
// changed, recomputes the experiment's attributed conversions.
func (s *Store) SyncPromotionCosts(ctx context.Context, e *experiments.Experiment) error {
	return sqlstore.SyncPromotionCosts(ctx, s.Store, e, s.tx, nil,
		func(tx *sqlx.Tx) error { return recomputeExperiment(ctx, tx, e.Key) })
}

// updateCustomers folds the batch's new events (dup[i] false) into the
// aggregates of their customers, inside the ingest transaction (the single
// writer connection serializes it with every other ingest).
// The statements of updateCustomers.
const (
	getAggregateSQL = `SELECT ` + sqlstore.AggregateColumns + ` FROM customer_aggregates WHERE unit_id = ? AND environment = ?`
	putAggregateSQL = `INSERT OR REPLACE INTO customer_aggregates (` + sqlstore.AggregateColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func updateCustomers(ctx context.Context, tx writeTx, events []experiments.Event, dup []bool) error {
	deltas := experiments.CustomerDeltas(events, dup)
	if len(deltas) == 0 {
		return nil
	}
	// Plain Scan and positional arguments: this runs for every customer of
	// every batch, and reflection would cost more than the statements.
	for _, d := range deltas {
		var r sqlstore.AggregateRow
		err := tx.QueryRowContext(ctx, getAggregateSQL, d.UnitID, d.Environment).Scan(r.Fields()...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			cur := r.ToDomain()
			cur.Merge(d)
			d = cur
		}
		if _, err := tx.ExecContext(ctx, putAggregateSQL, sqlstore.ToAggregateRow(sqlstore.UnixMicros, d).Args()...); err != nil {
			return err
		}
	}
	return nil
}

// RFMBoundaries reads the nearest-rank quintile boundaries of the buyers
// of environment env, in one read transaction.
func (s *Store) RFMBoundaries(ctx context.Context, env string) (experiments.RFMBoundaries, error) {
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return experiments.RFMBoundaries{}, wrap("rfm boundaries", err)
	}
	defer func() { _ = tx.Rollback() }()
	b, err := sqlstore.RFMBoundaries(ctx, tx, env)
	return b, wrap("rfm boundaries", err)
}
