package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// defaultWindowUS is the attribution window used for exposures of an
// experiment that is not (or no longer) in the experiments table.
var defaultWindowUS = experiments.DefaultAttributionWindow.Microseconds()

// metricsSelect selects unit_metrics rows: the attributed conversions c of
// the exposed units r, both in from (r with the exposures_rollup columns,
// c events), with the extra filter where.
func metricsSelect(from, where string) string {
	return `SELECT r.experiment, r.unit_id, c.name AS metric, r.first_variant AS variant, r.multiple, r.channel, r.first_exposed_at,
	COUNT(*) AS conversions, SUM(` + cohortDialect.Revenue("") + `) AS revenue, SUM(` + cohortDialect.Cost("") + `) AS cost,
	` + sqlstore.Currency + ` AS currency
` + attributed(from, costJoin, where) + `
GROUP BY r.experiment, r.unit_id, c.name, r.first_variant, r.multiple, r.channel, r.first_exposed_at`
}

// ordersSelect selects unit_orders rows (sqlstore.OrdersSelectList) of the
// units r and conversions c of from, like metricsSelect.
func ordersSelect(from, where string) string {
	return `SELECT ` + cohortDialect.OrdersSelectList() + `
` + attributed(from, "", where) + `
` + sqlstore.OrdersGroupBy
}

// attributed is the FROM and WHERE clauses of the attributed conversions
// c of the units r of from (see metricsSelect), joined to experiments xw
// and by join (costJoin or nothing).
func attributed(from, join, where string) string {
	return `FROM ` + from + `
LEFT JOIN experiments xw ON xw.key = r.experiment` + join + `
WHERE c.type = 'conversion' AND c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `)
	AND ` + sqlstore.CountsIn("c", "xw.environment") + where
}

// dailySelect selects unit_metrics_daily rows (sqlstore.DailySelect) of
// the units r and conversions c of from, like metricsSelect.
func dailySelect(from, where string) string {
	return cohortDialect.DailySelect(from+`
LEFT JOIN experiments xw ON xw.key = r.experiment`+costJoin, where)
}

// weeksSelect selects unit_weeks rows (sqlstore.WeeksSelect) of the
// units r and conversions c of from, like metricsSelect.
func weeksSelect(from, where string) string {
	return cohortDialect.WeeksSelect(from+`
