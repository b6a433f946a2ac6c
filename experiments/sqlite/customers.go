package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
)

var _ experiments.CustomerStore = (*Store)(nil)

// SetConsent stores a customer's consent.
func (s *Store) SetConsent(ctx context.Context, c *experiments.Consent) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO customer_consent (unit_id, promotions, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (unit_id) DO UPDATE SET promotions = excluded.promotions, updated_at = excluded.updated_at`,
		c.UnitID, c.Promotions, c.UpdatedAt.UnixMicro())
	return wrap("set consent", err)
}

// OptedOut returns the units that opted out of promotions.
func (s *Store) OptedOut(ctx context.Context, units []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(units) > 0 {
		n := min(len(units), 500)
		q, args, err := sqlx.In(`SELECT unit_id FROM customer_consent WHERE NOT promotions AND unit_id IN (?)`, units[:n])
		if err != nil {
			return nil, wrap("opted out", err)
		}
		var got []string
		if err := s.r.SelectContext(ctx, &got, q, args...); err != nil {
			return nil, wrap("opted out", err)
		}
		for _, u := range got {
			out[u] = true
		}
		units = units[n:]
	}
	return out, nil
}

// PutCapGroup creates or replaces a cap group.
func (s *Store) PutCapGroup(ctx context.Context, g *experiments.CapGroup) error {
	var created int64
	err := s.w.GetContext(ctx, &created, `INSERT INTO cap_groups (name, max_exposures, window_us, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET max_exposures = excluded.max_exposures, window_us = excluded.window_us,
			updated_at = excluded.updated_at
		RETURNING created_at`, g.Name, g.MaxExposures, g.Window.Microseconds(), g.CreatedAt.UnixMicro(), g.UpdatedAt.UnixMicro())
	if err != nil {
		return wrap("put cap group", err)
	}
	g.CreatedAt = time.UnixMicro(created).UTC()
	return nil
}

// GetCapGroup returns a cap group or KindNotFound.
func (s *Store) GetCapGroup(ctx context.Context, name string) (*experiments.CapGroup, error) {
	var row struct {
		Name         string `db:"name"`
		MaxExposures int    `db:"max_exposures"`
		WindowUS     int64  `db:"window_us"`
		CreatedAt    int64  `db:"created_at"`
		UpdatedAt    int64  `db:"updated_at"`
	}
	err := s.r.GetContext(ctx, &row, `SELECT name, max_exposures, window_us, created_at, updated_at FROM cap_groups WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, experiments.NotFound("cap_group", name)
	}
	if err != nil {
		return nil, wrap("get cap group", err)
	}
	return &experiments.CapGroup{Name: row.Name, MaxExposures: row.MaxExposures,
		Window:    time.Duration(row.WindowUS) * time.Microsecond,
		CreatedAt: time.UnixMicro(row.CreatedAt).UTC(), UpdatedAt: time.UnixMicro(row.UpdatedAt).UTC()}, nil
}

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

// RecordCapped counts unit as frequency-capped in experiment.
func (s *Store) RecordCapped(ctx context.Context, experiment, unit string, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO capped_units (experiment, unit_id, first_at, last_at, times) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (experiment, unit_id) DO UPDATE SET last_at = excluded.last_at, times = capped_units.times + 1`,
		experiment, unit, at.UnixMicro(), at.UnixMicro())
	return wrap("record capped", err)
}

// CappedUnits counts the capped units of experiment.
func (s *Store) CappedUnits(ctx context.Context, experiment string) (int64, error) {
	var n int64
	err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM capped_units WHERE experiment = ?`, experiment)
	return n, wrap("capped units", err)
}

// VariantSpend returns the spend per variant of experiment.
func (s *Store) VariantSpend(ctx context.Context, experiment string) (map[string]int64, error) {
	var rows []struct {
		Variant string `db:"variant"`
		Cost    int64  `db:"cost"`
	}
	err := s.r.SelectContext(ctx, &rows, `SELECT variant, SUM(cost) AS cost FROM (
		SELECT variant, cost FROM unit_metrics WHERE experiment = ?
		UNION ALL SELECT variant, cost FROM erased_spend WHERE experiment = ?
	) x GROUP BY variant`, experiment, experiment)
	if err != nil {
		return nil, wrap("variant spend", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		if r.Cost != 0 {
			out[r.Variant] = r.Cost
		}
	}
	return out, nil
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

// customerTables lists the tables with a column that keys a customer
// (unit_id or customer_id), with that column.
func customerTables(ctx context.Context, tx *sqlx.Tx) ([][2]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.name IN ('unit_id', 'customer_id') ORDER BY m.name, p.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		out = append(out, [2]string{t, c})
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// EraseCustomer deletes every row about unit in one transaction.
func (s *Store) EraseCustomer(ctx context.Context, unit string, audit *experiments.AuditEntry) (map[string]int64, error) {
	deleted := map[string]int64{}
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		// Keep the unit's promotion cost, anonymously, for the budgets.
		if _, err := tx.ExecContext(ctx, `INSERT INTO erased_spend (experiment, variant, cost)
			SELECT r.experiment, r.first_variant, SUM(m.cost) FROM exposures_rollup r
			JOIN unit_metrics m ON m.experiment = r.experiment AND m.unit_id = r.unit_id
			WHERE r.unit_id = ? GROUP BY r.experiment, r.first_variant
			ON CONFLICT (experiment, variant) DO UPDATE SET cost = erased_spend.cost + excluded.cost`, unit); err != nil {
			return err
		}
		tables, err := customerTables(ctx, tx)
		if err != nil {
			return err
		}
		for _, tc := range tables {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+quoteIdent(tc[0])+` WHERE `+quoteIdent(tc[1])+` = ?`, unit)
			if err != nil {
				return fmt.Errorf("erase from %s: %w", tc[0], err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n > 0 {
				deleted[tc[0]] += n
			}
		}
		// The ingest's scratch tables of this connection.
		if err := resetTouched(ctx, tx); err != nil {
			return err
		}
		if audit != nil {
			after, err := json.Marshal(map[string]any{"rows": deleted})
			if err != nil {
				return err
			}
			audit.After = after
			res, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, key_id, action, resource, before, after)
				VALUES (?, ?, ?, ?, ?, ?)`, micros(audit.At), audit.KeyID, audit.Action, audit.Resource, nullJSON(audit.Before), nullJSON(audit.After))
			if err != nil {
				return err
			}
			if audit.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("erase customer", err)
	}
	return deleted, nil
}

// TablesContaining returns "table.column" for every column of every table
// of the database holding a value whose text contains needle (used to
// verify an erasure).
func (s *Store) TablesContaining(ctx context.Context, needle string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, wrap("tables containing", err)
	}
	var cols [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return nil, wrap("tables containing", err)
		}
		cols = append(cols, [2]string{t, c})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("tables containing", err)
	}
	var out []string
	for _, tc := range cols {
		var n int
		if err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM `+quoteIdent(tc[0])+` WHERE instr(CAST(`+quoteIdent(tc[1])+` AS TEXT), ?) > 0`, needle); err != nil {
			return nil, wrap("tables containing", err)
		}
		if n > 0 {
			out = append(out, tc[0]+"."+tc[1])
		}
	}
	return out, nil
}
