package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// The per-unit time-window queries of the report that the rollups cannot
// answer alone, repurchase cohorts and the CUPED pre-period, are shared
// with the other SQL store (sqlstore/cohorts.go); cohortDialect is this
// database's SQL in them.

var _ experiments.CohortStore = (*Store)(nil)

// cohortDialect casts every parameter and adds durations as intervals of
// microseconds (never calendar days, which DST would stretch).
var cohortDialect = sqlstore.CohortDialect{StatsDialect: statsDialect,
	IntParam: `CAST(? AS INTEGER)`, TextParam: `CAST(? AS TEXT)`, TimeParam: `CAST(? AS TIMESTAMPTZ)`,
	TimeArg: func(t time.Time) any { return t.UTC() },
	Micros:  ` * INTERVAL '1 microsecond'`,
	WeeksSince: func(ts, f string) string {
		return `CAST(FLOOR(EXTRACT(EPOCH FROM ` + ts + ` - ` + f + `) / ` + fmt.Sprint(7*24*3600) + `) AS INTEGER)`
	},
	JoinEvents: `JOIN`, MoneyDialect: sqlstore.MoneyDialect{Least: `LEAST`, Greatest: `GREATEST`, Strpos: `strpos`},
	Day:   func(col string) string { return `(CAST(` + col + ` AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01')` },
	Hours: func(col string) string { return `CAST(FLOOR(EXTRACT(EPOCH FROM ` + col + `) / 3600) AS INTEGER)` },
	Exact: `NUMERIC`, AttributePairs: `LATERAL attr_pairs(r.attributes)`, PairValue: `p.value`}

// SeriesStats implements experiments.SeriesStore in one repeatable-read
// snapshot (see sqlstore.CohortDialect.SeriesStats).
func (s *Store) SeriesStats(ctx context.Context, q experiments.StatsQuery, cuts []time.Time) ([]*experiments.SufficientStats, error) {
	tx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("series stats", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.SeriesStats(ctx, &rtx{tx}, q, cuts)
	if err != nil {
		return nil, wrap("series stats", err)
	}
	return out, nil
}

// CohortStats implements experiments.CohortStore (see
// sqlstore.CohortDialect.CohortStats).
func (s *Store) CohortStats(ctx context.Context, q experiments.StatsQuery, metric string, weeks int) ([]experiments.CohortRow, error) {
	if weeks <= 0 {
		return nil, nil
	}
	rows, err := cohortDialect.CohortStats(ctx, rdb{s.rep}, q, metric, weeks)
	if err != nil {
		return nil, wrap("cohort stats", err)
	}
	return rows, nil
}

var _ experiments.ChannelStore = (*Store)(nil)

// ChannelCredit implements experiments.ChannelStore (see
// sqlstore.CohortDialect.ChannelCredit).
func (s *Store) ChannelCredit(ctx context.Context, q experiments.StatsQuery) ([]experiments.ChannelCredit, error) {
	rows, err := cohortDialect.ChannelCredit(ctx, rdb{s.rep}, q)
	if err != nil {
		return nil, wrap("channel credit", err)
	}
	return rows, nil
}

var _ experiments.PolicyStore = (*Store)(nil)

// PolicyStats implements experiments.PolicyStore (see
// sqlstore.CohortDialect.PolicyStats), in one repeatable-read snapshot.
func (s *Store) PolicyStats(ctx context.Context, q experiments.PolicyQuery) ([]experiments.PolicyCell, error) {
	btx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("policy stats", err)
	}
	defer func() { _ = btx.Rollback() }()
	out, err := cohortDialect.PolicyStats(ctx, &rtx{btx}, q)
	if err != nil {
		return nil, wrap("policy stats", err)
	}
	return out, nil
}

var _ experiments.OrderValueStore = (*Store)(nil)

// OrderValues implements experiments.OrderValueStore in one
// repeatable-read snapshot (see sqlstore.CohortDialect.OrderValues).
func (s *Store) OrderValues(ctx context.Context, q experiments.StatsQuery, metric string,
	ranks func(n int64) []int64) ([]experiments.VariantOrderValues, error) {
	tx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("order values", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.OrderValues(ctx, &rtx{tx}, q, metric, ranks)
	if err != nil {
		return nil, wrap("order values", err)
	}
	return out, nil
}

var _ experiments.BanditStore = (*Store)(nil)

// BanditStats implements experiments.BanditStore (see
// sqlstore.CohortDialect.BanditStats), in one repeatable-read snapshot.
func (s *Store) BanditStats(ctx context.Context, q experiments.BanditQuery) ([]experiments.BanditCell, error) {
	btx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("bandit stats", err)
	}
	defer func() { _ = btx.Rollback() }()
	out, err := cohortDialect.BanditStats(ctx, &rtx{btx}, q)
	if err != nil {
		return nil, wrap("bandit stats", err)
	}
	return out, nil
}