LEFT JOIN experiments xw ON xw.key = r.experiment`, where)
}

const (
	weekColumns    = sqlstore.WeekColumns
	dailyColumns   = sqlstore.DailyColumns
	rollupColumns  = sqlstore.RollupColumns
	metricsColumns = sqlstore.MetricsColumns
	ordersColumns  = sqlstore.OrdersColumns
	allEvents      = `events e`
	// freshEvents are read by rowid range (e.rowid > the largest rowid
	// before the batch): NOT INDEXED keeps SQLite from scanning a whole
	// partial index on type instead.
	freshEvents = `events e NOT INDEXED`
	// CROSS JOIN makes SQLite loop over the (few) units on its left and
	// find their rows through the indexes, instead of scanning the big
	// table.
	conversionsOf  = ` CROSS JOIN events c ON c.type = 'conversion' AND c.unit_id = r.unit_id`
	touchedRollups = `touched t CROSS JOIN exposures_rollup r ON r.experiment = t.experiment AND r.unit_id = t.unit_id`
)

const (
	createTouchedSQL = `CREATE TEMP TABLE IF NOT EXISTS touched (experiment TEXT NOT NULL, unit_id TEXT NOT NULL,
	PRIMARY KEY (experiment, unit_id))`
	clearTouchedSQL = `DELETE FROM touched`
	// converted holds the rollup rows of the units of a batch's
	// conversions that addConversions adds to, keyed for lookups by unit.
	createConvertedSQL = `CREATE TEMP TABLE IF NOT EXISTS converted (unit_id TEXT NOT NULL, experiment TEXT NOT NULL,
	first_variant TEXT NOT NULL, first_exposed_at INTEGER NOT NULL, multiple INTEGER NOT NULL, channel TEXT NOT NULL,
	PRIMARY KEY (unit_id, experiment))`
	clearConvertedSQL      = `DELETE FROM converted`
	clearTouchedMetricsSQL = `DELETE FROM unit_metrics WHERE (experiment, unit_id) IN (SELECT experiment, unit_id FROM touched)`
	clearTouchedDailySQL   = `DELETE FROM unit_metrics_daily WHERE (experiment, unit_id) IN (SELECT experiment, unit_id FROM touched)`
	clearTouchedWeeksSQL   = `DELETE FROM unit_weeks WHERE (experiment, unit_id) IN (SELECT experiment, unit_id FROM touched)`
	clearTouchedOrdersSQL  = `DELETE FROM unit_orders WHERE (experiment, unit_id) IN (SELECT experiment, unit_id FROM touched)`
)

var (
	insertTouchedMetricsSQL = `INSERT INTO unit_metrics (` + metricsColumns + `) ` + metricsSelect(touchedRollups+conversionsOf, "")
	insertTouchedDailySQL   = `INSERT INTO unit_metrics_daily (` + dailyColumns + `) ` + dailySelect(touchedRollups+conversionsOf, "")
	insertTouchedWeeksSQL   = `INSERT INTO unit_weeks (` + weekColumns + `) ` + weeksSelect(touchedRollups+conversionsOf, "")
	insertTouchedOrdersSQL  = `INSERT INTO unit_orders (` + ordersColumns + `) ` + ordersSelect(touchedRollups+conversionsOf, "")
)

func resetTouched(ctx context.Context, tx writeTx) error {
	if _, err := tx.ExecContext(ctx, createTouchedSQL); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, clearTouchedSQL)
	return err
}

// recomputeMetricsTouched rebuilds unit_metrics, unit_metrics_daily and
// unit_orders (and by its triggers variant_orders) of the touched pairs
// from the raw events.
func recomputeMetricsTouched(ctx context.Context, tx writeTx) error {
	for _, q := range []string{clearTouchedMetricsSQL, clearTouchedDailySQL, clearTouchedWeeksSQL, clearTouchedOrdersSQL,
		insertTouchedMetricsSQL, insertTouchedDailySQL, insertTouchedWeeksSQL, insertTouchedOrdersSQL} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// firstExposure is true when the exposure excluded (the earliest of a
// batch) comes before the stored first exposure of rollup row r.
const firstExposure = `(excluded.first_exposed_at, excluded.first_event_id) < (r.first_exposed_at, r.first_event_id)`

// mergeExposures folds the exposures the batch stored (rowid above
// lastRowID) into exposures_rollup without reading older events: per
// (experiment, unit) the earliest (ts, event_id) wins, exposure counts add
// up, and a unit is multiple once two of its exposures name different
// variants (before the batch, the stored ones all named first_variant).
//
// A pair goes into touched, to have its attributed conversions rebuilt
// from the raw events, only when the batch brings its first exposure (a new
// unit, or an earlier exposure than the stored one): only then does its
// attribution window move. A later exposure changes no attributed
// conversion; it can only make the unit multiple, which is copied into its
// unit_metrics rows directly; the merge returns the multiple flag of
// each row it wrote, so that a batch with no multiple-exposed unit (most)
// skips those three updates. It reports whether it put a pair into
// touched.
func mergeExposures(ctx context.Context, tx writeTx, lastRowID int64) (touched bool, err error) {
	multiple, err := mergeRollups(ctx, tx, lastRowID)
	if err != nil {
		return false, err
	}
	touched, err = execTouched(ctx, tx, touchMergedSQL, lastRowID)
	if err != nil || !multiple {
		return touched, err
	}
	for _, q := range []string{multipleMergedSQL, multipleMergedDailySQL, multipleMergedOrdersSQL} {
		if _, err := tx.ExecContext(ctx, q, lastRowID); err != nil {
			return false, err
		}
	}
	return touched, nil
}

// execTouched runs q, an insert into touched, and reports whether it
// inserted a row.
func execTouched(ctx context.Context, tx writeTx, q string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// mergeRollups runs mergeRollupSQL and reports whether a rollup row it
// wrote is multiple.
func mergeRollups(ctx context.Context, tx writeTx, lastRowID int64) (multiple bool, err error) {
	rows, err := tx.QueryContext(ctx, mergeRollupSQL, lastRowID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var m bool
		if err := rows.Scan(&m); err != nil {
			return false, err
		}
		multiple = multiple || m
	}
	return multiple, rows.Err()
}

// pickFirst sets col to the batch's value when the batch's exposure comes
// first.
func pickFirst(col string) string {
	return col + ` = CASE WHEN ` + firstExposure + ` THEN excluded.` + col + ` ELSE r.` + col + ` END`
}

// mergedRollups are the rollup rows of the pairs the batch exposed.
const mergedRollups = freshEvents + ` CROSS JOIN exposures_rollup r ON r.experiment = e.experiment AND r.unit_id = e.unit_id
		WHERE e.rowid > ? AND e.type = 'exposure'`

// The statements of mergeExposures.
var (
	mergeRollupSQL = `INSERT INTO exposures_rollup AS r (` + rollupColumns + `) ` +
		sqlstore.ExposureSelect(freshEvents, ` AND e.rowid > ?`) + `
