package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/promolift/promolift/experiments"
)

// The events table is partitioned by range of ts, one partition per
// calendar month in UTC, named events_pYYYY_MM (migration 0008). There is
// no DEFAULT partition: partitions are created on demand before an ingest
// writes into them (EnsureEventPartitions), and whole months are dropped
// for retention (DropEventsBefore). The exactly-once check lives in the
// unpartitioned table event_ids, and the retention horizon in the one-row
// table event_retention.

// partitionLockKey is the transaction-scoped advisory lock that serializes
// creating and dropping partitions, across processes ("plpart").
const partitionLockKey = int64(0x706c_7061_7274)

// partitionLockTimeout bounds how long creating a partition waits for the
// ACCESS EXCLUSIVE lock it needs on events (a long report holds a weaker
// one). The ingest that needed it then fails as unavailable and is retried
// by the client, instead of stalling every other ingest behind it.
const partitionLockTimeout = "5s"

// partitionSet is the set of months (their first instant, UTC) whose
// partition this Store knows to exist, and the retention horizon as last
// seen (it only ever grows, so a stale value is merely too low); the zero
// value is empty.
type partitionSet struct {
	mu      sync.Mutex
	known   map[time.Time]bool
	horizon time.Time
}

// needless reports whether month m needs no query: its partition is known
// to exist, or it ends before the retention horizon.
func (p *partitionSet) needless(m time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[m] || !m.AddDate(0, 1, 0).After(p.horizon)
}

// knownAll reports whether no month of months needs a query (needless).
func (p *partitionSet) knownAll(months []time.Time) bool {
	for _, m := range months {
		if !p.needless(m) {
			return false
		}
	}
	return true
}

func (p *partitionSet) raiseHorizon(h time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.After(p.horizon) {
		p.horizon = h
	}
}

func (p *partitionSet) add(ms ...time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known == nil {
		p.known = map[time.Time]bool{}
	}
	for _, m := range ms {
		p.known[m] = true
	}
}

func (p *partitionSet) remove(ms ...time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range ms {
		delete(p.known, m)
	}
}

// monthOf returns the first instant of t's month in UTC.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName is the name of the partition of month m.
func partitionName(m time.Time) string {
	return fmt.Sprintf("events_p%04d_%02d", m.Year(), int(m.Month()))
}

// parsePartitionName returns the month of a partition name made by
// partitionName.
func parsePartitionName(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, "events_p")
	if !ok || len(rest) != len("2006_01") {
		return time.Time{}, false
	}
	m, err := time.Parse("2006_01", rest)
	if err != nil {
		return time.Time{}, false
	}
	return m.UTC(), true
}

// pgTimestamp formats t as a PostgreSQL timestamptz literal in UTC.
func pgTimestamp(t time.Time) string {
	return pq.QuoteLiteral(t.UTC().Format("2006-01-02 15:04:05") + "+00")
}

// EventPartition is one monthly partition of the events table: it holds
// the events with From <= ts < To.
type EventPartition struct {
	Name     string
	From, To time.Time
	// Rows is PostgreSQL's estimate of the partition's rows (from the
	// last ANALYZE or VACUUM; -1 when it was never analysed).
	Rows int64
}

// EventPartitions lists the monthly partitions of events, oldest first.
// Partitions not named by this store (events_pYYYY_MM) are left out.
func (s *Store) EventPartitions(ctx context.Context) ([]EventPartition, error) {
	var rows []struct {
		Name string  `db:"relname"`
		Rows float64 `db:"reltuples"`
	}
	err := s.r.SelectContext(ctx, &rows, `SELECT c.relname, c.reltuples FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST('events' AS regclass)`)
	if err != nil {
		return nil, wrap("event partitions", err)
	}
	var out []EventPartition
	for _, r := range rows {
		m, ok := parsePartitionName(r.Name)
		if !ok {
			continue
		}
		out = append(out, EventPartition{Name: r.Name, From: m, To: m.AddDate(0, 1, 0), Rows: int64(r.Rows)})
	}
	slices.SortFunc(out, func(a, b EventPartition) int { return a.From.Compare(b.From) })
	return out, nil
}

// EnsureEventPartitions creates the monthly partitions of events covering
// [from, to] that do not exist yet, except months wholly before the
// retention horizon (ingest drops their events, see DropEventsBefore).
// Months this Store has seen before, and months before the horizon it last
// saw, cost no query. Each missing month is
// created in its own short transaction, outside any ingest transaction,
// under an advisory lock shared with DropEventsBefore, so replicas racing
// to create the same month (or a retention run) are safe; a partition
// created by someone else in the meantime counts as success.
//
// Creating a partition takes an ACCESS EXCLUSIVE lock on events for a
// moment (it waits for the transactions using events to finish, for at
// most 5 s, then fails as unavailable).
func (s *Store) EnsureEventPartitions(ctx context.Context, from, to time.Time) error {
	if to.Before(from) {
		from, to = to, from
	}
	var months []time.Time
	for m := monthOf(from); !m.After(to); m = m.AddDate(0, 1, 0) {
		months = append(months, m)
	}
	return s.ensureMonths(ctx, months)
}

