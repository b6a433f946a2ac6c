package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// defaultWindowUS is the attribution window used for exposures of an
// experiment that is not (or no longer) in the experiments table.
var defaultWindowUS = experiments.DefaultAttributionWindow.Microseconds()

// Rollup maintenance is serialized per bucket of unit IDs with
// transaction-scoped advisory locks lockBase+bucket.
const (
	unitBuckets = 128
	lockBase    = int64(0x706c_7500_0000) // "plu" << 24
)

// ingestLanes is the number of lanes of IngestLane: a lane is the
// buckets b with b % ingestLanes equal to it, so ingests of units of
// different lanes take disjoint advisory locks and commit side by side.
// It divides unitBuckets, and with the exposure batches of every lane in
// flight it leaves most of the pool (32 connections) to requests. Each
// lane's batch pays the same round trips, statement start and WAL flush
// whatever its size, so more lanes mean smaller batches and more CPU per
// exposure: with 64 clients assigning (BenchmarkServing), the exposure
// added about 320 µs of the server's and PostgreSQL's CPU per request
// with 4 lanes, 210 µs with 2 and 140 µs with 1, which serializes the
// WAL flushes instead: so the exposure group commit keeps one batch in
// flight unless asked for the lanes (Service.SetExposureLanes(0)).
const ingestLanes = 2

// IngestLanes implements experiments.IngestLanes.
func (s *Store) IngestLanes() int { return ingestLanes }

// IngestLane implements experiments.IngestLanes: the lane of the unit's
// lock bucket.
func (s *Store) IngestLane(unitID string) int { return int(unitBucket(unitID) % ingestLanes) }

func unitBucket(unitID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(unitID))
	return int64(h.Sum64() % unitBuckets)
}

// lockBucketsSQL takes the advisory locks of the keys of an array, in
// its order.
const lockBucketsSQL = `SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(? AS BIGINT[])) WITH ORDINALITY AS l(k, o) ORDER BY o`

// lockBuckets takes the advisory locks of the given buckets in ascending
// order.
func lockBuckets(ctx context.Context, tx *rtx, buckets []int64) error {
	_, err := tx.ExecContext(ctx, lockBucketsSQL, pq.Array(bucketKeys(buckets)))
	return err
}

// bucketKeys sorts buckets and returns the advisory lock keys of its
// distinct buckets, in ascending order.
func bucketKeys(buckets []int64) []int64 {
	slices.Sort(buckets)
	buckets = slices.Compact(buckets)
	keys := make([]int64, len(buckets))
	for i, b := range buckets {
		keys[i] = lockBase + b
	}
	return keys
}

// lockAllUnits serializes with every ingest (changing an attribution
// window, recomputing everything).
func lockAllUnits(ctx context.Context, tx *rtx) error {
	all := make([]int64, unitBuckets)
	for i := range all {
		all[i] = int64(i)
	}
	return lockBuckets(ctx, tx, all)
}

// metricsSelect selects unit_metrics rows: the attributed conversions of
// the units of from (a relation aliased r with the exposures_rollup
// columns) among the conversions conv (events, or the batch's fresh
// events), with the extra conversion filter convWhere.
func metricsSelect(from, conv, convWhere string) string {
	return `SELECT r.experiment, r.unit_id, c.name AS metric, r.first_variant AS variant, r.multiple, r.channel, r.first_exposed_at,
	COUNT(*) AS conversions, SUM(` + cohortDialect.Revenue("") + `) AS revenue, SUM(` + cohortDialect.Cost("") + `) AS cost,
	` + sqlstore.Currency + ` AS currency
` + attributed(from, costJoin, conv, convWhere) + `
GROUP BY r.experiment, r.unit_id, c.name, r.first_variant, r.multiple, r.channel, r.first_exposed_at`
}

// ordersSelect selects unit_orders rows (sqlstore.OrdersSelectList) of
// the units of from among the conversions conv, like metricsSelect.
func ordersSelect(from, conv, convWhere string) string {
	return `SELECT ` + cohortDialect.OrdersSelectList() + `
` + attributed(from, "", conv, convWhere) + `
` + sqlstore.OrdersGroupBy
}

// attributed is the FROM clause of the attributed conversions c of the
// units r of from among conv (see metricsSelect), joined to experiments xw
// and by join (costJoin or nothing).
func attributed(from, join, conv, convWhere string) string {
	return `FROM ` + from + `
LEFT JOIN experiments xw ON xw.key = r.experiment` + join + `
JOIN ` + conv + ` c ON c.type = 'conversion' AND c.unit_id = r.unit_id
	AND c.ts >= r.first_exposed_at
	AND c.ts <= r.first_exposed_at + COALESCE(xw.attribution_window_us, ` + fmt.Sprint(defaultWindowUS) + `) * INTERVAL '1 microsecond'
	AND ` + sqlstore.CountsIn("c", "xw.environment") + convWhere
}

