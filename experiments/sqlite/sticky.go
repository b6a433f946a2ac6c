package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

var _ experiments.StickyStore = (*Store)(nil)

// stickyBatch bounds the docs of one statement (two or four parameters
// each).
const stickyBatch = 200

// LoadSticky returns the stored sticky bucket docs of keys.
func (s *Store) LoadSticky(ctx context.Context, keys []experiments.StickyKey) ([]assign.StickyDoc, error) {
	var out []assign.StickyDoc
	for len(keys) > 0 {
		n := min(len(keys), stickyBatch)
		args := make([]any, 0, 2*n)
		for _, k := range keys[:n] {
			args = append(args, k.AttributeName, k.UnitID)
		}
		var rows []struct {
			Name        string `db:"attribute_name"`
			Unit        string `db:"unit_id"`
			Assignments string `db:"assignments"`
		}
		err := s.r.SelectContext(ctx, &rows, `SELECT attribute_name, unit_id, assignments FROM sticky_assignments
			WHERE (attribute_name, unit_id) IN (VALUES `+stickyPlaceholders("(?, ?)", n)+`)`, args...)
		if err != nil {
			return nil, wrap("load sticky", err)
		}
		for _, r := range rows {
			doc := assign.StickyDoc{AttributeName: r.Name, AttributeValue: r.Unit}
			if err := json.Unmarshal([]byte(r.Assignments), &doc.Assignments); err != nil {
				return nil, wrap("load sticky", fmt.Errorf("assignments of %s: %w", r.Name, err))
			}
			out = append(out, doc)
		}
		keys = keys[n:]
	}
	return out, nil
}

// SaveSticky upserts docs, merging their assignments into the stored ones.
func (s *Store) SaveSticky(ctx context.Context, docs []assign.StickyDoc) error {
	docs = experiments.MergeStickyDocs(docs)
	now := time.Now().UnixMicro()
	for len(docs) > 0 {
		n := min(len(docs), stickyBatch)
		args := make([]any, 0, 4*n)
		for _, d := range docs[:n] {
			a, err := json.Marshal(d.Assignments)
			if err != nil {
				return wrap("save sticky", err)
			}
			args = append(args, d.AttributeName, d.AttributeValue, string(a), now)
		}
		_, err := s.w.ExecContext(ctx, `INSERT INTO sticky_assignments (attribute_name, unit_id, assignments, updated_at)
			VALUES `+stickyPlaceholders("(?, ?, ?, ?)", n)+`
			ON CONFLICT (attribute_name, unit_id) DO UPDATE SET
				assignments = json_patch(sticky_assignments.assignments, excluded.assignments),
				updated_at = excluded.updated_at`, args...)
		if err != nil {
			return wrap("save sticky", err)
		}
		docs = docs[n:]
	}
	return nil
}

// stickyPlaceholders repeats tuple n times, comma-separated.
func stickyPlaceholders(tuple string, n int) string {
	return strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")
}