// ensureMonths is EnsureEventPartitions for the given months (first
// instants, UTC).
func (s *Store) ensureMonths(ctx context.Context, months []time.Time) error {
	var missing []time.Time
	for _, m := range months {
		if !s.parts.needless(m) {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// One read of the catalog refreshes the whole set.
	existing, err := s.EventPartitions(ctx)
	if err != nil {
		return err
	}
	for _, p := range existing {
		s.parts.add(p.From)
	}
	for _, m := range missing {
		if s.parts.needless(m) {
			continue
		}
		if err := s.createPartition(ctx, m); err != nil {
			return wrap("create events partition "+partitionName(m), err)
		}
	}
	return nil
}

// createPartition creates the partition of month m unless it exists or
// the month is before the retention horizon.
func (s *Store) createPartition(ctx context.Context, m time.Time) error {
	name := partitionName(m)
	exists := func(q interface {
		GetContext(context.Context, any, string, ...any) error
	}) (bool, error) {
		var ok bool
		err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = CAST('events' AS regclass) AND c.relname = ?)`, name)
		return ok, err
	}
	var created bool
	err := s.tx1(ctx, func(tx *rtx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, partitionLockKey); err != nil {
			return err
		}
		if ok, err := exists(tx); err != nil || ok {
			created = ok
			return err
		}
		var horizon sql.NullTime
		if err := tx.GetContext(ctx, &horizon, `SELECT horizon FROM event_retention`); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if horizon.Valid {
			s.parts.raiseHorizon(horizon.Time.UTC())
			if !m.AddDate(0, 1, 0).After(horizon.Time) {
				return nil // retained no more: ingest drops these events
			}
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+quoteIdent(name)+` PARTITION OF events FOR VALUES FROM (`+
			pgTimestamp(m)+`) TO (`+pgTimestamp(m.AddDate(0, 1, 0))+`)`)
		created = err == nil
		return err
	})
	if err != nil && raceLost(err) {
		// Created concurrently by a process that does not take the lock
		// (an operator, an older binary): fine if it is now a partition.
		ok, rerr := exists(s.r)
		if rerr != nil {
			return rerr
		}
		if ok {
			err, created = nil, true
		}
	}
	if err != nil {
		return err
	}
	if created {
		s.parts.add(m)
	}
	return nil
}

// raceLost reports whether err is what CREATE TABLE IF NOT EXISTS ...
// PARTITION OF can return when another session created the same
// partition at the same moment: a duplicate table or type, or an overlap
// with the partition just created.
func raceLost(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.SQLState() {
	case "42P07", "23505", "42710", "42P17": // duplicate_table, unique_violation (pg_type), duplicate_object, invalid_object_definition (overlap)
		return true
	}
	return false
}

// RetentionHorizon returns the time before which events were dropped by
// DropEventsBefore (zero when retention never ran).
func (s *Store) RetentionHorizon(ctx context.Context) (time.Time, error) {
	var h time.Time
	err := s.r.GetContext(ctx, &h, `SELECT horizon FROM event_retention`)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("retention horizon", err)
	}
	return h.UTC(), nil
}

// DropEventsBefore applies retention: it drops every monthly partition of
// events whose upper bound is at or before before (whole months only: a
// month partly after before is kept), raises the retention horizon to the
// start of before's month, and deletes the event_ids rows older than the
// horizon, in one transaction. It returns the names of the dropped
// partitions. before may not be after the start of the current month.
//
// The transaction takes the advisory locks of every unit bucket (so no
// ingest, erasure or rollup rebuild is in flight; they wait) and the
// partition lock (so no partition is being created), then the ACCESS
// EXCLUSIVE lock on events that dropping a partition needs (it waits for
// running reads of events). From then on, ingest stores nothing older
// than the horizon: their ids may have been in the dropped months, and
// accepting them again would count them twice. The Service rejects such
// events (code too_old) before they reach the store; the store answers
// any that still arrive (horizon raised by another replica moments ago)
// as duplicates.
//
// The rollups (exposures_rollup, unit_metrics, unit_metrics_daily) are aggregates and stay, so
// reports of every experiment keep working. What is lost is the ability
// to recompute them: RecomputeRollups and CheckRollups (promolift check)
// reproduce only experiments whose raw events are all after the horizon.
// For an experiment with exposures or attributed conversions before it,
// check reports differences and RecomputeRollups would shrink its results
// to the retained events; so is SufficientStats with Until, and the CUPED
// pre-period, which read raw events. Drop a month only when every
// experiment with events in it is finished and archived.
func (s *Store) DropEventsBefore(ctx context.Context, before time.Time) ([]string, error) {
	horizon := monthOf(before) // a partition's upper bound is a month start
	if horizon.After(monthOf(time.Now())) {
		return nil, wrap("drop events", experiments.Invalid("before", "too_late",
			"must not be after the start of the current month (%s)", monthOf(time.Now()).Format("2006-01-02")))
	}
	var dropped []string
	var months []time.Time
	err := s.tx(ctx, func(tx *rtx) error {
		dropped, months = nil, nil
		if err := lockAllUnits(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, partitionLockKey); err != nil {
			return err
		}
		var names []string
		if err := tx.SelectContext(ctx, &names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = CAST('events' AS regclass) ORDER BY c.relname`); err != nil {
			return err
		}
		for _, n := range names {
			m, ok := parsePartitionName(n)
			if !ok || m.AddDate(0, 1, 0).After(horizon) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DROP TABLE `+quoteIdent(n)); err != nil {
				return fmt.Errorf("drop %s: %w", n, err)
			}
			dropped = append(dropped, n)
			months = append(months, m)
		}
		var h time.Time
		if err := tx.GetContext(ctx, &h, `INSERT INTO event_retention (id, horizon, updated_at) VALUES (TRUE, ?, now())
			ON CONFLICT (id) DO UPDATE SET horizon = GREATEST(event_retention.horizon, excluded.horizon), updated_at = excluded.updated_at
			RETURNING horizon`, horizon); err != nil {
			return err
		}
		for _, table := range []string{"event_ids", "event_ids_env"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE ts < ?`, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("drop events", err)
	}
	s.parts.remove(months...)
	s.parts.raiseHorizon(horizon)
	return dropped, nil
}

// freshEventsSQL is the first part of the ingest merge (IngestEvents): the
// CTE ins inserts into events the first copy (by ord) of every staged
// event whose (id, environment) was not stored yet and that is not older
// than the retention horizon, and returns the columns of the temp table
// fresh for each row it inserted. The ids of environment "" are kept in
// event_ids, those of the other environments in event_ids_env (migration
// 0019): both inserts are of the same statement.
var freshEventsSQL = `WITH ids AS (
	INSERT INTO event_ids (event_id, ts)
	SELECT DISTINCT ON (event_id) event_id, ts FROM staging
	WHERE environment = '' AND ts >= COALESCE((SELECT horizon FROM event_retention), '-infinity')
	ORDER BY event_id, ord
	ON CONFLICT (event_id) DO NOTHING
	RETURNING event_id, CAST('' AS TEXT) AS environment
), env_ids AS (
	INSERT INTO event_ids_env (event_id, environment, ts)
	SELECT DISTINCT ON (event_id, environment) event_id, environment, ts FROM staging
	WHERE environment <> '' AND ts >= COALESCE((SELECT horizon FROM event_retention), '-infinity')
	ORDER BY event_id, environment, ord
	ON CONFLICT (event_id, environment) DO NOTHING
	RETURNING event_id, environment
), ins AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT DISTINCT ON (s.event_id, s.environment) ` + prefixColumns("s.", eventColumns) + `
	FROM staging s JOIN (SELECT event_id, environment FROM ids UNION ALL SELECT event_id, environment FROM env_ids) k
		ON k.event_id = s.event_id AND k.environment = s.environment
	WHERE s.ts >= COALESCE((SELECT horizon FROM event_retention), '-infinity')
	ORDER BY s.event_id, s.environment, s.ord
	RETURNING event_id, type, unit_id, ts, experiment, variant, name, revenue, promotion_cost, order_id, channel, attributes, currency, environment
)`

// prefixColumns prefixes every name of the comma-separated list cols.
func prefixColumns(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ensureBatchPartitions makes sure the partitions of the months of a
// batch's timestamps exist, before the ingest transaction. Only months with
// an event count: one event with a far-off timestamp does not create every
// month in between.
func (s *Store) ensureBatchPartitions(ctx context.Context, events []experiments.Event) error {
	return s.ensureMonths(ctx, batchMonths(events))
}

// forgetBatchPartitions forgets that the partitions of the batch's months
// exist, so that the next ensureBatchPartitions reads the catalog again.
func (s *Store) forgetBatchPartitions(events []experiments.Event) {
	s.parts.remove(batchMonths(events)...)
}

// batchMonths returns the distinct months of the batch's timestamps, in
// ascending order.
func batchMonths(events []experiments.Event) []time.Time {
	months := make([]time.Time, 0, 1)
	for i := range events {
		if m := monthOf(events[i].Timestamp); !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	slices.SortFunc(months, func(a, b time.Time) int { return a.Compare(b) })
	return months
}

// missingPartition reports whether err is PostgreSQL's refusal to store a
// row of events for which no partition exists ("no partition of relation
// ... found for row": a check violation that names no constraint, unlike
// the CHECK constraints of the table).
func missingPartition(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23514" && pe.Constraint == ""
}
