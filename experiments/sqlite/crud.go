package sqlite

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// The CRUD of experiments, flags, API keys and the audit log is shared
// with the other SQL store in package sqlstore; dialect is what differs.

type dialect struct{}

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

// common returns the shared CRUD on the store's handles.
func (s *Store) common() *sqlstore.Store {
	return &sqlstore.Store{W: s.w, R: s.r, Dialect: dialect{}}
}

// CreateExperiment stores a new experiment with Revision 1.
func (s *Store) CreateExperiment(ctx context.Context, e *experiments.Experiment) error {
	return s.common().CreateExperiment(ctx, e)
}

// GetExperiment returns the experiment or a KindNotFound error.
func (s *Store) GetExperiment(ctx context.Context, key string) (*experiments.Experiment, error) {
	return s.common().GetExperiment(ctx, key)
}

// ListExperiments returns matching experiments ordered by key.
func (s *Store) ListExperiments(ctx context.Context, f experiments.ExperimentFilter) ([]*experiments.Experiment, error) {
	return s.common().ListExperiments(ctx, f)
}

// UpdateExperiment replaces the stored experiment if its revision is still
// e.Revision. When the attribution window changes, the experiment's
// attributed conversions are recomputed in the same transaction.
func (s *Store) UpdateExperiment(ctx context.Context, e *experiments.Experiment) error {
	return sqlstore.UpdateExperiment(ctx, s.common(), e, s.tx, func(tx *sqlx.Tx) error {
		if err := resetTouched(ctx, tx); err != nil {
			return err
		}
		if err := sqlstore.TouchExperimentUnits(ctx, tx, e.Key); err != nil {
			return err
		}
		return recomputeMetricsTouched(ctx, tx)
	})
}

// CreateFlag stores a new flag with Revision 1.
func (s *Store) CreateFlag(ctx context.Context, f *experiments.Flag) error {
	return s.common().CreateFlag(ctx, f)
}

// GetFlag returns the flag or a KindNotFound error.
func (s *Store) GetFlag(ctx context.Context, key string) (*experiments.Flag, error) {
	return s.common().GetFlag(ctx, key)
}

// ListFlags returns the flags of environment ("" for all) ordered by key.
func (s *Store) ListFlags(ctx context.Context, environment string) ([]*experiments.Flag, error) {
	return s.common().ListFlags(ctx, environment)
}

// UpdateFlag replaces the stored flag if its revision is still f.Revision.
func (s *Store) UpdateFlag(ctx context.Context, f *experiments.Flag) error {
	return s.common().UpdateFlag(ctx, f)
}

// DeleteFlag removes a flag; KindNotFound if absent.
func (s *Store) DeleteFlag(ctx context.Context, key string) error {
	return s.common().DeleteFlag(ctx, key)
}

// CreateKey stores a key; KindConflict if the ID exists.
func (s *Store) CreateKey(ctx context.Context, k *experiments.APIKey) error {
	return s.common().CreateKey(ctx, k)
}

// GetKey returns the key with id (revoked ones too) or KindNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (*experiments.APIKey, error) {
	return s.common().GetKey(ctx, id)
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*experiments.APIKey, error) {
	return s.common().ListKeys(ctx)
}

// RevokeKey marks the key revoked at the given time, keeping an earlier
// revocation; KindNotFound if absent.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.common().RevokeKey(ctx, id, at)
}

// TouchKey records that the key was used at the given time; KindNotFound if
// absent.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	return s.common().TouchKey(ctx, id, at)
}

// CountKeys returns the number of keys, revoked ones included.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	return s.common().CountKeys(ctx)
}

// AppendAudit appends e to the audit log and sets e.ID (and e.At when zero).
func (s *Store) AppendAudit(ctx context.Context, e *experiments.AuditEntry) error {
	return s.common().AppendAudit(ctx, e)
}

// ListAudit returns entries newest first, at most limit (100 when limit <=
// 0), with IDs below beforeID when beforeID > 0.
func (s *Store) ListAudit(ctx context.Context, limit int, beforeID int64) ([]*experiments.AuditEntry, error) {
	return s.common().ListAudit(ctx, limit, beforeID)
}
