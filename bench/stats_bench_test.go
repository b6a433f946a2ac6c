package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
)

// statsEnv is a PostgreSQL store holding experiments "units-N" for
// N in statsUnits, each with N exposed units (two variants) and about
// 2.6N conversions, written straight with SQL (generate_series), with the
// rollups (exposures_rollup, unit_metrics, unit_metrics_daily, unit_weeks,
// unit_orders, variant_orders, and through their triggers the series,
// slice and repurchase sums) filled by set-based SQL as ingest would.
//
// A mature experiment: started statsSpan and a day ago, its units first
// exposed evenly over statsSpan (ten weeks), so that the report's cohorts
// have complete weeks; 5N conversions go each to a random unit at a
// random time in the statsSpan after an hour past its first exposure, and
// those before now are kept (a unit first exposed ten weeks ago has 5 on
// average, one exposed yesterday next to none).
type statsEnv struct {
	store *postgres.Store
	svc   *experiments.Service
}

// statsSpan is how long the units of the stats fixture were first exposed
// over, and the conversions of a unit spread over after its first
// exposure.
const statsSpan = 70 * 24 * time.Hour

// statsStart is the start of the experiments of the stats fixture.
var statsStart = time.Now().UTC().Add(-statsSpan - 24*time.Hour).Truncate(time.Second)

// statsUnits are the unit counts; PROMOLIFT_BENCH_MAX_UNITS lowers the
// largest (default 1,000,000) for quick runs.
func statsUnits() []int {
	top := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("PROMOLIFT_BENCH_MAX_UNITS")); err == nil && v > 0 {
		top = v
	}
	return []int{top / 100, top / 10, top}
}