ON CONFLICT (experiment, unit_id) DO UPDATE SET
	exposures = r.exposures + excluded.exposures,
	multiple = r.multiple OR excluded.multiple OR r.first_variant <> excluded.first_variant,
	` + pickFirst("first_variant") + `, ` + pickFirst("first_exposed_at") + `, ` + pickFirst("first_event_id") + `,
	` + pickFirst("attributes") + `, ` + pickFirst("channel") + `
RETURNING multiple`
	// A pair the batch exposes for the first time (all its exposures are
	// the batch's) whose unit has no conversions stored before the batch
	// is not touched: addConversions adds the batch's conversions to its
	// (empty) rollup rows, which is what a rebuild would read.
	touchMergedSQL = `INSERT OR IGNORE INTO touched (experiment, unit_id)
		SELECT r.experiment, r.unit_id FROM ` + mergedRollups + ` AND r.first_event_id = e.event_id
		AND NOT (r.exposures = (SELECT COUNT(*) FROM events x WHERE x.type = 'exposure' AND x.experiment = r.experiment
				AND x.unit_id = r.unit_id AND x.rowid > ?1)
			AND NOT EXISTS (SELECT 1 FROM events o WHERE o.type = 'conversion' AND o.unit_id = r.unit_id AND o.rowid <= ?1))`
	multipleMergedSQL = `UPDATE unit_metrics SET multiple = 1
		WHERE NOT multiple AND (experiment, unit_id) IN (SELECT r.experiment, r.unit_id FROM ` + mergedRollups + ` AND r.multiple)`
	multipleMergedDailySQL = `UPDATE unit_metrics_daily SET multiple = 1
		WHERE NOT multiple AND (experiment, unit_id) IN (SELECT r.experiment, r.unit_id FROM ` + mergedRollups + ` AND r.multiple)`
	multipleMergedOrdersSQL = `UPDATE unit_orders SET multiple = 1
		WHERE NOT multiple AND (experiment, unit_id) IN (SELECT r.experiment, r.unit_id FROM ` + mergedRollups + ` AND r.multiple)`
)

// addConversions adds the conversions the batch stored (rowid above
// lastRowID) to unit_metrics, unit_metrics_daily, unit_weeks and
// unit_orders of the exposed units whose exposures the batch did not
// change (those in touched are rebuilt from the raw events instead).
// Their rollup rows are read once, into converted, which the statements
// after probe by unit instead of exposures_rollup and touched again.
func addConversions(ctx context.Context, tx writeTx, lastRowID int64) error {
	for _, q := range []string{createConvertedSQL, clearConvertedSQL} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, fillConvertedSQL, lastRowID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, addConversionsSQL, lastRowID); err != nil {
		return err
	}
	// DailySelect reads its conversions twice.
	if _, err := tx.ExecContext(ctx, addDailySQL, lastRowID, lastRowID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fixDailyPrevSQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, addWeeksSQL, lastRowID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fixRepeatedSQL); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, addOrdersSQL, lastRowID)
	return err
}

// fillConvertedSQL puts into converted the rollup rows of the units of the
// conversions the batch stored that are not in touched.
const fillConvertedSQL = `INSERT OR IGNORE INTO converted (unit_id, experiment, first_variant, first_exposed_at, multiple, channel)
SELECT r.unit_id, r.experiment, r.first_variant, r.first_exposed_at, r.multiple, r.channel
FROM events c NOT INDEXED CROSS JOIN exposures_rollup r ON r.unit_id = c.unit_id
WHERE c.rowid > ? AND c.type = 'conversion'
	AND NOT EXISTS (SELECT 1 FROM touched t WHERE t.experiment = r.experiment AND t.unit_id = r.unit_id)`

// The conversions the batch stored, of the units of converted.
const (
	freshConversions = `events c NOT INDEXED CROSS JOIN converted r ON r.unit_id = c.unit_id`
	inBatch          = `
	AND c.rowid > ?`
)

var (
	addConversionsSQL = `INSERT INTO unit_metrics AS m (` + metricsColumns + `) ` + metricsSelect(freshConversions, inBatch) + `
