package sqlite

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// The CRUD of experiments, flags, API keys and the audit log is shared
// with the other SQL store: Store embeds a *sqlstore.Store on its handles
// (newCommon), whose methods it promotes; dialect is what differs.

type dialect struct{}

// newCommon is the shared CRUD on the store's handles.
func newCommon(w, r sqlstore.Queryer) *sqlstore.Store {
	return &sqlstore.Store{W: w, R: r, Dialect: dialect{}}
}

func (dialect) TimeEncoding() sqlstore.TimeEncoding { return sqlstore.UnixMicros }

func (dialect) Wrap(op string, err error) error { return wrap(op, err) }

func (dialect) MapErr(err error) error { return mapErr(err) }

func (dialect) InsertID(ctx context.Context, q sqlstore.Queryer, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// maxTextIn bounds the values of one IN list (SQLite's historical limit on
// the parameters of a statement is 999).
const maxTextIn = 500

// TextIn is an IN list of at most maxTextIn parameters.
func (dialect) TextIn(col string, values []string) (string, []any, []string) {
	n := min(len(values), maxTextIn)
	args := make([]any, n)
	for i, v := range values[:n] {
		args[i] = v
	}
	return col + ` IN (` + strings.TrimSuffix(strings.Repeat(`?, `, n), `, `) + `)`, args, values[n:]
}

// UpdateExperiment replaces the stored experiment if its revision is still
// e.Revision. When the attribution window changes, the experiment's
// attributed conversions are recomputed in the same transaction.
func (s *Store) UpdateExperiment(ctx context.Context, e *experiments.Experiment) error {
	return sqlstore.UpdateExperiment(ctx, s.Store, e, s.tx, func(tx *sqlx.Tx) error {
		return recomputeExperiment(ctx, tx, e.Key)
	})
}

// recomputeExperiment rebuilds the attributed conversions of every
// exposed unit of the experiment key, after a change of its attribution
// window or costs.
func recomputeExperiment(ctx context.Context, tx *sqlx.Tx, key string) error {
	if err := resetTouched(ctx, tx); err != nil {
		return err
	}
	if err := sqlstore.TouchExperimentUnits(ctx, tx, key); err != nil {
		return err
	}
	return recomputeMetricsTouched(ctx, tx)
}
