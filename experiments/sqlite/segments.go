package sqlite

import (
	"context"
	"database/sql"
	"strings"

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

// customerChunk is how many customers one statement of updateCustomers
// reads or writes: a batch's customers take a few statements instead of
// two each. Both statements take exactly customerChunk customers (a short
// last chunk repeats its last customer, which changes nothing), so that
// they are prepared once.
const customerChunk = 64

// The statements of updateCustomers.
var (
	getAggregatesSQL = `SELECT ` + sqlstore.AggregateColumns + ` FROM customer_aggregates WHERE unit_id IN (?` +
		strings.Repeat(`, ?`, customerChunk-1) + `)`
	putAggregatesSQL = `INSERT OR REPLACE INTO customer_aggregates (` + sqlstore.AggregateColumns + `) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, customerChunk), `, `)
	// exposedCustomersSQL moves last_exposed_at of the customers of the
	// exposures stored with a rowid above its parameter.
	exposedCustomersSQL = `INSERT INTO customer_aggregates AS c (unit_id, environment, last_exposed_at)
		SELECT unit_id, environment, MAX(ts) FROM events NOT INDEXED WHERE rowid > ? AND type = 'exposure'
		GROUP BY unit_id, environment
		ON CONFLICT (unit_id, environment) DO UPDATE
		SET last_exposed_at = MAX(COALESCE(c.last_exposed_at, excluded.last_exposed_at), excluded.last_exposed_at)`
)

// updateCustomers folds the batch's new events (dup[i] false; those
// stored with a rowid above lastRowID) into the aggregates of their
// customers, inside the ingest transaction (the single writer connection
// serializes it with every other ingest). A new exposure only moves its
// customer's last_exposed_at: one statement over the stored rows does
// that for all of them (a fifth of the exposure group commit's CPU went
// to reading and writing back their whole rows), and only the customers
// of the other events are read and written back.
func updateCustomers(ctx context.Context, tx writeTx, events []experiments.Event, dup []bool, lastRowID int64) error {
	skip := make([]bool, len(events))
	exposures := false
	for i := range events {
		exposure := events[i].Type == experiments.EventExposure
		exposures = exposures || exposure && !dup[i]
		skip[i] = dup[i] || exposure
	}
	if exposures {
		if _, err := tx.ExecContext(ctx, exposedCustomersSQL, lastRowID); err != nil {
			return err
		}
	}
	deltas := experiments.CustomerDeltas(events, skip)
	for len(deltas) > 0 {
		chunk := deltas[:min(customerChunk, len(deltas))]
		deltas = deltas[len(chunk):]
		units := make([]any, customerChunk)
		for i := range units {
			units[i] = chunk[min(i, len(chunk)-1)].UnitID
		}
		cur, err := readAggregates(ctx, tx, units)
		if err != nil {
			return err
		}
		args := make([]any, 0, 10*customerChunk)
		for i := range customerChunk {
			d := chunk[min(i, len(chunk)-1)]
			if c, ok := cur[customerKey{d.UnitID, d.Environment}]; ok {
				c.Merge(d)
				d = c
			}
			args = append(args, sqlstore.ToAggregateRow(sqlstore.UnixMicros, d).Args()...)
		}
		if _, err := tx.ExecContext(ctx, putAggregatesSQL, args...); err != nil {
			return err
		}
	}
	return nil
}

// customerKey is a customer in an environment.
type customerKey struct{ unit, env string }

// readAggregates reads the stored aggregates of the customers units (every
// environment), by unit and environment.
func readAggregates(ctx context.Context, tx writeTx, units []any) (map[customerKey]experiments.CustomerAggregate, error) {
	rows, err := tx.QueryContext(ctx, getAggregatesSQL, units...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[customerKey]experiments.CustomerAggregate, len(units))
	for rows.Next() {
		// Plain Scan and positional arguments: this runs for every
		// customer of every batch, and reflection would cost more than
		// the statements.
		var r sqlstore.AggregateRow
		if err := rows.Scan(r.Fields()...); err != nil {
			return nil, err
		}
		out[customerKey{r.UnitID, r.Environment}] = r.ToDomain()
	}
	return out, rows.Err()
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
