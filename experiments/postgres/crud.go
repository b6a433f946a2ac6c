package postgres

import (
	"context"

	"github.com/lib/pq"

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

func (dialect) TimeEncoding() sqlstore.TimeEncoding { return sqlstore.Timestamp }

func (dialect) Wrap(op string, err error) error { return wrap(op, err) }

func (dialect) MapErr(err error) error { return mapErr(err) }

func (dialect) InsertID(ctx context.Context, q sqlstore.Queryer, query string, args ...any) (int64, error) {
	var id int64
	err := q.GetContext(ctx, &id, query+" RETURNING id", args...)
	return id, err
}

// TextIn is one array parameter: any number of values in one statement.
func (dialect) TextIn(col string, values []string) (string, []any, []string) {
	return col + ` = ANY(CAST(? AS TEXT[]))`, []any{pq.Array(values)}, nil
}

// UpdateExperiment replaces the stored experiment if its revision is still
// e.Revision. When the attribution window changes, the experiment's
// attributed conversions are recomputed in the same transaction.
func (s *Store) UpdateExperiment(ctx context.Context, e *experiments.Experiment) error {
	return sqlstore.UpdateExperiment(ctx, s.Store, e, s.tx, func(tx *rtx) error {
		if err := lockAllUnits(ctx, tx); err != nil {
			return err
		}
		return recomputeExperiment(ctx, tx, e.Key)
	})
}

// recomputeExperiment rebuilds the attributed conversions of every
// exposed unit of the experiment key, after a change of its attribution
// window or costs. The caller holds every unit lock.
func recomputeExperiment(ctx context.Context, tx *rtx, key string) error {
	if err := resetTouched(ctx, tx); err != nil {
		return err
	}
	if err := sqlstore.TouchExperimentUnits(ctx, tx, key); err != nil {
		return err
	}
	return recomputeMetricsTouched(ctx, stmts{tx: tx})
}
