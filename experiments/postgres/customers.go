package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// Consent, cap groups, capped units and spend, and the steps of an
// erasure, are shared with the other SQL store (sqlstore/customers.go);
// what is left here is PostgreSQL's own SQL.

var _ experiments.CustomerStore = (*Store)(nil)

// CountExposures counts unit's exposures to pairs at or after since.
func (s *Store) CountExposures(ctx context.Context, unit string, pairs []experiments.ExperimentVariant, since time.Time) (int, error) {
	if len(pairs) == 0 {
		return 0, nil
	}
	exps := make([]string, len(pairs))
	vars := make([]string, len(pairs))
	for i, p := range pairs {
		exps[i], vars[i] = p.Experiment, p.Variant
	}
	var n int
	err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM events e
		JOIN unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS p(experiment, variant)
			ON e.experiment = p.experiment AND e.variant = p.variant
		WHERE e.type = 'exposure' AND e.unit_id = ? AND e.ts >= ?`,
		pq.Array(exps), pq.Array(vars), unit, sqlstore.Timestamp.Encode(since))
	return n, wrap("count exposures", err)
}

// HasEvent reports whether the event is stored.
func (s *Store) HasEvent(ctx context.Context, id string) (bool, error) {
	var ok bool
	// event_ids and event_ids_env hold exactly the ids of the stored
	// events, by primary key (events is partitioned by time and has no
	// index on event_id).
	err := s.r.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM event_ids WHERE event_id = ?)
		OR EXISTS (SELECT 1 FROM event_ids_env WHERE event_id = ?)`, id, id)
	return ok, wrap("has event", err)
}

// CustomerSecret returns the installation's secret, creating it once.
func (s *Store) CustomerSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("postgres: customer secret: %w", err)
	}
	var secret []byte
	err := s.w.GetContext(ctx, &secret, `WITH ins AS (
		INSERT INTO customer_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING RETURNING secret)
		SELECT secret FROM ins UNION ALL SELECT secret FROM customer_secret WHERE id = 1 LIMIT 1`, fresh)
	if errors.Is(err, sql.ErrNoRows) {
		// Another process created it after this statement's snapshot.
		err = s.w.GetContext(ctx, &secret, `SELECT secret FROM customer_secret WHERE id = 1`)
	}
	return secret, wrap("customer secret", err)
}

// quoteIdent quotes an identifier (the partition names of partitions.go).
func quoteIdent(s string) string { return pq.QuoteIdentifier(s) }

// EraseCustomer deletes every row about unit and the units linked to it
// in one transaction.
func (s *Store) EraseCustomer(ctx context.Context, unit string, audit *experiments.AuditEntry) (map[string]int64, int, error) {
	var deleted map[string]int64
	var units []string
	err := s.tx(ctx, func(tx *rtx) error {
		deleted = map[string]int64{}
		var err error
		if units, err = lockErasedUnits(ctx, tx, unit); err != nil {
			return err
		}
		// The dedupe rows of the units' events: their ids may contain the
		// unit's ID, and event_ids has no unit_id column.
		for _, del := range []struct{ table, query string }{
			{"event_ids", `DELETE FROM event_ids WHERE event_id IN
				(SELECT event_id FROM events WHERE unit_id = ANY(CAST(? AS TEXT[])) AND environment = '')`},
			{"event_ids_env", `DELETE FROM event_ids_env WHERE (event_id, environment) IN
				(SELECT event_id, environment FROM events WHERE unit_id = ANY(CAST(? AS TEXT[])) AND environment <> '')`},
		} {
			res, err := tx.ExecContext(ctx, del.query, pq.Array(units))
			if err != nil {
				return fmt.Errorf("erase from %s: %w", del.table, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				deleted[del.table] = n
			}
		}
		var cols []sqlstore.Column
		// Partitions (of events) are left out: deleting from the
		// partitioned table deletes from them.
		if err := tx.SelectContext(ctx, &cols, `SELECT c.table_name, c.column_name FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
				AND c.column_name IN ('unit_id', 'customer_id')
				AND NOT EXISTS (SELECT 1 FROM pg_class pc JOIN pg_namespace pn ON pn.oid = pc.relnamespace
					WHERE pn.nspname = c.table_schema AND pc.relname = c.table_name AND pc.relispartition)
			ORDER BY c.table_name, c.column_name`); err != nil {
			return err
		}
		if err := sqlstore.EraseUnits(ctx, tx, units, cols, deleted); err != nil {
			return err
		}
		// The units' orders leave variant_orders too.
		if err := flushOrders(ctx, tx); err != nil {
			return err
		}
		return sqlstore.AuditErasure(ctx, tx, s.Dialect, audit, deleted, len(units))
	})
	if err != nil {
		return nil, 0, wrap("erase customer", err)
	}
	s.bumpEventsMarker(ctx)
	return deleted, len(units), nil
}

// lockErasedUnits returns the units an erasure of customer erases
// (sqlstore.ErasedUnits) with the advisory locks of their buckets taken,
// to serialize with the ingests that maintain their rollups. An ingest that
// links a unit to a customer holds the customer's bucket too (IngestEvents),
// so once the customer's bucket is held no new link of it can commit
// unseen: the units are read again under the locks until no new one turns
// up.
func lockErasedUnits(ctx context.Context, tx *rtx, customer string) ([]string, error) {
	held := map[int64]bool{}
	units := []string{customer}
	for {
		var want []int64
		for _, u := range units {
			if b := unitBucket(u); !held[b] {
				held[b] = true
				want = append(want, b)
			}
		}
		if len(want) == 0 {
			return units, nil
		}
		if err := lockBuckets(ctx, tx, want); err != nil {
			return nil, err
		}
		var err error
		if units, err = sqlstore.ErasedUnits(ctx, tx, customer); err != nil {
			return nil, err
		}
	}
}

// TablesContaining returns "table.column" for every column of every table
// of the current schema holding a value whose text contains needle (used
// to verify an erasure).
func (s *Store) TablesContaining(ctx context.Context, needle string) ([]string, error) {
	var cols []sqlstore.Column
	if err := s.r.SelectContext(ctx, &cols, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`); err != nil {
		return nil, wrap("tables containing", err)
	}
	out, err := sqlstore.ColumnsContaining(ctx, s.r, cols, needle, "strpos")
	return out, wrap("tables containing", err)
}
