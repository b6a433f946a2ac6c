package sqlite

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

// cohortDialect: timestamps are unix microseconds, so durations are plain
// numbers of microseconds and a week number an integer division.
var cohortDialect = sqlstore.CohortDialect{StatsDialect: statsDialect,
	IntParam: `?`, TextParam: `?`, TimeParam: `?`,
	TimeArg: func(t time.Time) any { return t.UnixMicro() },
	WeeksSince: func(ts, f string) string {
		return `((` + ts + ` - ` + f + `) / ` + fmt.Sprint((7 * 24 * time.Hour).Microseconds()) + `)`
	},
	JoinEvents: `CROSS JOIN`, MoneyDialect: sqlstore.MoneyDialect{Least: `MIN`, Greatest: `MAX`, Strpos: `instr`},
	Day:   func(col string) string { return `(` + col + ` / ` + fmt.Sprint((24 * time.Hour).Microseconds()) + `)` },
	Hours: func(col string) string { return `(` + col + ` / ` + fmt.Sprint(time.Hour.Microseconds()) + `)` },
	// REAL, not INTEGER: SQLite's SUM of integers fails past int64, which
	// squares of large amounts reach (exact below 2^53 either way).
	Exact: `REAL`, AttributePairs: `json_each(r.attributes)`, PairValue: `CAST(p.value AS TEXT)`}

// SeriesStats implements experiments.SeriesStore in one read transaction
// (see sqlstore.CohortDialect.SeriesStats).
func (s *Store) SeriesStats(ctx context.Context, q experiments.StatsQuery, cuts []time.Time) ([]*experiments.SufficientStats, error) {
	tx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap("series stats", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.SeriesStats(ctx, tx, q, cuts)
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
	rows, err := cohortDialect.CohortStats(ctx, s.rep, q, metric, weeks)
	if err != nil {
		return nil, wrap("cohort stats", err)
	}
	return rows, nil
}

var _ experiments.ChannelStore = (*Store)(nil)

// ChannelCredit implements experiments.ChannelStore (see
// sqlstore.CohortDialect.ChannelCredit).
func (s *Store) ChannelCredit(ctx context.Context, q experiments.StatsQuery) ([]experiments.ChannelCredit, error) {
	rows, err := cohortDialect.ChannelCredit(ctx, s.rep, q)
	if err != nil {
		return nil, wrap("channel credit", err)
	}
	return rows, nil
}

var _ experiments.PolicyStore = (*Store)(nil)

// PolicyStats implements experiments.PolicyStore (see
// sqlstore.CohortDialect.PolicyStats), in one read transaction.
func (s *Store) PolicyStats(ctx context.Context, q experiments.PolicyQuery) ([]experiments.PolicyCell, error) {
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap("policy stats", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.PolicyStats(ctx, tx, q)
	if err != nil {
		return nil, wrap("policy stats", err)
	}
	return out, nil
}

var _ experiments.OrderValueStore = (*Store)(nil)

// OrderValues implements experiments.OrderValueStore in one read
// transaction (see sqlstore.CohortDialect.OrderValues).
func (s *Store) OrderValues(ctx context.Context, q experiments.StatsQuery, metric string,
	ranks func(n int64) []int64) ([]experiments.VariantOrderValues, error) {
	tx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap("order values", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.OrderValues(ctx, tx, q, metric, ranks)
	if err != nil {
		return nil, wrap("order values", err)
	}
	return out, nil
}

var _ experiments.BanditStore = (*Store)(nil)

// BanditStats implements experiments.BanditStore (see
// sqlstore.CohortDialect.BanditStats), in one read transaction.
func (s *Store) BanditStats(ctx context.Context, q experiments.BanditQuery) ([]experiments.BanditCell, error) {
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap("bandit stats", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.BanditStats(ctx, tx, q)
	if err != nil {
		return nil, wrap("bandit stats", err)
	}
	return out, nil
}
