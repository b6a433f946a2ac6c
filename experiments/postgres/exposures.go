package postgres

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// The ingest of a batch of exposures only (the group commit of assign and
// OFREP, experiments/exposurebatch.go) in two statements after the unit
// locks instead of the general ingest's dozen: one statement dedupes the
// batch into event_ids, inserts the new events, sets the customers'
// last_exposed_at, merges the exposures into exposures_rollup and, for the
// units it exposes for the first time, inserts their attributed
// conversions (conversions that arrived before their exposure) into
// unit_metrics, unit_metrics_daily and unit_orders, and their conversions since the
// pre-period into unit_weeks; a second one runs only when the batch brings an exposure
// earlier than a unit's stored first one (an exposure delivered late),
// whose attributed conversions are then rebuilt from the raw events as the
// general ingest does; the links of the exposures to their customers
// (links.go) take one more when there are any. The rows written are those
// of ingestBatch.

// exposureArrays are the columns of a batch of exposures as arrays, in
// batch order.
type exposureArrays struct {
	ids, units, ts, exps, variants, channels, received, envs []string
	attrs                                                    []sql.NullString
}

func newExposureArrays(events []experiments.Event) (*exposureArrays, error) {
	n := len(events)
	a := &exposureArrays{ids: make([]string, n), units: make([]string, n), ts: make([]string, n), exps: make([]string, n),
		variants: make([]string, n), channels: make([]string, n), received: make([]string, n), envs: make([]string, n),
		attrs: make([]sql.NullString, n)}
	now := time.Now()
	for i := range events {
		e := &events[i]
		attrs, err := sqlstore.AttributesJSON(e.Attributes)
		if err != nil {
			return nil, err
		}
		received := e.ReceivedAt
		if received.IsZero() {
			received = now
		}
		a.ids[i], a.units[i], a.exps[i], a.variants[i], a.channels[i], a.attrs[i], a.envs[i] =
			e.ID, e.UnitID, e.Experiment, e.Variant, e.Channel, attrs, e.Environment
		// As text: PostgreSQL rounds to the microsecond as it does COPY's.
		a.ts[i], a.received[i] = e.Timestamp.UTC().Format(time.RFC3339Nano), received.UTC().Format(time.RFC3339Nano)
	}
	return a, nil
}

// onlyExposures reports whether every event of the batch is an exposure
// without money (what assign and OFREP log).
func onlyExposures(events []experiments.Event) bool {
	for i := range events {
		e := &events[i]
		if e.Type != experiments.EventExposure || e.Revenue != 0 || e.PromotionCost != nil || e.Currency != "" ||
			e.OrderID != "" || e.Name != "" {
			return false
		}
	}
	return true
}

// ingestExposuresSQL is the statement of ingestExposures. Its parameters
// are the columns of exposureArrays; it returns the batch's new events'
// IDs and environments (unit NULL) and, per (experiment, unit) whose first exposure the batch
// moved earlier, one row with unit set (their conversions are rebuilt
// afterwards), and one row of NULLs when it changed unit_orders (whose
// changes then go to variant_orders, flushOrders).
var ingestExposuresSQL = `WITH input AS (
	SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TIMESTAMPTZ[]), CAST(? AS TEXT[]),
		CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS JSONB[]), CAST(? AS TIMESTAMPTZ[]), CAST(? AS TEXT[])) WITH ORDINALITY
		AS i(event_id, unit_id, ts, experiment, variant, channel, attributes, received_at, environment, ord)
	WHERE ts >= ` + retained + `
), ids AS (
	INSERT INTO event_ids (event_id, ts)
	SELECT DISTINCT ON (event_id) event_id, ts FROM input WHERE environment = '' ORDER BY event_id, ord
	ON CONFLICT (event_id) DO NOTHING
	RETURNING event_id, CAST('' AS TEXT) AS environment
), env_ids AS (
	INSERT INTO event_ids_env (event_id, environment, ts)
	SELECT DISTINCT ON (event_id, environment) event_id, environment, ts FROM input WHERE environment <> ''
	ORDER BY event_id, environment, ord
	ON CONFLICT (event_id, environment) DO NOTHING
	RETURNING event_id, environment
), fresh AS (
	SELECT DISTINCT ON (i.event_id, i.environment) i.*
	FROM input i JOIN (SELECT event_id, environment FROM ids UNION ALL SELECT event_id, environment FROM env_ids) k
		ON k.event_id = i.event_id AND k.environment = i.environment
	ORDER BY i.event_id, i.environment, i.ord
), ins AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT event_id, 'exposure', unit_id, ts, experiment, variant, NULL, 0, NULL, '', '', channel, attributes, received_at, environment
	FROM fresh
), cust AS (
	INSERT INTO customer_aggregates AS c (unit_id, environment, last_exposed_at)
	SELECT unit_id, environment, MAX(ts) FROM fresh GROUP BY unit_id, environment
	ON CONFLICT (unit_id, environment) DO UPDATE SET last_exposed_at = GREATEST(c.last_exposed_at, EXCLUDED.last_exposed_at)
), b AS (
	` + batchExposures("fresh") + `
), up AS (
	` + upsertRollups("b") + `
	RETURNING experiment, unit_id, first_variant, first_exposed_at, first_event_id, multiple, channel, xmax = 0 AS inserted
), moved AS (
	SELECT up.* FROM up JOIN b ON b.experiment = up.experiment AND b.unit_id = up.unit_id AND up.first_event_id = b.event_id
), metrics AS (
	INSERT INTO unit_metrics (` + metricsColumns + `) ` +
	metricsSelect(`(SELECT * FROM moved WHERE inserted) r`, "events", "") + `
), daily AS (
	INSERT INTO unit_metrics_daily (` + dailyColumns + `) ` +
	dailySelect(`(SELECT * FROM moved WHERE inserted) r`, "events", "") + `
), weeks AS (
	INSERT INTO unit_weeks (` + weekColumns + `) ` +
	weeksSelect(`(SELECT * FROM moved WHERE inserted) r`, "events", "") + `
), orders AS (
	INSERT INTO unit_orders (` + ordersColumns + `) ` +
	ordersSelect(`(SELECT * FROM moved WHERE inserted) r`, "events", "") + `
	RETURNING 1
), mult AS (
	UPDATE unit_metrics m SET multiple = TRUE FROM up
	WHERE up.multiple AND NOT up.inserted AND NOT m.multiple AND m.experiment = up.experiment AND m.unit_id = up.unit_id
), dmult AS (
	UPDATE unit_metrics_daily m SET multiple = TRUE FROM up
	WHERE up.multiple AND NOT up.inserted AND NOT m.multiple AND m.experiment = up.experiment AND m.unit_id = up.unit_id
), omult AS (
	UPDATE unit_orders m SET multiple = TRUE FROM up
	WHERE up.multiple AND NOT up.inserted AND NOT m.multiple AND m.experiment = up.experiment AND m.unit_id = up.unit_id
	RETURNING 1
)
SELECT event_id, environment, NULL AS experiment, NULL AS unit_id FROM ids
UNION ALL
SELECT event_id, environment, NULL, NULL FROM env_ids
UNION ALL
SELECT NULL, NULL, experiment, unit_id FROM moved WHERE NOT inserted
UNION ALL
SELECT NULL, NULL, NULL, NULL WHERE EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM omult)`