// dailySelect selects unit_metrics_daily rows (sqlstore.DailySelect) of
// the units of from among the conversions conv, like metricsSelect.
func dailySelect(from, conv, convWhere string) string {
	return cohortDialect.DailySelect(from+`
LEFT JOIN experiments xw ON xw.key = r.experiment`+costJoin+`
JOIN `+conv+` c ON c.type = 'conversion' AND c.unit_id = r.unit_id`, convWhere)
}

// weeksSelect selects unit_weeks rows (sqlstore.WeeksSelect) of the
// units of from among the conversions conv, like metricsSelect.
func weeksSelect(from, conv, convWhere string) string {
	return cohortDialect.WeeksSelect(from+`
LEFT JOIN experiments xw ON xw.key = r.experiment
JOIN `+conv+` c ON c.type = 'conversion' AND c.unit_id = r.unit_id`, convWhere)
}

const (
	allEvents      = `events e`
	weekColumns    = sqlstore.WeekColumns
	dailyColumns   = sqlstore.DailyColumns
	rollupColumns  = sqlstore.RollupColumns
	metricsColumns = sqlstore.MetricsColumns
	ordersColumns  = sqlstore.OrdersColumns
	eventColumns   = `event_id, type, unit_id, ts, experiment, variant, name, revenue, promotion_cost, currency, order_id, channel, attributes, received_at, environment`
)

// tempTablesSQL creates this session's temp tables of the ingest and of
// the recomputations (tempTablesConnector runs it on every new connection
// of the ingest's pool, resetTouched on the others when they need them);
// their rows go at the commit of the transaction that wrote them.
//
// None has an index: ON COMMIT DELETE ROWS rebuilds a temp table's indexes
// at every commit, which invalidates the plans of the statements that name
// the table, and the ingest's plans are made once per connection (stmts).
// The pairs in touched are distinct by construction.
const tempTablesSQL = `CREATE TEMP TABLE IF NOT EXISTS touched (experiment TEXT NOT NULL, unit_id TEXT NOT NULL) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS touched_rollup (experiment TEXT NOT NULL, unit_id TEXT NOT NULL, first_variant TEXT NOT NULL,
	first_exposed_at TIMESTAMPTZ NOT NULL, multiple BOOLEAN NOT NULL, channel TEXT NOT NULL) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS converted_rollup (LIKE touched_rollup) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging (ord INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,
	unit_id TEXT NOT NULL, ts TIMESTAMPTZ NOT NULL, experiment TEXT, variant TEXT, name TEXT,
	revenue BIGINT NOT NULL, promotion_cost BIGINT, currency TEXT NOT NULL, order_id TEXT NOT NULL,
	channel TEXT NOT NULL, attributes JSONB, received_at TIMESTAMPTZ NOT NULL, environment TEXT NOT NULL) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS fresh (event_id TEXT NOT NULL, type TEXT NOT NULL, unit_id TEXT NOT NULL,
	ts TIMESTAMPTZ NOT NULL, experiment TEXT, variant TEXT, name TEXT, revenue BIGINT NOT NULL,
	promotion_cost BIGINT, order_id TEXT NOT NULL, channel TEXT NOT NULL, attributes JSONB, currency TEXT NOT NULL,
	environment TEXT NOT NULL) ON COMMIT DELETE ROWS;`

// resetTouched makes sure this session has the temp tables and that they
// are empty.
func resetTouched(ctx context.Context, tx *rtx) error {
	_, err := tx.ExecContext(ctx, tempTablesSQL+`
DELETE FROM touched; DELETE FROM touched_rollup; DELETE FROM converted_rollup; DELETE FROM staging; DELETE FROM fresh;`)
	return err
}

// stmts runs the statements of a transaction that maintains the rollups:
// with c set (the ingest, on Store.ingestDB) each prepared once per
// connection (stmtCache), so that a batch neither parses nor plans them
// again unless analyzeTemp renewed the statistics of a temp table they
// read; with c nil (recomputeExperiment) as text.
type stmts struct {
	c  *stmtCache
	tx *rtx
}

func (p stmts) stmt(ctx context.Context, q string) (*sqlx.Stmt, error) {
	return p.c.prepared(ctx, p.tx, q)
}

