package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
)

// Store runs the shared CRUD on W (writes) and R (reads) in Dialect.
type Store struct {
	W, R    Queryer
	Dialect Dialect
}

func (s *Store) wrap(op string, err error) error { return s.Dialect.Wrap(op, err) }

func (s *Store) mapErr(err error) error { return s.Dialect.MapErr(err) }

const experimentColumns = `key, name, hypothesis, owner, environment, status, unit_attribute,
	fallback_attribute, seed, hash_version, bucket_version, min_bucket_version, sticky, coverage,
	variants, namespace, layer, condition, primary_metric, secondary_metrics, guardrail_metrics,
	attribution_window_us, segments, personalization, engine, sequential_tuning, cap_group, min_roi,
	alternative, lower_is_better_metrics, planned_mde, allocation,
	started_at, ended_at, created_at, updated_at, revision`

func namedValues(cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = ":" + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func namedSets(cols string, skip ...string) string {
	var out []string
outer:
	for _, p := range strings.Split(cols, ",") {
		p = strings.TrimSpace(p)
		for _, s := range skip {
			if p == s {
				continue outer
			}
		}
		out = append(out, p+" = :"+p)
	}
	return strings.Join(out, ", ")
}

var (
	insertExperimentSQL = `INSERT INTO experiments (` + experimentColumns + `) VALUES (` + namedValues(experimentColumns) + `)`
	updateExperimentSQL = `UPDATE experiments SET ` + namedSets(experimentColumns, "key", "revision", "created_at") +
		`, revision = :revision + 1 WHERE key = :key AND revision = :revision`
)

// CreateExperiment stores a new experiment with Revision 1.
func (s *Store) CreateExperiment(ctx context.Context, e *experiments.Experiment) error {
	row, err := toExperimentRow(s.Dialect.TimeEncoding(), e)
	if err != nil {
		return s.wrap("create experiment", err)
	}
	row.Revision = 1
	if _, err := s.W.NamedExecContext(ctx, insertExperimentSQL, row); err != nil {
		if experiments.KindOf(s.mapErr(err)) == experiments.KindConflict {
			return s.wrap("create experiment", experiments.Conflict("experiment_exists", "experiment %q already exists", e.Key))
		}
		return s.wrap("create experiment", err)
	}
	e.Revision = 1
	return nil
}

// GetExperiment returns the experiment or a KindNotFound error.
func (s *Store) GetExperiment(ctx context.Context, key string) (*experiments.Experiment, error) {
	var row experimentRow
	err := s.R.GetContext(ctx, &row, `SELECT `+experimentColumns+` FROM experiments WHERE key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrap("get experiment", experiments.NotFound("experiment", key))
	}
	if err != nil {
		return nil, s.wrap("get experiment", err)
	}
	e, err := row.toDomain()
	if err != nil {
		return nil, s.wrap("get experiment", err)
	}
	return e, nil
}

// ListExperiments returns matching experiments ordered by key.
func (s *Store) ListExperiments(ctx context.Context, f experiments.ExperimentFilter) ([]*experiments.Experiment, error) {
	var rows []experimentRow
	err := s.R.SelectContext(ctx, &rows, `SELECT `+experimentColumns+` FROM experiments
		WHERE (? = '' OR environment = ?) AND (? = '' OR status = ?) ORDER BY key`,
		f.Environment, f.Environment, string(f.Status), string(f.Status))
	if err != nil {
		return nil, s.wrap("list experiments", err)
	}
	out := make([]*experiments.Experiment, 0, len(rows))
	for i := range rows {
		e, err := rows[i].toDomain()
		if err != nil {
			return nil, s.wrap("list experiments", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// UpdateExperiment replaces the stored experiment if its revision is still
// e.Revision. When the attribution window or the environment changes, the
// experiment's attributed conversions are recomputed in the same
// transaction (which conversions count depends on both).
//
// inTx runs its function in a transaction of the store; windowChanged runs
// in that transaction after the update when the attribution window or the
// environment changed, and recomputes what depends on them (see
// TouchExperimentUnits).
func UpdateExperiment[T Queryer](ctx context.Context, s *Store, e *experiments.Experiment,
	inTx func(context.Context, func(T) error) error, windowChanged func(tx T) error) error {
	row, err := toExperimentRow(s.Dialect.TimeEncoding(), e)
	if err != nil {
		return s.wrap("update experiment", err)
	}
	err = inTx(ctx, func(tx T) error {
		var old struct {
			Revision    int64  `db:"revision"`
			Window      int64  `db:"attribution_window_us"`
			Environment string `db:"environment"`
		}
		err := tx.GetContext(ctx, &old, `SELECT revision, attribution_window_us, environment FROM experiments WHERE key = ?`, e.Key)
		if errors.Is(err, sql.ErrNoRows) {
			return experiments.NotFound("experiment", e.Key)
		}
		if err != nil {
			return err
		}
		if old.Revision != e.Revision {
			return revisionConflict("experiment", e.Key)
		}
		res, err := tx.NamedExecContext(ctx, updateExperimentSQL, row)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return revisionConflict("experiment", e.Key)
		}
		if old.Window != row.AttributionWindowUS || old.Environment != row.Environment {
			if err := windowChanged(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.wrap("update experiment", err)
	}
	e.Revision++
	return nil
}

// TouchExperimentUnits marks every exposed unit of the experiment key as
// touched, for the recomputation after an attribution window change.
func TouchExperimentUnits(ctx context.Context, tx Queryer, key string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO touched (experiment, unit_id)
				SELECT experiment, unit_id FROM exposures_rollup WHERE experiment = ?`, key)
	return err
}

func revisionConflict(what, key string) error {
	return experiments.Conflict("revision_conflict", "%s %q was changed by another writer", what, key)
}

const flagColumns = `key, description, environment, type, variants, default_variant, enabled, rules,
	created_at, updated_at, revision`

var (
	insertFlagSQL = `INSERT INTO flags (` + flagColumns + `) VALUES (` + namedValues(flagColumns) + `)`
	updateFlagSQL = `UPDATE flags SET ` + namedSets(flagColumns, "key", "revision", "created_at") +
		`, revision = :revision + 1 WHERE key = :key AND revision = :revision`
)

// CreateFlag stores a new flag with Revision 1.
func (s *Store) CreateFlag(ctx context.Context, f *experiments.Flag) error {
	row, err := toFlagRow(s.Dialect.TimeEncoding(), f)
	if err != nil {
		return s.wrap("create flag", err)
	}
	row.Revision = 1
	if _, err := s.W.NamedExecContext(ctx, insertFlagSQL, row); err != nil {
		if experiments.KindOf(s.mapErr(err)) == experiments.KindConflict {
			return s.wrap("create flag", experiments.Conflict("flag_exists", "flag %q already exists", f.Key))
		}
		return s.wrap("create flag", err)
	}
	f.Revision = 1
	return nil
}

// GetFlag returns the flag or a KindNotFound error.
func (s *Store) GetFlag(ctx context.Context, key string) (*experiments.Flag, error) {
	var row flagRow
	err := s.R.GetContext(ctx, &row, `SELECT `+flagColumns+` FROM flags WHERE key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrap("get flag", experiments.NotFound("flag", key))
	}
	if err != nil {
		return nil, s.wrap("get flag", err)
	}
	f, err := row.toDomain()
	if err != nil {
		return nil, s.wrap("get flag", err)
	}
	return f, nil
}

// ListFlags returns the flags of environment ("" for all) ordered by key.
func (s *Store) ListFlags(ctx context.Context, environment string) ([]*experiments.Flag, error) {
	var rows []flagRow
	err := s.R.SelectContext(ctx, &rows, `SELECT `+flagColumns+` FROM flags
		WHERE (? = '' OR environment = ?) ORDER BY key`, environment, environment)
	if err != nil {
		return nil, s.wrap("list flags", err)
	}
	out := make([]*experiments.Flag, 0, len(rows))
	for i := range rows {
		f, err := rows[i].toDomain()
		if err != nil {
			return nil, s.wrap("list flags", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// UpdateFlag replaces the stored flag if its revision is still f.Revision.
func (s *Store) UpdateFlag(ctx context.Context, f *experiments.Flag) error {
	row, err := toFlagRow(s.Dialect.TimeEncoding(), f)
	if err != nil {
		return s.wrap("update flag", err)
	}
	res, err := s.W.NamedExecContext(ctx, updateFlagSQL, row)
	if err != nil {
		return s.wrap("update flag", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("update flag", err)
	} else if n == 0 {
		var one int
		err := s.W.GetContext(ctx, &one, `SELECT 1 FROM flags WHERE key = ?`, f.Key)
		if errors.Is(err, sql.ErrNoRows) {
			return s.wrap("update flag", experiments.NotFound("flag", f.Key))
		}
		if err != nil {
			return s.wrap("update flag", err)
		}
		return s.wrap("update flag", revisionConflict("flag", f.Key))
	}
	f.Revision++
	return nil
}

// DeleteFlag removes a flag; KindNotFound if absent.
func (s *Store) DeleteFlag(ctx context.Context, key string) error {
	res, err := s.W.ExecContext(ctx, `DELETE FROM flags WHERE key = ?`, key)
	if err != nil {
		return s.wrap("delete flag", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("delete flag", err)
	} else if n == 0 {
		return s.wrap("delete flag", experiments.NotFound("flag", key))
	}
	return nil
}

const keyColumns = `id, name, scope, environment, salt, hash, created_at, last_used_at, revoked_at`

// CreateKey stores a key; KindConflict if the ID exists.
func (s *Store) CreateKey(ctx context.Context, k *experiments.APIKey) error {
	if _, err := s.W.NamedExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (`+namedValues(keyColumns)+`)`, toKeyRow(s.Dialect.TimeEncoding(), k)); err != nil {
		if experiments.KindOf(s.mapErr(err)) == experiments.KindConflict {
			return s.wrap("create key", experiments.Conflict("key_exists", "API key %q already exists", k.ID))
		}
		return s.wrap("create key", err)
	}
	return nil
}

// GetKey returns the key with id (revoked ones too) or KindNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (*experiments.APIKey, error) {
	var row keyRow
	err := s.R.GetContext(ctx, &row, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrap("get key", experiments.NotFound("api_key", id))
	}
	if err != nil {
		return nil, s.wrap("get key", err)
	}
	return row.toDomain(), nil
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*experiments.APIKey, error) {
	var rows []keyRow
	if err := s.R.SelectContext(ctx, &rows, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`); err != nil {
		return nil, s.wrap("list keys", err)
	}
	out := make([]*experiments.APIKey, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// RevokeKey marks the key revoked at the given time, keeping an earlier
// revocation; KindNotFound if absent.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.W.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, s.Dialect.TimeEncoding().Encode(at), id)
	if err != nil {
		return s.wrap("revoke key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("revoke key", err)
	} else if n == 0 {
		return s.wrap("revoke key", experiments.NotFound("api_key", id))
	}
	return nil
}

// TouchKey records that the key was used at the given time; KindNotFound if
// absent.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.W.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, s.Dialect.TimeEncoding().Encode(at), id)
	if err != nil {
		return s.wrap("touch key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("touch key", err)
	} else if n == 0 {
		return s.wrap("touch key", experiments.NotFound("api_key", id))
	}
	return nil
}

// CountKeys returns the number of keys, revoked ones included.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.R.GetContext(ctx, &n, `SELECT COUNT(*) FROM api_keys`); err != nil {
		return 0, s.wrap("count keys", err)
	}
	return n, nil
}

// AppendAudit appends e to the audit log and sets e.ID (and e.At when zero).
func (s *Store) AppendAudit(ctx context.Context, e *experiments.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	id, err := s.Dialect.InsertID(ctx, s.W, `INSERT INTO audit_log (at, key_id, action, resource, environment, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.Dialect.TimeEncoding().Encode(e.At), e.KeyID, e.Action, e.Resource, e.Environment,
		nullJSON(e.Before), nullJSON(e.After))
	if err != nil {
		return s.wrap("append audit", err)
	}
	e.ID = id
	return nil
}

// ListAudit returns the entries f selects, newest first.
func (s *Store) ListAudit(ctx context.Context, f experiments.AuditFilter) ([]*experiments.AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var rows []auditRow
	err := s.R.SelectContext(ctx, &rows, `SELECT id, at, key_id, action, resource, environment, before, after FROM audit_log
		WHERE (? <= 0 OR id < ?) AND (? = '' OR environment = ?) ORDER BY id DESC LIMIT ?`,
		f.BeforeID, f.BeforeID, f.Environment, f.Environment, f.Limit)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	out := make([]*experiments.AuditEntry, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}
