package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
)

var _ experiments.CustomerStore = (*Store)(nil)

// SetConsent stores a customer's consent.
func (s *Store) SetConsent(ctx context.Context, c *experiments.Consent) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO customer_consent (unit_id, promotions, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (unit_id) DO UPDATE SET promotions = excluded.promotions, updated_at = excluded.updated_at`,
		c.UnitID, c.Promotions, micros(c.UpdatedAt))
	return wrap("set consent", err)
}

// OptedOut returns the units that opted out of promotions.
func (s *Store) OptedOut(ctx context.Context, units []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(units) == 0 {
		return out, nil
	}
	var got []string
	err := s.r.SelectContext(ctx, &got, `SELECT unit_id FROM customer_consent
		WHERE NOT promotions AND unit_id = ANY(CAST(? AS TEXT[]))`, pq.Array(units))
	if err != nil {
		return nil, wrap("opted out", err)
	}
	for _, u := range got {
		out[u] = true
	}
	return out, nil
}

// PutCapGroup creates or replaces a cap group.
func (s *Store) PutCapGroup(ctx context.Context, g *experiments.CapGroup) error {
	var created time.Time
	err := s.w.GetContext(ctx, &created, `INSERT INTO cap_groups (name, max_exposures, window_us, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET max_exposures = excluded.max_exposures, window_us = excluded.window_us,
			updated_at = excluded.updated_at
		RETURNING created_at`, g.Name, g.MaxExposures, g.Window.Microseconds(), micros(g.CreatedAt), micros(g.UpdatedAt))
	if err != nil {
		return wrap("put cap group", err)
	}
	g.CreatedAt = created.UTC()
	return nil
}

// GetCapGroup returns a cap group or KindNotFound.
func (s *Store) GetCapGroup(ctx context.Context, name string) (*experiments.CapGroup, error) {
	var row struct {
		Name         string    `db:"name"`
		MaxExposures int       `db:"max_exposures"`
		WindowUS     int64     `db:"window_us"`
		CreatedAt    time.Time `db:"created_at"`
		UpdatedAt    time.Time `db:"updated_at"`
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
		CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC()}, nil
}

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
		pq.Array(exps), pq.Array(vars), unit, micros(since))
	return n, wrap("count exposures", err)
}

// HasEvent reports whether the event is stored.
func (s *Store) HasEvent(ctx context.Context, id string) (bool, error) {
	var ok bool
	// event_ids holds exactly the ids of the stored events, by primary key
	// (events is partitioned by time and has no index on event_id).
	err := s.r.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM event_ids WHERE event_id = ?)`, id)
	return ok, wrap("has event", err)
}

// RecordCapped counts unit as frequency-capped in experiment.
func (s *Store) RecordCapped(ctx context.Context, experiment, unit string, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO capped_units (experiment, unit_id, first_at, last_at, times) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (experiment, unit_id) DO UPDATE SET last_at = excluded.last_at, times = capped_units.times + 1`,
		experiment, unit, micros(at), micros(at))
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
	err := s.r.SelectContext(ctx, &rows, `SELECT variant, CAST(SUM(cost) AS BIGINT) AS cost FROM (
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

func quoteIdent(s string) string { return pq.QuoteIdentifier(s) }

// EraseCustomer deletes every row about unit in one transaction.
func (s *Store) EraseCustomer(ctx context.Context, unit string, audit *experiments.AuditEntry) (map[string]int64, error) {
	var deleted map[string]int64
	err := s.tx(ctx, func(tx *rtx) error {
		deleted = map[string]int64{}
		// Serialize with the ingests that maintain this unit's rollups.
		if err := lockBuckets(ctx, tx, []int64{unitBucket(unit)}); err != nil {
			return err
		}
		// Keep the unit's promotion cost, anonymously, for the budgets.
		if _, err := tx.ExecContext(ctx, `INSERT INTO erased_spend (experiment, variant, cost)
			SELECT r.experiment, r.first_variant, SUM(m.cost) FROM exposures_rollup r
			JOIN unit_metrics m ON m.experiment = r.experiment AND m.unit_id = r.unit_id
			WHERE r.unit_id = ? GROUP BY r.experiment, r.first_variant
			ON CONFLICT (experiment, variant) DO UPDATE SET cost = erased_spend.cost + excluded.cost`, unit); err != nil {
			return err
		}
		// The dedupe rows of the unit's events: their ids may contain the
		// unit's ID, and event_ids has no unit_id column.
		res, err := tx.ExecContext(ctx, `DELETE FROM event_ids WHERE event_id IN (SELECT event_id FROM events WHERE unit_id = ?)`, unit)
		if err != nil {
			return fmt.Errorf("erase from event_ids: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			deleted["event_ids"] = n
		}
		var tables []struct {
			Table  string `db:"table_name"`
			Column string `db:"column_name"`
		}
		// Partitions (of events) are left out: deleting from the
		// partitioned table deletes from them.
		if err := tx.SelectContext(ctx, &tables, `SELECT c.table_name, c.column_name FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
				AND c.column_name IN ('unit_id', 'customer_id')
				AND NOT EXISTS (SELECT 1 FROM pg_class pc JOIN pg_namespace pn ON pn.oid = pc.relnamespace
					WHERE pn.nspname = c.table_schema AND pc.relname = c.table_name AND pc.relispartition)
			ORDER BY c.table_name, c.column_name`); err != nil {
			return err
		}
		for _, tc := range tables {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+quoteIdent(tc.Table)+` WHERE `+quoteIdent(tc.Column)+` = ?`, unit)
			if err != nil {
				return fmt.Errorf("erase from %s: %w", tc.Table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n > 0 {
				deleted[tc.Table] += n
			}
		}
		if audit != nil {
			after, err := json.Marshal(map[string]any{"rows": deleted})
			if err != nil {
				return err
			}
			audit.After = after
			return tx.GetContext(ctx, &audit.ID, `INSERT INTO audit_log (at, key_id, action, resource, before, after)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, micros(audit.At), audit.KeyID, audit.Action, audit.Resource,
				nullJSON(audit.Before), nullJSON(audit.After))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("erase customer", err)
	}
	return deleted, nil
}

// TablesContaining returns "table.column" for every column of every table
// of the current schema holding a value whose text contains needle (used
// to verify an erasure).
func (s *Store) TablesContaining(ctx context.Context, needle string) ([]string, error) {
	var cols []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	if err := s.r.SelectContext(ctx, &cols, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`); err != nil {
		return nil, wrap("tables containing", err)
	}
	var out []string
	for _, tc := range cols {
		var n int
		q := `SELECT COUNT(*) FROM ` + quoteIdent(tc.Table) + ` WHERE strpos(CAST(` + quoteIdent(tc.Column) + ` AS TEXT), ?) > 0`
		if err := s.r.GetContext(ctx, &n, q, needle); err != nil {
			return nil, wrap("tables containing "+tc.Table, err)
		}
		if n > 0 {
			out = append(out, tc.Table+"."+tc.Column)
		}
	}
	return out, nil
}
