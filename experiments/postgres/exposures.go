package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlstore"
)

// The ingest of a batch of exposures only (the group commit of assign and
// OFREP, experiments/exposurebatch.go) in one statement after the unit
// locks instead of the general ingest's dozen: it dedupes the batch into
// event_ids, inserts the new events, sets the customers' last_exposed_at
// and merges the exposures into exposures_rollup. Most exposures need
// nothing more: a new unit without conversions, or a later exposure of a
// stored unit. The statement names the units that need more, and only
// then do more statements run (exposureFollowUps): a unit exposed for the
// first time with conversions stored since its pre-period gets their
// rows in unit_metrics, unit_metrics_daily, unit_orders and unit_weeks; a
// unit whose first exposure the batch moved earlier (an exposure
// delivered late) has them rebuilt from the raw events as the general
// ingest does; a multiple-exposed unit's rows are flagged. The rows
// written are those of ingestBatch. Keeping these statements out of the
// common batch saves their plan nodes and the statement triggers of the
// sums (series_metrics, slice_metrics, variant_orders), which fire once
// per statement even when it writes no row.
//
// The links of the exposures to their customers (links.go) take one more
// statement when there are any.

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

// Kinds of the unit rows of ingestExposuresSQL.
const (
	unitConverted = "c" // first exposed by the batch, with conversions stored since its pre-period
	unitMoved     = "m" // an earlier first exposure than the stored one
	unitMultiple  = "x" // multiple-exposed, stored before the batch
)

// ingestExposuresSQL is the statement of ingestExposures. Its parameters
// are the columns of exposureArrays; it returns the batch's new events'
// IDs and environments (kind NULL) and per (experiment, unit) that needs
// more than the rollup merge one row of kind unitConverted, unitMoved or
// unitMultiple (exposureFollowUps).
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
	RETURNING experiment, unit_id, first_exposed_at, first_event_id, multiple, xmax = 0 AS inserted
)
SELECT event_id, environment, NULL AS experiment, NULL AS unit_id, NULL AS kind FROM ids
UNION ALL
SELECT event_id, environment, NULL, NULL, NULL FROM env_ids
UNION ALL
SELECT NULL, NULL, up.experiment, up.unit_id, CASE WHEN up.inserted THEN '` + unitConverted + `' ELSE '` + unitMoved + `' END
FROM up JOIN b ON b.experiment = up.experiment AND b.unit_id = up.unit_id AND up.first_event_id = b.event_id
WHERE NOT up.inserted OR EXISTS (SELECT 1 FROM events c WHERE c.type = 'conversion' AND c.unit_id = up.unit_id
	AND c.ts >= up.first_exposed_at - ` + fmt.Sprint(experiments.PrePeriod.Microseconds()) + ` * INTERVAL '1 microsecond')