ON CONFLICT (experiment, unit_id, metric) DO UPDATE SET conversions = m.conversions + excluded.conversions,
	revenue = m.revenue + excluded.revenue, cost = m.cost + excluded.cost, currency = ` + sqlstore.MergeCurrency("excluded")
	addDailySQL = `INSERT INTO unit_metrics_daily AS m (` + dailyColumns + `) SELECT ` + sqlstore.StoredPrev("x") + ` FROM (` +
		dailySelect(freshConversions, inBatch) + `) x WHERE TRUE
ON CONFLICT (experiment, unit_id, metric, day) DO UPDATE SET ` + sqlstore.AddDaily("excluded")
	// The later days of the units the batch's conversions changed.
	fixDailyPrevSQL = sqlstore.FixPrevSQL(`(SELECT d.rowid AS rid, d.* FROM converted r CROSS JOIN unit_metrics_daily d
	ON d.experiment = r.experiment AND d.unit_id = r.unit_id) s`, true)
	addWeeksSQL = `INSERT INTO unit_weeks AS m (` + weekColumns + `) ` + weeksSelect(freshConversions, inBatch) + `
ON CONFLICT (experiment, unit_id, metric, week) DO UPDATE SET ` + sqlstore.AddWeeks("excluded")
	// The later weeks of the units the batch's conversions added weeks to.
	fixRepeatedSQL = sqlstore.FixRepeatedSQL(`(SELECT w.rowid AS rid, w.* FROM converted r CROSS JOIN unit_weeks w
	ON w.experiment = r.experiment AND w.unit_id = r.unit_id) s`, true)
	addOrdersSQL = `INSERT INTO unit_orders AS o (` + ordersColumns + `) ` + ordersSelect(freshConversions, inBatch) + `