// ingestExposures is the transaction of IngestEvents for a batch of
// exposures only (onlyExposures): it stores the new events of the batch,
// sets dup[i] for the others, and maintains the customer aggregates and
// the rollups, as ingestBatch does.
// Its statements are prepared once per connection (see Store.prepared):
// a batch then costs one round trip each and no planning.
func (s *Store) ingestExposures(ctx context.Context, tx *rtx, events []experiments.Event, links []experiments.UnitLink,
	buckets []int64, dup []bool) error {
	a, err := newExposureArrays(events)
	if err != nil {
		return err
	}
	lock, err := s.prepared(ctx, tx, lockBucketsSQL)
	if err != nil {
		return err
	}
	if _, err := lock.ExecContext(ctx, pq.Array(bucketKeys(slices.Clone(buckets)))); err != nil {
		return err
	}
	// The generic plan, made once per connection: PostgreSQL would plan
	// the prepared statement anew for its first five executions on each
	// connection and then whenever custom plans look cheaper, and this
	// statement of fourteen parts takes tens of milliseconds to plan (its
	// execution for a batch of 16 exposures: about 5 ms).
	if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		return err
	}
	ingest, err := s.prepared(ctx, tx, ingestExposuresSQL)
	if err != nil {
		return err
	}
	var rows []struct {
		ID          sql.NullString `db:"event_id"`
		Environment sql.NullString `db:"environment"`
		Experiment  sql.NullString `db:"experiment"`
		Unit        sql.NullString `db:"unit_id"`
	}
	if err := ingest.SelectContext(ctx, &rows, pq.Array(a.ids), pq.Array(a.units), pq.Array(a.ts), pq.Array(a.exps),
		pq.Array(a.variants), pq.Array(a.channels), pq.Array(a.attrs), pq.Array(a.received), pq.Array(a.envs)); err != nil {
		return err
	}
	isNew := make(map[eventKey]bool, len(rows))
	var movedExps, movedUnits []string
	orders := false
	for _, r := range rows {
		switch {
		case r.ID.Valid:
			isNew[eventKey{r.ID.String, r.Environment.String}] = true
		case r.Unit.Valid:
			movedExps, movedUnits = append(movedExps, r.Experiment.String), append(movedUnits, r.Unit.String)
		default:
			orders = true
		}
	}
	for i := range events {
		k := eventKey{events[i].ID, events[i].Environment}
		dup[i] = !isNew[k]
		delete(isNew, k) // later copies in the batch are duplicates
	}
	if err := sqlstore.RecordLinks(ctx, tx, sqlstore.Timestamp, links, time.Now()); err != nil {
		return err
	}
	if len(movedUnits) == 0 {
		if orders {
			return flushOrders(ctx, tx)
		}
		return nil
	}
	// Rare: an exposure earlier than a unit's stored first one moved its
	// attribution window.
	pairs := `unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS t(experiment, unit_id)`
	exps, units := pq.Array(movedExps), pq.Array(movedUnits)
	moved := `exposures_rollup r JOIN ` + pairs + ` ON t.experiment = r.experiment AND t.unit_id = r.unit_id`
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM unit_metrics m USING ` + pairs + ` WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`, []any{exps, units}},
		{`DELETE FROM unit_metrics_daily m USING ` + pairs + ` WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`, []any{exps, units}},
		{`DELETE FROM unit_weeks m USING ` + pairs + ` WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`, []any{exps, units}},
		{`DELETE FROM unit_orders m USING ` + pairs + ` WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`, []any{exps, units}},
		{`INSERT INTO unit_metrics (` + metricsColumns + `) ` + metricsSelect(moved, "events", ""), []any{exps, units}},
		// DailySelect reads its pairs twice.
		{`INSERT INTO unit_metrics_daily (` + dailyColumns + `) ` + dailySelect(moved, "events", ""), []any{exps, units, exps, units}},
		{`INSERT INTO unit_orders (` + ordersColumns + `) ` + ordersSelect(moved, "events", ""), []any{exps, units}},
		{`INSERT INTO unit_weeks (` + weekColumns + `) ` + weeksSelect(moved, "events", ""), []any{exps, units}},
		{flushOrdersSQL, nil},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}
