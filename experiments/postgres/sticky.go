package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lib/pq"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

var _ experiments.StickyStore = (*Store)(nil)

// LoadSticky returns the stored sticky bucket docs of keys.
func (s *Store) LoadSticky(ctx context.Context, keys []experiments.StickyKey) ([]assign.StickyDoc, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	names := make([]string, len(keys))
	units := make([]string, len(keys))
	for i, k := range keys {
		names[i], units[i] = k.AttributeName, k.UnitID
	}
	var rows []struct {
		Name        string `db:"attribute_name"`
		Unit        string `db:"unit_id"`
		Assignments []byte `db:"assignments"`
	}
	err := s.r.SelectContext(ctx, &rows, `SELECT s.attribute_name, s.unit_id, s.assignments
		FROM sticky_assignments s
		JOIN unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS k(attribute_name, unit_id)
			ON s.attribute_name = k.attribute_name AND s.unit_id = k.unit_id`, pq.Array(names), pq.Array(units))
	if err != nil {
		return nil, wrap("load sticky", err)
	}
	out := make([]assign.StickyDoc, 0, len(rows))
	for _, r := range rows {
		doc := assign.StickyDoc{AttributeName: r.Name, AttributeValue: r.Unit}
		if err := json.Unmarshal(r.Assignments, &doc.Assignments); err != nil {
			return nil, wrap("load sticky", fmt.Errorf("assignments of %s: %w", r.Name, err))
		}
		out = append(out, doc)
	}
	return out, nil
}

// SaveSticky upserts docs in one statement, merging their assignments
// into the stored ones. The rows are written in key order, so concurrent
// saves of overlapping units do not deadlock.
func (s *Store) SaveSticky(ctx context.Context, docs []assign.StickyDoc) error {
	docs = experiments.MergeStickyDocs(docs)
	if len(docs) == 0 {
		return nil
	}
	names := make([]string, len(docs))
	units := make([]string, len(docs))
	assignments := make([]string, len(docs))
	for i, d := range docs {
		a, err := json.Marshal(d.Assignments)
		if err != nil {
			return wrap("save sticky", err)
		}
		names[i], units[i], assignments[i] = d.AttributeName, d.AttributeValue, string(a)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sticky_assignments (attribute_name, unit_id, assignments, updated_at)
		SELECT k.attribute_name, k.unit_id, CAST(k.assignments AS JSONB), now()
		FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[])) WITH ORDINALITY AS k(attribute_name, unit_id, assignments, n)
		ORDER BY k.n
		ON CONFLICT (attribute_name, unit_id) DO UPDATE SET
			assignments = sticky_assignments.assignments || excluded.assignments,
			updated_at = excluded.updated_at`, pq.Array(names), pq.Array(units), pq.Array(assignments))
	return wrap("save sticky", err)
}
