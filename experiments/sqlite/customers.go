package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// Consent, cap groups, capped units and spend, and the steps of an
// erasure, are shared with the other SQL store (sqlstore/customers.go);
// what is left here is SQLite's own SQL.

var _ experiments.CustomerStore = (*Store)(nil)

// CountExposures counts unit's exposures to pairs at or after since.
func (s *Store) CountExposures(ctx context.Context, unit string, pairs []experiments.ExperimentVariant, since time.Time) (int, error) {
	if len(pairs) == 0 {
		return 0, nil
	}
	conds := make([]string, len(pairs))
	args := []any{unit, since.UnixMicro()}
	for i, p := range pairs {
		conds[i] = `(experiment = ? AND variant = ?)`
		args = append(args, p.Experiment, p.Variant)
	}
	var n int
	err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM events WHERE type = 'exposure' AND unit_id = ? AND ts >= ? AND (`+
		strings.Join(conds, " OR ")+`)`, args...)
	return n, wrap("count exposures", err)
}

// HasEvent reports whether the event is stored.
func (s *Store) HasEvent(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM events WHERE event_id = ?`, id)
	return n > 0, wrap("has event", err)
}

// CustomerSecret returns the installation's secret, creating it once.
func (s *Store) CustomerSecret(ctx context.Context) ([]byte, error) {
	var secret []byte
	err := s.r.GetContext(ctx, &secret, `SELECT secret FROM customer_secret WHERE id = 1`)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("customer secret", err)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("sqlite: customer secret: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO customer_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return nil, wrap("customer secret", err)
	}
	err = s.w.GetContext(ctx, &secret, `SELECT secret FROM customer_secret WHERE id = 1`)
	return secret, wrap("customer secret", err)
}

// customerTables lists the columns that key a customer (unit_id or
// customer_id), with their tables.
func customerTables(ctx context.Context, tx *sqlx.Tx) ([]sqlstore.Column, error) {
	var cols []sqlstore.Column
	err := tx.SelectContext(ctx, &cols, `SELECT m.name AS table_name, p.name AS column_name
		FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.name IN ('unit_id', 'customer_id') ORDER BY m.name, p.name`)
	return cols, err
}

// EraseCustomer deletes every row about unit and the units linked to it
// in one transaction (the single writer connection serializes it with
// every ingest, so no link can be added meanwhile).
func (s *Store) EraseCustomer(ctx context.Context, unit string, audit *experiments.AuditEntry) (map[string]int64, int, error) {
	deleted := map[string]int64{}
	var units []string
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if units, err = sqlstore.ErasedUnits(ctx, tx, unit); err != nil {
			return err
		}
		tables, err := customerTables(ctx, tx)
		if err != nil {
			return err
		}
		if err := sqlstore.EraseUnits(ctx, tx, units, tables, deleted); err != nil {
			return err
		}
		// The ingest's scratch tables of this connection.
		if err := resetTouched(ctx, tx); err != nil {
			return err
		}
		return sqlstore.AuditErasure(ctx, tx, s.Dialect, audit, deleted, len(units))
	})
	if err != nil {
		return nil, 0, wrap("erase customer", err)
	}
	return deleted, len(units), nil
}

// TablesContaining returns "table.column" for every column of every table
// of the database holding a value whose text contains needle (used to
// verify an erasure).
func (s *Store) TablesContaining(ctx context.Context, needle string) ([]string, error) {
	var cols []sqlstore.Column
	if err := s.r.SelectContext(ctx, &cols, `SELECT m.name AS table_name, p.name AS column_name
		FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY m.name, p.cid`); err != nil {
		return nil, wrap("tables containing", err)
	}
	out, err := sqlstore.ColumnsContaining(ctx, s.r, cols, needle, "instr")
	return out, wrap("tables containing", err)
}