ON CONFLICT (experiment, unit_id, metric, channel, value) DO UPDATE SET orders = o.orders + excluded.orders`
)

// touchRefunded puts the exposed units of the refunds the batch stored
// (rowid above lastRowID) into touched: a refund changes the revenue of the
// order it refunds, so their attributed conversions are rebuilt from the
// raw events.
func touchRefunded(ctx context.Context, tx writeTx, lastRowID int64) (touched bool, err error) {
	return execTouched(ctx, tx, touchRefundedSQL, lastRowID)
}

const touchRefundedSQL = `INSERT OR IGNORE INTO touched (experiment, unit_id)
SELECT r.experiment, r.unit_id FROM events c NOT INDEXED CROSS JOIN exposures_rollup r ON r.unit_id = c.unit_id
WHERE c.rowid > ? AND c.type = 'conversion' AND c.name = 'refund' AND c.order_id <> ''`

// The statements of IngestEvents itself.
const (
	lastRowIDSQL = `SELECT COALESCE(MAX(rowid), 0) FROM events`
	// An event ID is unique within its environment (migration 0019).
	insertEventSQL = `INSERT INTO events (event_id, environment, type, unit_id, ts, experiment, variant, name,
			revenue, promotion_cost, currency, order_id, channel, attributes, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, environment) DO NOTHING`
)

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// IngestEvents stores a batch in one transaction and folds its new events
// into the rollups: exposures merge into exposures_rollup, conversions add
// to unit_metrics, and the attributed conversions of units whose exposures
// changed are rebuilt from the raw events. The links of the events to
// their customers are recorded in the same transaction.
func (s *Store) IngestEvents(ctx context.Context, events []experiments.Event) ([]bool, error) {
	dup := make([]bool, len(events))
	if len(events) == 0 {
		return dup, nil
	}
	if err := s.ingest.prepare(ctx, s.w); err != nil { // stmts.go
		return nil, wrap("ingest events", err)
	}
	if err := s.tx(ctx, func(tx *sqlx.Tx) error { return s.ingestIn(ctx, tx, events, dup) }); err != nil {
		return nil, wrap("ingest events", err)
	}
	return dup, nil
}

// ingestIn is the transaction of IngestEvents (and of the exposure
// journal's fold): it stores the new events, sets dup[i] for the others,
// and maintains the rollups, the customer aggregates and the links. The
// ingest's statements are prepared (s.ingest.prepare).
func (s *Store) ingestIn(ctx context.Context, sqltx *sqlx.Tx, events []experiments.Event, dup []bool) error {
	tx := ingestTx{Tx: sqltx, stmts: &s.ingest}
	if err := resetTouched(ctx, tx); err != nil {
		return err
	}
	// Rows stored by this transaction get rowids above lastRowID: the
	// transaction is the only writer.
	var lastRowID int64
	if err := tx.QueryRowContext(ctx, lastRowIDSQL).Scan(&lastRowID); err != nil {
		return err
	}
	var exposures, conversions, refunds bool
	now := time.Now()
	// Each insert runs without ctx's cancellation, which the driver
	// watches with a goroutine of its own per statement (a third of
	// the inserts' CPU): the loop checks ctx itself between inserts,
	// each a single row.
	insertCtx := context.WithoutCancel(ctx)
	for i := range events {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &events[i]
		attrs, err := sqlstore.AttributesJSON(e.Attributes)
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		var cost sql.NullInt64
		if e.PromotionCost != nil {
			cost = sql.NullInt64{Int64: *e.PromotionCost, Valid: true}
		}
		received := e.ReceivedAt
		if received.IsZero() {
			received = now
		}
		res, err := tx.ExecContext(insertCtx, insertEventSQL, e.ID, e.Environment, string(e.Type), e.UnitID, e.Timestamp.UnixMicro(),
			nullString(e.Experiment), nullString(e.Variant), nullString(e.Name), e.Revenue, cost,
			e.Currency, e.OrderID, e.Channel, attrs, received.UnixMicro())
		if err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		dup[i] = n == 0
		exposures = exposures || (n > 0 && e.Type == experiments.EventExposure)
		conversions = conversions || (n > 0 && e.Type == experiments.EventConversion)
		refunds = refunds || (n > 0 && e.Type == experiments.EventConversion && e.Name == experiments.RefundName && e.OrderID != "")
	}
	if err := updateCustomers(ctx, tx, events, dup, lastRowID); err != nil { // segments.go
		return err
	}
	if err := sqlstore.RecordLinks(ctx, tx, sqlstore.UnixMicros, experiments.EventLinks(events), now); err != nil {
		return err
	}
	// touched is empty unless the merge or the refunds put a pair
	// into it; rebuilding no pair's metrics is skipped (a batch of new
	// units without stored conversions: most of the group commit's).
	touched := false
	if exposures {
		merged, err := mergeExposures(ctx, tx, lastRowID)
		if err != nil {
			return err
		}
		touched = merged
	}
	if refunds {
		refunded, err := touchRefunded(ctx, tx, lastRowID)
		if err != nil {
			return err
		}
		touched = touched || refunded
	}
	if conversions {
		if err := addConversions(ctx, tx, lastRowID); err != nil {
			return err
		}
	}
	if touched {
		return recomputeMetricsTouched(ctx, tx)
	}
	return nil
}

// RecomputeRollups rebuilds the rollup tables from the raw events, and
// variant_orders from unit_orders.
func (s *Store) RecomputeRollups(ctx context.Context) error {
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM unit_metrics; DELETE FROM unit_metrics_daily; DELETE FROM unit_weeks;
DELETE FROM exposures_rollup;
INSERT INTO exposures_rollup (`+rollupColumns+`) `+sqlstore.ExposureSelect(allEvents, "")+`;
INSERT INTO unit_metrics (`+metricsColumns+`) `+metricsSelect("exposures_rollup r"+conversionsOf, "")+`;
INSERT INTO unit_metrics_daily (`+dailyColumns+`) `+dailySelect("exposures_rollup r"+conversionsOf, "")+`;
INSERT INTO unit_weeks (`+weekColumns+`) `+weeksSelect("exposures_rollup r"+conversionsOf, "")+`;
DELETE FROM unit_orders;
INSERT INTO unit_orders (`+ordersColumns+`) `+ordersSelect("exposures_rollup r"+conversionsOf, "")+`;
`+sqlstore.RebuildVariantOrders)
		if err != nil {
			return err
		}
		return cohortDialect.RebuildSums(ctx, tx)
	})
	return wrap("recompute rollups", err)
}

