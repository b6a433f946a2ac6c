package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The parts of experiments.CustomerStore (migration 0002) that are the
// same SQL in both stores: consent, cap groups, capped units, spend, and
// the steps of an erasure.

// SetConsent stores a customer's consent.
func (s *Store) SetConsent(ctx context.Context, c *experiments.Consent) error {
	_, err := s.W.ExecContext(ctx, `INSERT INTO customer_consent (unit_id, promotions, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (unit_id) DO UPDATE SET promotions = excluded.promotions, updated_at = excluded.updated_at`,
		c.UnitID, c.Promotions, s.Dialect.TimeEncoding().Encode(c.UpdatedAt))
	return s.wrap("set consent", err)
}

// OptedOut returns the units that opted out of promotions, in as many
// queries as Dialect.TextIn needs for them.
func (s *Store) OptedOut(ctx context.Context, units []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(units) > 0 {
		in, args, rest := s.Dialect.TextIn("unit_id", units)
		var got []string
		if err := s.R.SelectContext(ctx, &got, `SELECT unit_id FROM customer_consent
		WHERE NOT promotions AND `+in, args...); err != nil {
			return nil, s.wrap("opted out", err)
		}
		for _, u := range got {
			out[u] = true
		}
		units = rest
	}
	return out, nil
}

// AllOptedOut returns every unit that opted out of promotions, or
// complete false (and no units) when there are more than limit; one scan
// of the partial index customer_consent_opted_out (migration 0012).
func (s *Store) AllOptedOut(ctx context.Context, limit int) ([]string, bool, error) {
	var units []string
	if err := s.R.SelectContext(ctx, &units, `SELECT unit_id FROM customer_consent WHERE NOT promotions LIMIT ?`, limit+1); err != nil {
		return nil, false, s.wrap("all opted out", err)
	}
	if len(units) > limit {
		return nil, false, nil
	}
	return units, true, nil
}

// PutCapGroup creates or replaces a cap group; g.CreatedAt becomes the
// stored creation time.
func (s *Store) PutCapGroup(ctx context.Context, g *experiments.CapGroup) error {
	enc := s.Dialect.TimeEncoding()
	var created Time
	err := s.W.GetContext(ctx, &created, `INSERT INTO cap_groups (name, max_exposures, window_us, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET max_exposures = excluded.max_exposures, window_us = excluded.window_us,
			updated_at = excluded.updated_at
		RETURNING created_at`, g.Name, g.MaxExposures, g.Window.Microseconds(), enc.Encode(g.CreatedAt), enc.Encode(g.UpdatedAt))
	if err != nil {
		return s.wrap("put cap group", err)
	}
	g.CreatedAt = created.Time
	return nil
}

// GetCapGroup returns a cap group or KindNotFound.
func (s *Store) GetCapGroup(ctx context.Context, name string) (*experiments.CapGroup, error) {
	var row struct {
		Name         string `db:"name"`
		MaxExposures int    `db:"max_exposures"`
		WindowUS     int64  `db:"window_us"`
		CreatedAt    Time   `db:"created_at"`
		UpdatedAt    Time   `db:"updated_at"`
	}
	err := s.R.GetContext(ctx, &row, `SELECT name, max_exposures, window_us, created_at, updated_at FROM cap_groups WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, experiments.NotFound("cap_group", name)
	}
	if err != nil {
		return nil, s.wrap("get cap group", err)
	}
	return &experiments.CapGroup{Name: row.Name, MaxExposures: row.MaxExposures,
		Window:    time.Duration(row.WindowUS) * time.Microsecond,
		CreatedAt: row.CreatedAt.Time, UpdatedAt: row.UpdatedAt.Time}, nil
}

// RecordCapped counts unit as frequency-capped in experiment.
func (s *Store) RecordCapped(ctx context.Context, experiment, unit string, at time.Time) error {
	t := s.Dialect.TimeEncoding().Encode(at)
	_, err := s.W.ExecContext(ctx, `INSERT INTO capped_units (experiment, unit_id, first_at, last_at, times) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (experiment, unit_id) DO UPDATE SET last_at = excluded.last_at, times = capped_units.times + 1`,
		experiment, unit, t, t)
	return s.wrap("record capped", err)
}

// CappedUnits counts the capped units of experiment.
func (s *Store) CappedUnits(ctx context.Context, experiment string) (int64, error) {
	var n int64
	err := s.R.GetContext(ctx, &n, `SELECT COUNT(*) FROM capped_units WHERE experiment = ?`, experiment)
	return n, s.wrap("capped units", err)
}

// VariantSpend returns the spend per variant of experiment: the cost of its
// unit_metrics rows and its erased_spend. The rows with conversions are
// read as the cost sums of slice_metrics (slicesums.go), the others
// through the partial index unit_metrics_unconverted (migration 0034),
// so that the spend reads a few rows per variant, not every unit's. (The
// CAST is for PostgreSQL, whose SUM of BIGINT is NUMERIC; SQLite's SUM of
// its INTEGER costs already is an integer.)
func (s *Store) VariantSpend(ctx context.Context, experiment string) (map[string]int64, error) {
	var rows []struct {
		Variant string `db:"variant"`
		Cost    int64  `db:"cost"`
	}
	err := s.R.SelectContext(ctx, &rows, `SELECT variant, CAST(SUM(cost) AS BIGINT) AS cost FROM (
		SELECT variant, cost FROM slice_metrics WHERE experiment = ?
		UNION ALL SELECT variant, cost FROM unit_metrics WHERE experiment = ? AND conversions <= 0
		UNION ALL SELECT variant, cost FROM erased_spend WHERE experiment = ?
	) x GROUP BY variant`, experiment, experiment, experiment)
	if err != nil {
		return nil, s.wrap("variant spend", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		if r.Cost != 0 {
			out[r.Variant] = r.Cost
		}
	}
	return out, nil
}

// Column names a column of a table (as the catalog queries select them).
type Column struct {
	Table  string `db:"table_name"`
	Column string `db:"column_name"`
}

// KeepErasedSpend adds the promotion cost of unit's conversions, per
// experiment and variant, to erased_spend: anonymously, so that a
// variant's spend against its budget does not shrink on erasure.
func KeepErasedSpend(ctx context.Context, tx Queryer, unit string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO erased_spend (experiment, variant, cost)
			SELECT r.experiment, r.first_variant, SUM(m.cost) FROM exposures_rollup r
			JOIN unit_metrics m ON m.experiment = r.experiment AND m.unit_id = r.unit_id
			WHERE r.unit_id = ? GROUP BY r.experiment, r.first_variant
			ON CONFLICT (experiment, variant) DO UPDATE SET cost = erased_spend.cost + excluded.cost`, unit)
	return err
}