func (p stmts) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if p.c == nil {
		return p.tx.ExecContext(ctx, q, args...)
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p stmts) get(ctx context.Context, dest any, q string, args ...any) error {
	if p.c == nil {
		return p.tx.GetContext(ctx, dest, q, args...)
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

func (p stmts) sel(ctx context.Context, dest any, q string, args ...any) error {
	if p.c == nil {
		return p.tx.SelectContext(ctx, dest, q, args...)
	}
	st, err := p.stmt(ctx, q)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// execAll runs qs in order.
func (p stmts) execAll(ctx context.Context, qs ...string) error {
	for _, q := range qs {
		if _, err := p.exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// analyzeTemp runs ANALYZE tables (temp tables of this session) unless
// their rows now are of the scale of those of their last ANALYZE in this
// session, which the session's run-time setting name keeps: counts (rows
// of the tables, or of kinds of rows) of the same base-4 magnitude. The
// plans of the statements that read the tables are made from those
// statistics, and an ANALYZE invalidates them; a plan made for a batch of
// about the same shape is as good, and one made for a much smaller batch
// (nested loops over a temp table) would be quadratic in a large one.
func analyzeTemp(ctx context.Context, p stmts, name, tables string, counts ...int64) error {
	var shape strings.Builder
	for _, n := range counts {
		fmt.Fprintf(&shape, "%d.", (bits.Len64(uint64(n))+1)/2)
	}
	var last sql.NullString
	if err := p.get(ctx, &last, `SELECT current_setting(CAST(? AS TEXT), TRUE)`, name); err != nil {
		return err
	}
	if last.String == shape.String() {
		return nil
	}
	if _, err := p.tx.ExecContext(ctx, `ANALYZE `+tables); err != nil {
		return err
	}
	_, err := p.exec(ctx, `SELECT set_config(CAST(? AS TEXT), CAST(? AS TEXT), FALSE)`, name, shape.String())
	return err
}

// unitConversions is the conversions relation of metricsSelect and
// dailySelect when the units r are few (a batch's): each unit's
// conversions from its first exposure on, read through events_conversions.
// LATERAL with OFFSET 0 keeps the planner from turning it into a join it
// plans from statistics: a freshly grown events partition has none, and
// it then reads every conversion of the partition once per batch (or per
// unit) instead of probing the index.
const unitConversions = `LATERAL (SELECT * FROM events e WHERE e.type = 'conversion' AND e.unit_id = r.unit_id
	AND e.ts >= r.first_exposed_at OFFSET 0)`

// unitWeekConversions is unitConversions for weeksSelect: each unit's
// conversions from the start of its pre-period on.
var unitWeekConversions = `LATERAL (SELECT * FROM events e WHERE e.type = 'conversion' AND e.unit_id = r.unit_id
	AND e.ts >= r.first_exposed_at - ` + fmt.Sprint(experiments.PrePeriod.Microseconds()) + ` * INTERVAL '1 microsecond' OFFSET 0)`

// recomputeMetricsTouched rebuilds unit_metrics, unit_metrics_daily and
// unit_orders of the touched pairs from the raw events, then adds the
// changes of unit_orders to variant_orders (flushOrders). It refuses
// (KindConflict, code events_dropped) when a
// touched unit is frozen (see retained): after an ingest none is, but a
// change of an experiment's attribution window or cost rules touches all
// its units.
func recomputeMetricsTouched(ctx context.Context, p stmts) error {
	// No static time bound on the events read here: given one (the span of
	// the touched units' windows, which covers the newest rows), the
	// planner scans every row in it through the BRIN index on ts instead of
	// probing each touched unit's conversions through events_conversions,
	// and a batch costs O(recent events) instead of O(its units). The
	// touched pairs' rollup rows are copied into touched_rollup first, so
	// that the rebuild below reads them without joining exposures_rollup.
	res, err := p.exec(ctx, `INSERT INTO touched_rollup
SELECT r.experiment, r.unit_id, r.first_variant, r.first_exposed_at, r.multiple, r.channel
FROM touched t CROSS JOIN LATERAL (SELECT * FROM exposures_rollup x
	WHERE x.experiment = t.experiment AND x.unit_id = t.unit_id OFFSET 0) r`)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if err := analyzeTemp(ctx, p, "promolift.touched_stats", "touched_rollup", n); err != nil {
		return err
	}
	var touched struct {
		Units      int64          `db:"units"`
		Frozen     int64          `db:"frozen"`
		Experiment sql.NullString `db:"experiment"`
		Horizon    sql.NullTime   `db:"horizon"`
	}
	if err := p.get(ctx, &touched, `SELECT COUNT(*) AS units,
	COUNT(*) FILTER (WHERE r.first_exposed_at < h.horizon) AS frozen,
	MIN(r.experiment) FILTER (WHERE r.first_exposed_at < h.horizon) AS experiment, MIN(h.horizon) AS horizon
FROM touched_rollup r LEFT JOIN event_retention h ON TRUE`); err != nil {
		return err
	}
	if touched.Frozen > 0 {
		// Their first exposure and some of their conversions are gone:
		// rebuilt from what is left, their results would shrink.
		return experiments.Conflict("events_dropped", "%d unit(s) of experiment %q were first exposed before the retention "+
			"horizon %s: their events were dropped, so their conversions cannot be attributed again", touched.Frozen,
			touched.Experiment.String, touched.Horizon.Time.UTC().Format(time.DateOnly))
	}
	if touched.Units == 0 {
		return p.execAll(ctx, flushOrdersSQL) // the batch may have added conversions
	}
	var deletes []string
	for _, table := range []string{"unit_metrics", "unit_metrics_daily", "unit_orders", "unit_weeks"} {
		deletes = append(deletes, `DELETE FROM `+table+` m USING touched_rollup t
	WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`)
	}
	return p.execAll(ctx, append(deletes,
		`INSERT INTO unit_metrics (`+metricsColumns+`) `+metricsSelect("touched_rollup r", unitConversions, ""),
		`INSERT INTO unit_metrics_daily (`+dailyColumns+`) `+dailySelect("touched_rollup r", unitConversions, ""),
		`INSERT INTO unit_weeks (`+weekColumns+`) `+weeksSelect("touched_rollup r", unitWeekConversions, ""),
		`INSERT INTO unit_orders (`+ordersColumns+`) `+ordersSelect("touched_rollup r", unitConversions, ""),
		flushOrdersSQL)...)
}

// flushOrdersSQL adds the changes of unit_orders that this transaction's
// statements collected (its triggers, migration 0028) to variant_orders,
// in key order, so that concurrent transactions lock its rows in one
// order (sqlstore/orders.go). Run it after the last change of
// unit_orders of a transaction.
const flushOrdersSQL = `SELECT promolift_flush_orders()`

// flushOrders runs flushOrdersSQL.
func flushOrders(ctx context.Context, tx *rtx) error {
	_, err := tx.ExecContext(ctx, flushOrdersSQL)
	return err
}

// firstExposure is true when the exposure EXCLUDED (the earliest of a
// batch) comes before the stored first exposure of rollup row r.
const firstExposure = `(EXCLUDED.first_exposed_at, EXCLUDED.first_event_id) < (r.first_exposed_at, r.first_event_id)`

// batchExposures selects per (experiment, unit) of the exposures of from
// the first (its variant, ts, event_id, attributes, channel), how many (n)
// and whether they name more than one variant (multiple).
func batchExposures(from string) string {
	return `SELECT experiment, unit_id, variant, ts, event_id, n, vmin <> vmax AS multiple, attributes, channel FROM (
		SELECT DISTINCT ON (experiment, unit_id) experiment, unit_id, variant, ts, event_id, attributes, channel,
			COUNT(*) OVER w AS n, MIN(variant) OVER w AS vmin, MAX(variant) OVER w AS vmax
		FROM ` + from + `
		WINDOW w AS (PARTITION BY experiment, unit_id)
		ORDER BY experiment, unit_id, ts, event_id
	) x`
}

// upsertRollups merges the rows of b (batchExposures) into
// exposures_rollup r: the earliest (ts, event_id) wins, exposure counts
// add up, and a unit is multiple once two of its exposures name
// different variants.
func upsertRollups(b string) string {
	pick := func(col string) string {
		return col + ` = CASE WHEN ` + firstExposure + ` THEN EXCLUDED.` + col + ` ELSE r.` + col + ` END`
	}
	return `INSERT INTO exposures_rollup AS r (` + rollupColumns + `)
	SELECT experiment, unit_id, variant, ts, event_id, n, multiple, attributes, channel FROM ` + b + `
	ON CONFLICT (experiment, unit_id) DO UPDATE SET
		exposures = r.exposures + EXCLUDED.exposures,
		multiple = r.multiple OR EXCLUDED.multiple OR r.first_variant <> EXCLUDED.first_variant,
		` + pick("first_variant") + `, ` + pick("first_exposed_at") + `, ` + pick("first_event_id") + `,
		` + pick("attributes") + `, ` + pick("channel")
}

// mergeExposures folds the batch's fresh exposures into exposures_rollup
// without reading the raw events: per (experiment, unit) the earliest
// (ts, event_id) wins, exposure counts add up, and a unit is multiple
// once two of its exposures name different variants (before the batch,
// the stored ones all named first_variant).
//
// A pair goes into touched, to have its attributed conversions rebuilt
// from the raw events, only when the batch brings its first exposure (a new
// unit, or an earlier exposure than the stored one): only then does its
// attribution window move. A later exposure changes no attributed
// conversion; it can only make the unit multiple, which is copied into its
// unit_metrics rows directly. A pair the batch exposes for the first time
// whose unit has no conversions stored before the batch (the unit's
// conversions in events are the batch's own) is not touched either: the
// rebuild would read only the batch's conversions, which addConversions
// adds to its (empty) rollup rows all the same.
func mergeExposures(ctx context.Context, p stmts) error {
	_, err := p.exec(ctx, `WITH b AS (
	`+batchExposures(`fresh WHERE type = 'exposure'`)+`
), up AS (
	`+upsertRollups("b")+`
	RETURNING experiment, unit_id, first_event_id, multiple, xmax = 0 AS inserted
), fc AS (
	SELECT unit_id, COUNT(*) AS n FROM fresh WHERE type = 'conversion' GROUP BY unit_id
), t AS (
	INSERT INTO touched (experiment, unit_id)
	SELECT up.experiment, up.unit_id FROM up JOIN b USING (experiment, unit_id) LEFT JOIN fc ON fc.unit_id = up.unit_id
	WHERE up.first_event_id = b.event_id AND NOT (up.inserted
		AND (SELECT COUNT(*) FROM events o WHERE o.type = 'conversion' AND o.unit_id = up.unit_id) = COALESCE(fc.n, 0))
), md AS (
	UPDATE unit_metrics_daily d SET multiple = TRUE FROM up
	WHERE up.multiple AND NOT d.multiple AND d.experiment = up.experiment AND d.unit_id = up.unit_id
), mo AS (
	UPDATE unit_orders o SET multiple = TRUE FROM up
	WHERE up.multiple AND NOT o.multiple AND o.experiment = up.experiment AND o.unit_id = up.unit_id
)
UPDATE unit_metrics m SET multiple = TRUE FROM up
WHERE up.multiple AND NOT m.multiple AND m.experiment = up.experiment AND m.unit_id = up.unit_id`)
	return err
}

// addConversions adds the batch's fresh conversions to unit_metrics,
// unit_metrics_daily, unit_weeks and unit_orders of the exposed units whose
// exposures the batch did not change (those in touched are rebuilt from
// the raw events instead).
//
// The rollup rows of those units are read once, into converted_rollup
// (through exposures_rollup_unit, LATERAL as in unitConversions), and
// analysed with fresh (analyzeTemp), so that each rollup's statement joins
// two small tables with statistics by hash instead of probing
// exposures_rollup and scanning experiments once per unit again. Without
// statistics the planner would take fresh for a big table and hash all of
// exposures_rollup (and, in the statements after, loop over fresh per
// unit). fresh holds the batch's new exposures and conversions.
func addConversions(ctx context.Context, p stmts, exposures, conversions int64) error {
	res, err := p.exec(ctx, `INSERT INTO converted_rollup
SELECT r.experiment, r.unit_id, r.first_variant, r.first_exposed_at, r.multiple, r.channel
FROM (SELECT DISTINCT unit_id FROM fresh WHERE type = 'conversion') u
	CROSS JOIN LATERAL (SELECT * FROM exposures_rollup x WHERE x.unit_id = u.unit_id OFFSET 0) r
WHERE NOT EXISTS (SELECT 1 FROM touched t WHERE t.experiment = r.experiment AND t.unit_id = r.unit_id)`)
	if err != nil {
		return err
	}
	converted, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if err := analyzeTemp(ctx, p, "promolift.fresh_stats", "fresh, converted_rollup", exposures, conversions, converted); err != nil {
		return err
	}
	const rollup = `converted_rollup r`
	return p.execAll(ctx, `INSERT INTO unit_metrics AS m (`+metricsColumns+`) `+
		metricsSelect(rollup, "fresh", "")+`
ON CONFLICT (experiment, unit_id, metric) DO UPDATE SET conversions = m.conversions + EXCLUDED.conversions,
	revenue = m.revenue + EXCLUDED.revenue, cost = m.cost + EXCLUDED.cost, currency = `+sqlstore.MergeCurrency("EXCLUDED"),
		`INSERT INTO unit_metrics_daily AS m (`+dailyColumns+`) SELECT `+sqlstore.StoredPrev("x")+` FROM (`+
			dailySelect(rollup, "fresh", "")+`) x
ON CONFLICT (experiment, unit_id, metric, day) DO UPDATE SET `+sqlstore.AddDaily("EXCLUDED"),
		sqlstore.FixPrevSQL(`(SELECT d.* FROM converted_rollup r CROSS JOIN LATERAL (SELECT * FROM unit_metrics_daily x
	WHERE x.experiment = r.experiment AND x.unit_id = r.unit_id OFFSET 0) d) s`, false),
		`INSERT INTO unit_weeks AS m (`+weekColumns+`) `+weeksSelect(rollup, "fresh", "")+`
ON CONFLICT (experiment, unit_id, metric, week) DO UPDATE SET `+sqlstore.AddWeeks("EXCLUDED"),
		sqlstore.FixRepeatedSQL(`(SELECT w.* FROM converted_rollup r CROSS JOIN LATERAL (SELECT * FROM unit_weeks x
	WHERE x.experiment = r.experiment AND x.unit_id = r.unit_id OFFSET 0) w) s`, false),
		`INSERT INTO unit_orders AS o (`+ordersColumns+`) `+ordersSelect(rollup, "fresh", "")+`
ON CONFLICT (experiment, unit_id, metric, channel, value) DO UPDATE SET orders = o.orders + EXCLUDED.orders`)
}

// copyStaging copies the batch into the temp table staging, with its
// position in ord.
func copyStaging(ctx context.Context, tx *rtx, events []experiments.Event) (err error) {
	cp, err := tx.PrepareContext(ctx, `COPY staging (ord, `+eventColumns+`) FROM STDIN`)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cp.Close(); err == nil {
			err = cerr
		}
	}()
	now := time.Now()
	for i := range events {
		e := &events[i]
		attrs, err := sqlstore.AttributesJSON(e.Attributes)
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		var cost, attrv any
		if e.PromotionCost != nil {
			cost = *e.PromotionCost
		}
		if attrs.Valid {
			attrv = attrs.String
		}
		received := e.ReceivedAt
		if received.IsZero() {
			received = now
		}
		if _, err := cp.ExecContext(ctx, i, e.ID, string(e.Type), e.UnitID, e.Timestamp.UTC(),
			nullable(e.Experiment), nullable(e.Variant), nullable(e.Name), e.Revenue, cost,
			e.Currency, e.OrderID, e.Channel, attrv, received.UTC(), e.Environment); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.ID, err)
		}
	}
	_, err = cp.ExecContext(ctx)
	return err
}

// freshRow is an event of the batch stored for the first time.
type freshRow struct {
	ID          string `db:"event_id"`
	Environment string `db:"environment"`
	Type        string `db:"type"`
}

// eventKey is what makes an event unique: its id within its environment.
type eventKey struct{ id, environment string }

// IngestEvents stores a batch in one transaction (COPY into a staging
// table, then INSERT ... ON CONFLICT DO NOTHING) and folds its new events
// into the rollups: exposures merge into exposures_rollup, conversions add
// to unit_metrics, and the attributed conversions of units whose exposures
// changed are rebuilt from the raw events.
func (s *Store) IngestEvents(ctx context.Context, events []experiments.Event) ([]bool, error) {
	dup := make([]bool, len(events))
	if len(events) == 0 {
		return dup, nil
	}
	links, buckets := ingestLocks(events)
	if err := s.ensureBatchPartitions(ctx, events); err != nil { // partitions.go
		return nil, err
	}
	ingest, cache := s.ingestBatch, s.ingestStmts
	if onlyExposures(events) { // exposures.go
		ingest, cache = s.ingestExposures, s.stmts
	}
	err := cache.tx(ctx, s, func(tx *rtx) error { return ingest(ctx, tx, events, links, buckets, dup) })
	if missingPartition(err) {
		// A partition this Store knew of was dropped behind its back (by
		// hand): learn the partitions again and retry once.
		s.forgetBatchPartitions(events)
		if err = s.ensureBatchPartitions(ctx, events); err == nil {
			err = cache.tx(ctx, s, func(tx *rtx) error { return ingest(ctx, tx, events, links, buckets, dup) })
		}
	}
	if err != nil {
		return nil, wrap("ingest events", err)
	}
	if slices.Contains(dup, false) {
		s.bumpEventsMarker(ctx)
	}
	return dup, nil
}

// ingestLocks returns the links of events to their customers and the lock
// buckets an ingest of them holds: their units', and a link's customer's
// too, so that an erasure of the customer (lockErasedUnits) sees the link
// or runs after.
func ingestLocks(events []experiments.Event) ([]experiments.UnitLink, []int64) {
	buckets := make([]int64, len(events), len(events)+1)
	for i := range events {
		buckets[i] = unitBucket(events[i].UnitID)
	}
	links := experiments.EventLinks(events)
	for _, l := range links {
		buckets = append(buckets, unitBucket(l.CustomerID))
	}
	return links, buckets
}

// ingestBatch is the transaction of IngestEvents: it stores the new events
// of the batch, sets dup[i] for the others, and maintains the customer
// aggregates, the rollups and the links of the events to their customers.
// It runs on Store.ingestDB: its statements but the COPY and the links are
// prepared once per connection (stmts), and the temp tables they use
// exist for the connection's life (tempTablesConnector), empty between
// transactions.
func (s *Store) ingestBatch(ctx context.Context, tx *rtx, events []experiments.Event, links []experiments.UnitLink, buckets []int64, dup []bool) error {
	p := stmts{s.ingestStmts, tx}
	if _, err := p.exec(ctx, lockBucketsSQL, pq.Array(bucketKeys(slices.Clone(buckets)))); err != nil {
		return err
	}
	// Parameters do not change the plans of the ingest's statements: the
	// generic plan of each (and of the statements of the rollups'
	// triggers) is made once per connection, not one custom plan per
	// batch.
	if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		return err
	}
	if err := copyStaging(ctx, tx, events); err != nil {
		return err
	}
	var fresh []freshRow
	err := p.sel(ctx, &fresh, freshEventsSQL+`, f AS (
	INSERT INTO fresh SELECT * FROM ins
)
SELECT event_id, environment, type FROM ins`)
	if err != nil {
		return err
	}
	isNew := make(map[eventKey]bool, len(fresh))
	var exposures, conversions int64
	for _, f := range fresh {
		isNew[eventKey{f.ID, f.Environment}] = true
		switch f.Type {
		case string(experiments.EventExposure):
			exposures++
		case string(experiments.EventConversion):
			conversions++
		}
	}
	refunds := false
	for i := range events {
		k := eventKey{events[i].ID, events[i].Environment}
		dup[i] = !isNew[k]
		delete(isNew, k) // later copies in the batch are duplicates
		refunds = refunds || !dup[i] && isRefund(&events[i])
	}
	if err := updateCustomers(ctx, p, events, dup); err != nil { // segments.go
		return err
	}
	if err := sqlstore.RecordLinks(ctx, tx, sqlstore.Timestamp, links, time.Now()); err != nil {
		return err
	}
	if exposures > 0 {
		if err := mergeExposures(ctx, p); err != nil {
			return err
		}
	}
	if refunds {
		if err := touchRefunded(ctx, p); err != nil {
			return err
		}
	}
	if conversions > 0 {
		if err := addConversions(ctx, p, exposures, conversions); err != nil {
			return err
		}
	}
	if exposures > 0 || refunds {
		return recomputeMetricsTouched(ctx, p) // flushes the order rollup
	}
	if conversions > 0 {
		return p.execAll(ctx, flushOrdersSQL)
	}
	return nil
}

// isRefund reports whether e is a refund of an order (it changes the
// revenue of an earlier conversion, not only its own).
func isRefund(e *experiments.Event) bool {
	return e.Type == experiments.EventConversion && e.Name == experiments.RefundName && e.OrderID != ""
}

// touchRefunded puts the exposed units of the batch's refunds into touched:
// a refund changes the revenue of the order it refunds, so their attributed
// conversions are rebuilt from the raw events. Frozen units (see retained)
// are left as they are: their order may be gone.
func touchRefunded(ctx context.Context, p stmts) error {
	_, err := p.exec(ctx, `INSERT INTO touched (experiment, unit_id)
SELECT DISTINCT r.experiment, r.unit_id FROM fresh c JOIN exposures_rollup r ON r.unit_id = c.unit_id
WHERE c.type = 'conversion' AND c.name = 'refund' AND c.order_id <> '' AND r.first_exposed_at >= `+retained+`
	AND NOT EXISTS (SELECT 1 FROM touched t WHERE t.experiment = r.experiment AND t.unit_id = r.unit_id)`)
	return err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// retained is the retention horizon ('-infinity' without one). Every event
// left is at or after it, so a unit first exposed before it (a frozen
// unit) has lost its first exposure with its month: a recomputation from
// the raw events cannot reproduce its rollups. RecomputeRollups keeps
// them, CheckRollups leaves them out, and recomputeMetricsTouched refuses
// them.
const retained = `COALESCE((SELECT horizon FROM event_retention), '-infinity')`

// RecomputeRollups rebuilds the rollup tables from the raw events, except
// the rows of frozen units (see retained), which stay as they are, and
// variant_orders from unit_orders.
func (s *Store) RecomputeRollups(ctx context.Context) error {
	err := s.tx(ctx, func(tx *rtx) error {
		if err := lockAllUnits(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM unit_metrics WHERE first_exposed_at >= `+retained+`;
DELETE FROM unit_metrics_daily d WHERE NOT EXISTS (SELECT 1 FROM exposures_rollup r
	WHERE r.experiment = d.experiment AND r.unit_id = d.unit_id AND r.first_exposed_at < `+retained+`);
DELETE FROM unit_weeks d WHERE NOT EXISTS (SELECT 1 FROM exposures_rollup r
	WHERE r.experiment = d.experiment AND r.unit_id = d.unit_id AND r.first_exposed_at < `+retained+`);
DELETE FROM exposures_rollup WHERE first_exposed_at >= `+retained+`;
INSERT INTO exposures_rollup (`+rollupColumns+`) `+sqlstore.ExposureSelect(allEvents, "")+` ON CONFLICT (experiment, unit_id) DO NOTHING;
INSERT INTO unit_metrics (`+metricsColumns+`) `+metricsSelect("exposures_rollup r", "events",
			` AND r.first_exposed_at >= `+retained)+`;
INSERT INTO unit_metrics_daily (`+dailyColumns+`) `+dailySelect("exposures_rollup r", "events",
			` AND r.first_exposed_at >= `+retained)+`;
INSERT INTO unit_weeks (`+weekColumns+`) `+weeksSelect("exposures_rollup r", "events",
			` AND r.first_exposed_at >= `+retained)+`;
DELETE FROM unit_orders o WHERE NOT EXISTS (SELECT 1 FROM exposures_rollup r
	WHERE r.experiment = o.experiment AND r.unit_id = o.unit_id AND r.first_exposed_at < `+retained+`);
INSERT INTO unit_orders (`+ordersColumns+`) `+ordersSelect("exposures_rollup r", "events",
			` AND r.first_exposed_at >= `+retained)+`;
DELETE FROM pg_temp.orders_delta;
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
// direction); none means the rollups are right. Frozen units (see
// retained) are left out: their events are partly gone.
func (s *Store) CheckRollups(ctx context.Context) ([]string, error) {
	expExpected := sqlstore.ExposureSelect(allEvents, "")
	metExpected := metricsSelect("("+expExpected+") r", "events", "")
	dailyExpected := dailySelect("("+expExpected+") r", "events", "")
	weeksExpected := weeksSelect("("+expExpected+") r", "events", "")
	ordersExpected := ordersSelect("("+expExpected+") r", "events", "")
	// One snapshot for all the comparisons.
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("check rollups", err)
	}
	defer func() { _ = tx.Rollback() }()
	diffs, err := sqlstore.CheckRollups(ctx, tx, expExpected, metExpected, dailyExpected, weeksExpected, ordersExpected, `NOT EXISTS (SELECT 1 FROM exposures_rollup f
	WHERE f.experiment = d.experiment AND f.unit_id = d.unit_id AND f.first_exposed_at < `+retained+`)`)
	if err != nil {
		return nil, wrap("check rollups", err)
	}
	series, err := cohortDialect.CheckSums(ctx, tx)
	return append(diffs, series...), wrap("check rollups", err)
}

// statsDialect is this database's SQL in the sufficient-statistics
// queries.
var statsDialect = sqlstore.StatsDialect{Float: "DOUBLE PRECISION", FloatSum: "CAST(SUM(%s) AS DOUBLE PRECISION)", True: "TRUE",
	HourSlice: `to_char(first_exposed_at AT TIME ZONE 'UTC', 'HH24')`, AttributeValue: `attributes ->> CAST(? AS TEXT)`}

// SufficientStats reads the rollups of one experiment, in one
// repeatable-read snapshot (see sqlstore.CohortDialect.SufficientStats).
// With q.Until set it recomputes them from the raw events before that time.
func (s *Store) SufficientStats(ctx context.Context, q experiments.StatsQuery) (*experiments.SufficientStats, error) {
	btx, err := s.rep.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, wrap("sufficient stats", err)
	}
	defer func() { _ = btx.Rollback() }()
	out, err := cohortDialect.SufficientStats(ctx, &rtx{btx}, q) // cohortDialect: cohorts.go
	if err != nil {
		return nil, wrap("sufficient stats", err)
	}
	return out, nil
}