func statsFixture(b *testing.B) *statsEnv {
	base := pgBase(b)
	return fixture(b, "stats", func() (*statsEnv, error) {
		ctx := context.Background()
		u, err := pgSchemaURL(base)
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, u, nil)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { s.Close() })
		db := s.DB()
		// events is partitioned by month: the months the fixture writes
		// must exist before rows are inserted straight into it.
		if err := s.EnsureEventPartitions(ctx, statsStart, time.Now().Add(time.Hour)); err != nil {
			return nil, err
		}
		// Bulk load without the indexes of events, then build them once:
		// much faster than maintaining them row by row. The definitions of
		// a partitioned table's indexes say ON ONLY; without ONLY, CREATE
		// INDEX builds them on every partition too.
		var indexDefs []string
		if err := db.SelectContext(ctx, &indexDefs, `SELECT replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'events'`); err != nil {
			return nil, err
		}
		var indexNames []string
		if err := db.SelectContext(ctx, &indexNames, `SELECT indexname FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'events'`); err != nil {
			return nil, err
		}
		for _, name := range indexNames {
			if _, err := db.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(name)); err != nil {
				return nil, err
			}
		}
		if _, err := db.ExecContext(ctx, `SET maintenance_work_mem = '256MB'`); err != nil {
			return nil, err
		}
		for _, n := range statsUnits() {
			key := fmt.Sprintf("units-%d", n)
			if err := newExperimentAt(ctx, s, key, 2, statsStart); err != nil {
				return nil, err
			}
			p := key + "-"
			// Exposure of unit g at start + g·statsSpan/N; its conversions
			// come an hour later or more (see statsEnv). hashint4 stands for
			// a seeded random(): the same data in every run.
			span := fmt.Sprintf(`INTERVAL '%d seconds'`, int64(statsSpan.Seconds()))
			for _, q := range []string{
				`INSERT INTO events (event_id, type, unit_id, ts, experiment, variant, received_at)
SELECT $1::text || 'x' || g, 'exposure', $1::text || g, $2::timestamptz + g * (` + span + ` / $4::int), $3::text,
	CASE WHEN g % 2 = 0 THEN 'control' ELSE 'treat1' END, now()
FROM generate_series(1, $4::int) g`,
				`INSERT INTO events (event_id, type, unit_id, ts, name, revenue, currency, received_at)
SELECT $1::text || 'c' || g, 'conversion', $1::text || u, ts, 'purchase', 100 + g % 5000 + CASE WHEN u % 2 = 0 THEN 0 ELSE 30 END,
	'KRW', now()
FROM (SELECT g, u, $2::timestamptz + u * (` + span + ` / $4::int) + INTERVAL '1 hour' + ` + span + ` * x2 AS ts
	FROM (SELECT g, 1 + CAST((hashint4(g) + 2147483648) % $4::int AS INTEGER) AS u,
		CAST(hashint4(-g) + 2147483648 AS DOUBLE PRECISION) / 4294967296 AS x2
		FROM generate_series(1, 5 * $4::int) g) x) c
WHERE ts < now() AND $3::text IS NOT NULL`,
				`INSERT INTO exposures_rollup (experiment, unit_id, first_variant, first_exposed_at, first_event_id, exposures, multiple, channel)
SELECT experiment, unit_id, variant, ts, event_id, 1, false, '' FROM events WHERE type = 'exposure' AND experiment = $3::text
	AND $1::text <> '' AND $2::timestamptz IS NOT NULL AND $4::int > 0`,
			} {
				if _, err := db.ExecContext(ctx, q, p, statsStart, key, n); err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
			}
			// Fresh statistics, or the planner may take the new rows for
			// a few and join them to the (unindexed) events by nested loop.
			if _, err := db.ExecContext(ctx, `ANALYZE events; ANALYZE exposures_rollup`); err != nil {
				return nil, err
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO unit_metrics (experiment, unit_id, metric, variant, multiple, channel, first_exposed_at, conversions, revenue, cost)
SELECT r.experiment, r.unit_id, c.name, r.first_variant, r.multiple, r.channel, r.first_exposed_at, COUNT(*), SUM(c.revenue), 0
FROM exposures_rollup r JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + INTERVAL '7 days'
WHERE r.experiment = $1 GROUP BY r.experiment, r.unit_id, c.name, r.first_variant, r.multiple, r.channel, r.first_exposed_at`, key); err != nil {
				return nil, err
			}
			// With the unit's running totals before each day; the triggers
			// of migration 0029 add the rows up into the series sums.
			if _, err := db.ExecContext(ctx, `INSERT INTO unit_metrics_daily (experiment, unit_id, metric, day, variant, multiple, conversions, revenue, cost,
	prev_conversions, prev_revenue)
SELECT r.experiment, r.unit_id, c.name, CAST(c.ts AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01' AS day, r.first_variant, r.multiple,
	COUNT(*), SUM(c.revenue), 0, SUM(COUNT(*)) OVER k - COUNT(*), SUM(SUM(c.revenue)) OVER k - SUM(c.revenue)
FROM exposures_rollup r JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + INTERVAL '7 days'
WHERE r.experiment = $1 GROUP BY 1, 2, 3, 4, 5, 6
WINDOW k AS (PARTITION BY r.experiment, r.unit_id, c.name ORDER BY CAST(c.ts AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01')`, key); err != nil {
				return nil, err
			}
			// With repeated (a later week ≥ 1 than the unit's first); the
			// triggers of migration 0038 count the repurchases.
			if _, err := db.ExecContext(ctx, `INSERT INTO unit_weeks (experiment, unit_id, metric, week, conversions, revenue, repeated)
SELECT *, COALESCE(week > MIN(CASE WHEN week >= 1 THEN week END) OVER (PARTITION BY experiment, unit_id, metric), FALSE) FROM (
	SELECT r.experiment, r.unit_id, c.name AS metric, CASE WHEN c.ts < r.first_exposed_at THEN 0
		ELSE CAST(FLOOR(EXTRACT(EPOCH FROM c.ts - r.first_exposed_at) / 604800) AS INTEGER) + 1 END AS week,
		COUNT(*), SUM(c.revenue)
	FROM exposures_rollup r JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
		AND c.ts >= r.first_exposed_at - INTERVAL '28 days'
	WHERE r.experiment = $1 GROUP BY 1, 2, 3, 4
) w`, key); err != nil {
				return nil, err
			}
			// The order rollups; variant_orders sums unit_orders (what
			// their triggers and the ingest's flush keep).
			if _, err := db.ExecContext(ctx, `INSERT INTO unit_orders (experiment, unit_id, metric, channel, value, variant, multiple, orders)
SELECT r.experiment, r.unit_id, c.name, '(none)', c.revenue, r.first_variant, r.multiple, COUNT(*)
FROM exposures_rollup r JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at AND c.ts <= r.first_exposed_at + INTERVAL '7 days'
WHERE r.experiment = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7`, key); err != nil {
				return nil, err
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO variant_orders (experiment, metric, variant, multiple, channel, value, orders)
SELECT experiment, metric, variant, multiple, channel, value, SUM(orders) FROM unit_orders WHERE experiment = $1
GROUP BY 1, 2, 3, 4, 5, 6`, key); err != nil {
				return nil, err
			}
		}
		for _, def := range indexDefs {
			if _, err := db.ExecContext(ctx, def); err != nil {
				return nil, err
			}
		}
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			return nil, err
		}
		return &statsEnv{store: s, svc: experiments.NewService(s, nil)}, nil
	})
}

// rawStats computes the same sufficient statistics as SufficientStats
// straight from the raw events with GROUP BY: units and exposures per
// variant, and per variant the sums over units of conversions, revenue and
// their squares and products, with the attribution window.
func rawStats(ctx context.Context, s *postgres.Store, key string) (int, error) {
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var rows int
	const units = `SELECT unit_id, MIN(variant) AS variant, MIN(variant) <> MAX(variant) AS multiple,
	COUNT(*) AS exposures, MIN(ts) AS first
FROM events WHERE type = 'exposure' AND experiment = $1 GROUP BY unit_id`
	r, err := tx.QueryContext(ctx, `SELECT variant, COUNT(*), SUM(exposures) FROM (`+units+`) u WHERE NOT multiple GROUP BY variant`, key)
	if err != nil {
		return 0, err
	}
	for r.Next() {
		rows++
	}
	r.Close()
	r, err = tx.QueryContext(ctx, `SELECT variant, metric, COUNT(*), SUM(n), SUM(n * n), SUM(rev), SUM(rev * rev), SUM(rev * n)
FROM (SELECT u.variant, c.name AS metric, u.unit_id, CAST(COUNT(*) AS DOUBLE PRECISION) AS n,
		CAST(SUM(c.revenue) AS DOUBLE PRECISION) AS rev
	FROM (`+units+`) u JOIN events c ON c.type = 'conversion' AND c.unit_id = u.unit_id
		AND c.ts >= u.first AND c.ts <= u.first + INTERVAL '7 days'
	WHERE NOT u.multiple
	GROUP BY u.variant, c.name, u.unit_id) m
GROUP BY variant, metric`, key)
	if err != nil {
		return 0, err
	}
	for r.Next() {
		rows++
	}
	r.Close()
	return rows, r.Err()
}

// rollupStats runs only the two rollup aggregates of SufficientStats (per
// variant units, and per variant and metric the sums over unit_metrics),
// without the pre-period (CUPED) query that reads raw events.
func rollupStats(ctx context.Context, s *postgres.Store, key string) error {
	for _, q := range []string{
		`SELECT first_variant, SUM(CASE WHEN NOT multiple THEN 1 ELSE 0 END), SUM(CASE WHEN NOT multiple THEN exposures ELSE 0 END),
	SUM(CASE WHEN multiple THEN 1 ELSE 0 END) FROM exposures_rollup WHERE experiment = $1 GROUP BY 1`,
		`SELECT variant, metric, COUNT(*), SUM(CAST(conversions AS DOUBLE PRECISION)),
	SUM(CAST(conversions AS DOUBLE PRECISION) * conversions), SUM(CAST(revenue AS DOUBLE PRECISION)),
	SUM(CAST(revenue AS DOUBLE PRECISION) * revenue), SUM(CAST(revenue AS DOUBLE PRECISION) * conversions), SUM(CAST(cost AS DOUBLE PRECISION))
FROM unit_metrics WHERE experiment = $1 AND NOT multiple AND conversions > 0 GROUP BY 1, 2`,
	} {
		rows, err := s.DB().QueryContext(ctx, q, key)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// runStats runs op b.N times as the sub-benchmark name over the stats
// fixture.
func runStats(b *testing.B, name string, op func(ctx context.Context, e *statsEnv) error) {
	b.Run(name, func(b *testing.B) {
		e := statsFixture(b)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := op(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSuffStats at each unit count: promolift's SufficientStats (from
// the rollups) and the anchor, the same statistics from the raw events.
func BenchmarkSuffStats(b *testing.B) {
	for _, n := range statsUnits() {
		key := fmt.Sprintf("units-%d", n)
		runStats(b, fmt.Sprintf("units=%d/impl=rollups", n), func(ctx context.Context, e *statsEnv) error {
			ss, err := e.store.SufficientStats(ctx, experiments.StatsQuery{Experiment: key, MultipleExposure: experiments.MultipleExclude})
			if err != nil {
				return err
			}
			if len(ss.Variants) != 2 || ss.Variants[0].Units+ss.Variants[1].Units != int64(n) {
				return fmt.Errorf("stats %+v", ss.Variants)
			}
			if len(ss.Metrics) != 2 || ss.Metrics[0].Variant != "control" || ss.Metrics[1].Variant != "treat1" {
				return fmt.Errorf("metrics %+v", ss.Metrics)
			}
			return nil
		})
		runStats(b, fmt.Sprintf("units=%d/impl=rollup-sql", n), func(ctx context.Context, e *statsEnv) error {
			return rollupStats(ctx, e.store, key)
		})
		runStats(b, fmt.Sprintf("units=%d/impl=raw-groupby", n), func(ctx context.Context, e *statsEnv) error {
			rows, err := rawStats(ctx, e.store, key)
			if err == nil && rows != 4 {
				err = fmt.Errorf("raw stats: %d rows, want 4", rows)
			}
			return err
		})
	}
}

// BenchmarkReport is Service.Report (stats from the rollups, analysis,
// decision) without the daily series at each unit count;
// BenchmarkReportSeries is the same with it.
func BenchmarkReport(b *testing.B) {
	for _, n := range statsUnits() {
		key := fmt.Sprintf("units-%d", n)
		runStats(b, fmt.Sprintf("units=%d", n), func(ctx context.Context, e *statsEnv) error {
			_, err := e.svc.Report(ctx, key, experiments.ReportOptions{NoSeries: true})
			return err
		})
	}
}

// BenchmarkReportSeries is Service.Report with everything, the daily series
// included (one pass over the rollups and conversions, SeriesStore), at
// each unit count. Its experiment started a day before the data.
func BenchmarkReportSeries(b *testing.B) {
	for _, n := range statsUnits() {
		key := fmt.Sprintf("units-%d", n)
		runStats(b, fmt.Sprintf("units=%d", n), func(ctx context.Context, e *statsEnv) error {
			r, err := e.svc.Report(ctx, key, experiments.ReportOptions{})
			if err != nil {
				return err
			}
			if len(r.Series) == 0 || r.Series[len(r.Series)-1].Units != int64(n) {
				return fmt.Errorf("series %+v, want its last point at %d units", r.Series, n)
			}
			return nil
		})
	}
}