UNION ALL
SELECT NULL, NULL, experiment, unit_id, '` + unitMultiple + `' FROM up WHERE multiple AND NOT inserted`

// ingestExposures is the transaction of IngestEvents for a batch of
// exposures only (onlyExposures): it stores the new events of the batch,
// sets dup[i] for the others, and maintains the customer aggregates and
// the rollups, as ingestBatch does.
// Its statements are prepared once per connection (stmtCache):
// a batch then costs one round trip each and no planning.
func (s *Store) ingestExposures(ctx context.Context, tx *rtx, events []experiments.Event, links []experiments.UnitLink,
	buckets []int64, dup []bool) error {
	a, err := newExposureArrays(events)
	if err != nil {
		return err
	}
	lock, err := s.stmts.prepared(ctx, tx, lockBucketsSQL)
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
	ingest, err := s.stmts.prepared(ctx, tx, ingestExposuresSQL)
	if err != nil {
		return err
	}
	var rows []struct {
		ID          sql.NullString `db:"event_id"`
		Environment sql.NullString `db:"environment"`
		Experiment  sql.NullString `db:"experiment"`
		Unit        sql.NullString `db:"unit_id"`
		Kind        sql.NullString `db:"kind"`
	}
	if err := ingest.SelectContext(ctx, &rows, pq.Array(a.ids), pq.Array(a.units), pq.Array(a.ts), pq.Array(a.exps),
		pq.Array(a.variants), pq.Array(a.channels), pq.Array(a.attrs), pq.Array(a.received), pq.Array(a.envs)); err != nil {
		return err
	}
	isNew := make(map[eventKey]bool, len(rows))
	units := map[string]*unitPairs{}
	for _, r := range rows {
		if !r.Kind.Valid {
			isNew[eventKey{r.ID.String, r.Environment.String}] = true
			continue
		}
		p := units[r.Kind.String]
		if p == nil {
			p = &unitPairs{}
			units[r.Kind.String] = p
		}
		p.exps, p.units = append(p.exps, r.Experiment.String), append(p.units, r.Unit.String)
	}
	for i := range events {
		k := eventKey{events[i].ID, events[i].Environment}
		dup[i] = !isNew[k]
		delete(isNew, k) // later copies in the batch are duplicates
	}
	if err := sqlstore.RecordLinks(ctx, tx, sqlstore.Timestamp, links, time.Now()); err != nil {
		return err
	}
	return exposureFollowUps(ctx, tx, units)
}

// unitPairs are (experiment, unit) pairs as two arrays.
type unitPairs struct{ exps, units []string }

// exposureFollowUps writes what ingestExposuresSQL left to do for the
// units it named, by kind (none, for most batches): the multiple flag of
// the rollups of stored units, the attributed conversions of units first
// exposed with conversions stored, and the rebuild of units whose first
// exposure moved; then variant_orders from what changed in unit_orders.
func exposureFollowUps(ctx context.Context, tx *rtx, units map[string]*unitPairs) error {
	pairs := `unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS t(experiment, unit_id)`
	rollup := `exposures_rollup r JOIN ` + pairs + ` ON t.experiment = r.experiment AND t.unit_id = r.unit_id`
	ran := false
	// run runs sqls for the units of kind, each with the pairs' arrays
	// once per time it reads them (dailySelect reads them twice).
	run := func(kind string, sqls ...string) error {
		p := units[kind]
		if p == nil {
			return nil
		}
		pair := []any{pq.Array(p.exps), pq.Array(p.units)}
		for _, q := range sqls {
			var args []any
			for range strings.Count(q, pairs) {
				args = append(args, pair...)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		ran = true
		return nil
	}
	var flags, deletes []string
	for _, table := range []string{"unit_metrics", "unit_metrics_daily", "unit_orders"} {
		flags = append(flags, `UPDATE `+table+` m SET multiple = TRUE FROM `+pairs+`
			WHERE NOT m.multiple AND m.experiment = t.experiment AND m.unit_id = t.unit_id`)
	}
	for _, table := range []string{"unit_metrics", "unit_metrics_daily", "unit_weeks", "unit_orders"} {
		deletes = append(deletes, `DELETE FROM `+table+` m USING `+pairs+` WHERE m.experiment = t.experiment AND m.unit_id = t.unit_id`)
	}
	inserts := []string{
		`INSERT INTO unit_metrics (` + metricsColumns + `) ` + metricsSelect(rollup, "events", ""),
		`INSERT INTO unit_metrics_daily (` + dailyColumns + `) ` + dailySelect(rollup, "events", ""),
		`INSERT INTO unit_orders (` + ordersColumns + `) ` + ordersSelect(rollup, "events", ""),
		`INSERT INTO unit_weeks (` + weekColumns + `) ` + weeksSelect(rollup, "events", ""),
	}
	// The rollup rows of a unit whose first exposure moved go before its
	// new ones.
	for _, step := range []struct {
		kind string
		sqls []string
	}{{unitMultiple, flags}, {unitMoved, append(deletes, inserts...)}, {unitConverted, inserts}} {
		if err := run(step.kind, step.sqls...); err != nil {
			return err
		}
	}
	if !ran {
		return nil
	}
	return flushOrders(ctx, tx)
}