// CheckRollups compares the rollup tables with a recomputation from the raw
// events and describes each differing row (at most 100 per table and
// direction); none means the rollups are right.
func (s *Store) CheckRollups(ctx context.Context) ([]string, error) {
	expExpected := sqlstore.ExposureSelect(allEvents, "")
	metExpected := metricsSelect("("+expExpected+") r"+conversionsOf, "")
	dailyExpected := dailySelect("("+expExpected+") r"+conversionsOf, "")
	weeksExpected := weeksSelect("("+expExpected+") r"+conversionsOf, "")
	ordersExpected := ordersSelect("("+expExpected+") r"+conversionsOf, "")
	diffs, err := sqlstore.CheckRollups(ctx, s.r, expExpected, metExpected, dailyExpected, weeksExpected, ordersExpected, "")
	if err != nil {
		return nil, wrap("check rollups", err)
	}
	series, err := cohortDialect.CheckSums(ctx, s.r)
	return append(diffs, series...), wrap("check rollups", err)
}

// statsDialect is this database's SQL in the sufficient-statistics
// queries.
var statsDialect = sqlstore.StatsDialect{Float: "REAL", FloatSum: "TOTAL(%s)", True: "1 = 1",
	HourSlice: `strftime('%H', first_exposed_at / 1000000, 'unixepoch')`,
	// json_each matches the key exactly, whatever characters it has.
	AttributeValue: `(SELECT CAST(j.value AS TEXT) FROM json_each(attributes) j WHERE j.key = ?)`}

// SufficientStats reads the rollups of one experiment, in one read
// transaction (see sqlstore.CohortDialect.SufficientStats). With q.Until
// set it recomputes them from the raw events before that time.
func (s *Store) SufficientStats(ctx context.Context, q experiments.StatsQuery) (*experiments.SufficientStats, error) {
	tx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap("sufficient stats", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err := cohortDialect.SufficientStats(ctx, tx, q) // cohortDialect: cohorts.go
	if err != nil {
		return nil, wrap("sufficient stats", err)
	}
	return out, nil
}