// DeleteCustomerRows deletes the rows whose column (of cols: unit_id or
// customer_id) is unit and adds the counts by table to deleted.
func DeleteCustomerRows(ctx context.Context, tx Queryer, unit string, cols []Column, deleted map[string]int64) error {
	for _, tc := range cols {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+QuoteIdent(tc.Table)+` WHERE `+QuoteIdent(tc.Column)+` = ?`, unit)
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
	return nil
}

// AuditErasure appends audit (when not nil) to the audit log in tx, with
// the counts of deleted rows and of erased units as its After, and sets
// audit.ID.
func AuditErasure(ctx context.Context, tx Queryer, d Dialect, audit *experiments.AuditEntry, deleted map[string]int64, units int) error {
	if audit == nil {
		return nil
	}
	after, err := json.Marshal(map[string]any{"rows": deleted, "units": units})
	if err != nil {
		return err
	}
	audit.After = after
	id, err := d.InsertID(ctx, tx, `INSERT INTO audit_log (at, key_id, action, resource, environment, before, after)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, d.TimeEncoding().Encode(audit.At), audit.KeyID, audit.Action, audit.Resource, audit.Environment,
		nullJSON(audit.Before), nullJSON(audit.After))
	if err != nil {
		return err
	}
	audit.ID = id
	return nil
}

// ColumnsContaining returns "table.column" for each of cols holding a
// value whose text contains needle (used to verify an erasure). position
// is the database's position of a substring in a string, 0 when absent:
// strpos in PostgreSQL, instr in SQLite.
func ColumnsContaining(ctx context.Context, q Queryer, cols []Column, needle, position string) ([]string, error) {
	var out []string
	for _, tc := range cols {
		var n int
		if err := q.GetContext(ctx, &n, `SELECT COUNT(*) FROM `+QuoteIdent(tc.Table)+
			` WHERE `+position+`(CAST(`+QuoteIdent(tc.Column)+` AS TEXT), ?) > 0`, needle); err != nil {
			return nil, fmt.Errorf("%s: %w", tc.Table, err)
		}
		if n > 0 {
			out = append(out, tc.Table+"."+tc.Column)
		}
	}
	return out, nil
}

// QuoteIdent quotes an SQL identifier (standard SQL, as both databases
// read it).
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// linkRows is how many links one INSERT of RecordLinks carries (4
// parameters each, well under both databases' parameter limits).
const linkRows = 250

// RecordLinks inserts links into customer_links (migration 0018), those
// already stored left as they are, in as few statements as linkRows allows
// (one for an exposure batch's links); at is the linked_at of new ones.
func RecordLinks(ctx context.Context, q Queryer, enc TimeEncoding, links []experiments.UnitLink, at time.Time) error {
	t := enc.Encode(at)
	for len(links) > 0 {
		n := min(len(links), linkRows)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO customer_links (customer_id, attribute, unit_id, linked_at) VALUES `)
		args := make([]any, 0, 4*n)
		for i, l := range links[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?)")
			args = append(args, l.CustomerID, l.Attribute, l.UnitID, t)
		}
		sb.WriteString(` ON CONFLICT (customer_id, attribute, unit_id) DO NOTHING`)
		if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("record links: %w", err)
		}
		links = links[n:]
	}
	return nil
}

// LinkUnits records links (experiments.CustomerStore).
func (s *Store) LinkUnits(ctx context.Context, links []experiments.UnitLink) error {
	return s.wrap("link units", RecordLinks(ctx, s.W, s.Dialect.TimeEncoding(), links, time.Now()))
}

// ErasedUnits returns the units an erasure of customer erases: the
// customer first, then the units linked to it, each once.
func ErasedUnits(ctx context.Context, q Queryer, customer string) ([]string, error) {
	var linked []string
	if err := q.SelectContext(ctx, &linked, `SELECT DISTINCT unit_id FROM customer_links WHERE customer_id = ? ORDER BY unit_id`,
		customer); err != nil {
		return nil, fmt.Errorf("linked units: %w", err)
	}
	out := []string{customer}
	for _, u := range linked {
		if u != customer {
			out = append(out, u)
		}
	}
	return out, nil
}

// EraseUnits is the erasure of units (ErasedUnits) in tx over the columns
// cols that key a unit: their promotion cost kept in erased_spend, then
// every row of cols that is one of them deleted, counted by table in
// deleted.
func EraseUnits(ctx context.Context, tx Queryer, units []string, cols []Column, deleted map[string]int64) error {
	for _, u := range units {
		if err := KeepErasedSpend(ctx, tx, u); err != nil {
			return err
		}
	}
	for _, u := range units {
		if err := DeleteCustomerRows(ctx, tx, u, cols, deleted); err != nil {
			return err
		}
	}
	return nil
}
