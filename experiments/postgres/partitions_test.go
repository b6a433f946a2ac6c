package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

func month(y int, m time.Month, day int) time.Time {
	return time.Date(y, m, day, 12, 0, 0, 0, time.UTC)
}

// partitionNames lists the partitions of events, by name.
func partitionNames(t *testing.T, s *postgres.Store) []string {
	t.Helper()
	var names []string
	if err := s.DB().SelectContext(context.Background(), &names, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST('events' AS regclass) ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return names
}

func count(t *testing.T, s *postgres.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func createRunning(t *testing.T, s *postgres.Store, key string) {
	t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &experiments.Experiment{Key: key, Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}},
		CreatedAt: at, UpdatedAt: at}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	if err := s.CreateExperiment(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func exposure(id, unit string, ts time.Time) experiments.Event {
	return experiments.Event{ID: id, Type: experiments.EventExposure, UnitID: unit, Experiment: "exp", Variant: "a", Timestamp: ts}
}

func conversion(id, unit string, ts time.Time, revenue int64) experiments.Event {
	return experiments.Event{ID: id, Type: experiments.EventConversion, UnitID: unit, Name: "purchase",
		Revenue: revenue, Currency: "KRW", Timestamp: ts}
}

func ingest(t *testing.T, s *postgres.Store, evs ...experiments.Event) []bool {
	t.Helper()
	dup, err := s.IngestEvents(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return dup
}

func TestPartitionsCreatedPerMonth(t *testing.T) {
	s := open(t)
	if got := partitionNames(t, s); len(got) != 0 {
		t.Fatalf("a fresh database has partitions %q", got)
	}
	createRunning(t, s, "exp")
	// One batch across three months, with the last instant of a month and
	// the first of the next.
	dup := ingest(t, s,
		exposure("x1", "u1", month(2026, 7, 3)),
		conversion("c1", "u1", time.Date(2026, 7, 31, 23, 59, 59, 999999000, time.UTC), 5),
		conversion("c2", "u1", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), 7),
		conversion("c3", "u1", month(2026, 9, 20), 11))
	if slices.Contains(dup, true) {
		t.Fatalf("duplicates %v in a fresh batch", dup)
	}
	want := []string{"events_p2026_07", "events_p2026_08", "events_p2026_09"}
	if got := partitionNames(t, s); !slices.Equal(got, want) {
		t.Fatalf("partitions %q, want %q", got, want)
	}
	for name, n := range map[string]int{"events_p2026_07": 2, "events_p2026_08": 1, "events_p2026_09": 1} {
		if got := count(t, s, `SELECT COUNT(*) FROM `+name); got != n {
			t.Fatalf("%s holds %d rows, want %d", name, got, n)
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM event_ids`); n != 4 {
		t.Fatalf("event_ids holds %d rows, want 4", n)
	}
	// The partitions inherit the indexes of events.
	if n := count(t, s, `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'events_p2026_08'`); n != 4 {
		t.Fatalf("events_p2026_08 has %d indexes, want 4", n)
	}
	// No DEFAULT partition.
	if n := count(t, s, `SELECT COUNT(*) FROM pg_partitioned_table p WHERE p.partrelid = CAST('events' AS regclass) AND p.partdefid <> 0`); n != 0 {
		t.Fatal("events has a DEFAULT partition")
	}
	if diffs, err := s.CheckRollups(context.Background()); err != nil || len(diffs) != 0 {
		t.Fatalf("CheckRollups = %q, %v", diffs, err)
	}
	// A month already known costs no query; an existing one found in the
	// catalog is not created again.
	if err := s.EnsureEventPartitions(context.Background(), month(2026, 7, 1), month(2026, 9, 1)); err != nil {
		t.Fatal(err)
	}
	// A partition dropped by hand, which this Store still believes in, is
	// created again by the next ingest into its month, which succeeds.
	if _, err := s.DB().Exec(`DROP TABLE events_p2026_08`); err != nil {
		t.Fatal(err)
	}
	if dup := ingest(t, s, conversion("c4", "u1", month(2026, 8, 2), 13), conversion("c5", "u1", month(2026, 9, 2), 17)); slices.Contains(dup, true) {
		t.Fatalf("ingest after a partition was dropped by hand: duplicates %v", dup)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events_p2026_08`); n != 1 {
		t.Fatalf("the recreated events_p2026_08 holds %d rows, want 1", n)
	}
	// Only the months of the batch's events are created, not every month
	// between a far-off timestamp and the others.
	ingest(t, s, conversion("c6", "u1", month(2001, 3, 1), 1), conversion("c7", "u1", month(2026, 10, 1), 1))
	want = []string{"events_p2001_03", "events_p2026_07", "events_p2026_08", "events_p2026_09", "events_p2026_10"}
	if got := partitionNames(t, s); !slices.Equal(got, want) {
		t.Fatalf("partitions %q, want %q", got, want)
	}
	// A CHECK violation of events is not taken for a missing partition.
	_, err := s.IngestEvents(context.Background(), []experiments.Event{{ID: "bad", Type: "click", UnitID: "u1", Timestamp: month(2026, 8, 3)}})
	if experiments.KindOf(err) != experiments.KindInvalid {
		t.Fatalf("an event of an unknown type: %v, want invalid", err)
	}
}

func TestEnsurePartitionsRacingReplicas(t *testing.T) {
	u := testURL(t)
	ctx := context.Background()
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		s, err := postgres.Open(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	for round := 0; round < 3; round++ {
		from := month(2024+round, 1, 1)
		to := month(2024+round, 12, 31)
		start := make(chan struct{})
		errs := make(chan error, 2*replicas)
		for _, s := range stores {
			for g := 0; g < 2; g++ {
				go func() {
					<-start
					errs <- s.EnsureEventPartitions(ctx, from, to)
				}()
			}
		}
		close(start)
		for i := 0; i < 2*replicas; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if got := partitionNames(t, stores[0]); len(got) != 36 || got[0] != "events_p2024_01" || got[35] != "events_p2026_12" {
		t.Fatalf("partitions %q, want 2024-01 to 2026-12", got)
	}
	// Racing ingests into new months, on every replica.
	createRunning(t, stores[0], "exp")
	errs := make(chan error, replicas)
	for i, s := range stores {
		go func() {
			var evs []experiments.Event
			for m := 1; m <= 6; m++ {
				evs = append(evs, conversion(fmt.Sprintf("r%d-%d", i, m), "u"+strconv.Itoa(i), month(2023, time.Month(m), 2), 1))
			}
			_, err := s.IngestEvents(ctx, evs)
			errs <- err
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, stores[0], `SELECT COUNT(*) FROM events`); n != 6*replicas {
		t.Fatalf("events holds %d rows, want %d", n, 6*replicas)
	}
	if got := partitionNames(t, stores[0]); len(got) != 42 {
		t.Fatalf("%d partitions, want 42", len(got))
	}
}

func TestDedupeAcrossPartitions(t *testing.T) {
	s := open(t)
	createRunning(t, s, "exp")
	if dup := ingest(t, s, exposure("x1", "u1", month(2026, 8, 1)), conversion("c1", "u1", month(2026, 8, 2), 100)); slices.Contains(dup, true) {
		t.Fatalf("first batch: duplicates %v", dup)
	}
	// The same ids again, with timestamps in other months, and a new id
	// sent twice in one batch with different months: the first copy wins.
	dup := ingest(t, s,
		exposure("x1", "u1", month(2026, 6, 1)),
		conversion("c1", "u1", month(2026, 9, 2), 999),
		conversion("c2", "u1", month(2026, 8, 3), 10),
		conversion("c2", "u1", month(2026, 7, 3), 20))
	if !slices.Equal(dup, []bool{true, true, false, true}) {
		t.Fatalf("second batch: duplicates %v, want [true true false true]", dup)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != 3 {
		t.Fatalf("events holds %d rows, want 3", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events WHERE event_id = 'c2' AND revenue = 10 AND ts = $1`, month(2026, 8, 3)); n != 1 {
		t.Fatal("c2: the first copy of the batch was not the one stored")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM event_ids e JOIN events v USING (event_id) WHERE e.ts = v.ts`); n != 3 {
		t.Fatalf("event_ids and events agree on %d rows, want 3", n)
	}
	// The partitions of the duplicates' months were created (before the
	// transaction, which cannot know yet), and stay empty.
	if n := count(t, s, `SELECT COUNT(*) FROM events_p2026_06`) + count(t, s, `SELECT COUNT(*) FROM events_p2026_07`); n != 0 {
		t.Fatalf("%d rows in the months of duplicates", n)
	}
	if ok, err := s.HasEvent(context.Background(), "c2"); err != nil || !ok {
		t.Fatalf("HasEvent(c2) = %v, %v", ok, err)
	}
	if ok, err := s.HasEvent(context.Background(), "nope"); err != nil || ok {
		t.Fatalf("HasEvent(nope) = %v, %v", ok, err)
	}
	st, err := s.SufficientStats(context.Background(), experiments.StatsQuery{Experiment: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Metrics) != 1 || st.Metrics[0].Metric != "purchase" || st.Metrics[0].Revenue != 110 || st.Metrics[0].Count != 2 {
		t.Fatalf("metric stats %v, want 2 purchases with revenue 110", st.Metrics)
	}
}

func TestDropEventsBefore(t *testing.T) {
	ctx := context.Background()
	u := testURL(t)
	var s, replica *postgres.Store
	for _, p := range []**postgres.Store{&s, &replica} {
		st, err := postgres.Open(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*p = st
	}
	createRunning(t, s, "exp")
	ingest(t, s,
		exposure("x-old", "old", month(2026, 5, 1)), conversion("c-old", "old", month(2026, 5, 2), 100),
		exposure("x-mid", "mid", month(2026, 6, 1)), conversion("c-mid", "mid", month(2026, 6, 2), 50),
		exposure("x-new", "new", month(2026, 7, 1)), conversion("c-new", "new", month(2026, 7, 2), 10))
	// The other replica has seen the months that retention drops.
	if err := replica.EnsureEventPartitions(ctx, month(2026, 5, 1), month(2026, 7, 1)); err != nil {
		t.Fatal(err)
	}
	statsBefore, err := s.SufficientStats(ctx, experiments.StatsQuery{Experiment: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	rollups := count(t, s, `SELECT COUNT(*) FROM exposures_rollup`) + count(t, s, `SELECT COUNT(*) FROM unit_metrics`)

	if _, err := s.DropEventsBefore(ctx, time.Now().AddDate(0, 2, 0)); experiments.KindOf(err) != experiments.KindInvalid {
		t.Fatalf("DropEventsBefore in the future: %v, want invalid", err)
	}
	// Mid-July: June ends before it, July does not.
	dropped, err := s.DropEventsBefore(ctx, time.Date(2026, 7, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dropped, []string{"events_p2026_05", "events_p2026_06"}) {
		t.Fatalf("dropped %q", dropped)
	}
	if got := partitionNames(t, s); !slices.Equal(got, []string{"events_p2026_07"}) {
		t.Fatalf("partitions left %q", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM event_ids`); n != 2 {
		t.Fatalf("event_ids holds %d rows, want the 2 of July", n)
	}
	if h, err := s.RetentionHorizon(ctx); err != nil || !h.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("RetentionHorizon = %v, %v", h, err)
	}
	// The rollups stay, and so do the reports.
	if n := count(t, s, `SELECT COUNT(*) FROM exposures_rollup`) + count(t, s, `SELECT COUNT(*) FROM unit_metrics`); n != rollups {
		t.Fatalf("%d rollup rows after retention, want %d", n, rollups)
	}
	statsAfter, err := s.SufficientStats(ctx, experiments.StatsQuery{Experiment: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(statsAfter) != fmt.Sprint(statsBefore) {
		t.Fatalf("stats changed by retention:\n%+v\n%+v", statsBefore, statsAfter)
	}
	// The units first exposed in the dropped months (old, mid) cannot be
	// recomputed: the check leaves them out, a repair keeps them, and
	// damage to the retained unit is still found and repaired.
	if _, err := s.DB().ExecContext(ctx, `UPDATE unit_metrics SET revenue = revenue + 1 WHERE unit_id IN ('mid', 'new')`); err != nil {
		t.Fatal(err)
	}
	if diffs, err := s.CheckRollups(ctx); err != nil || len(diffs) != 2 || !strings.Contains(diffs[0], `unit "new/purchase"`) {
		t.Fatalf("CheckRollups after retention and damage = %q, %v; want the two sides of unit new only", diffs, err)
	}
	if err := s.RecomputeRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if diffs, err := s.CheckRollups(ctx); err != nil || len(diffs) != 0 {
		t.Fatalf("CheckRollups after the repair = %q, %v", diffs, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM exposures_rollup`) + count(t, s, `SELECT COUNT(*) FROM unit_metrics`); n != rollups {
		t.Fatalf("%d rollup rows after the repair, want %d", n, rollups)
	}
	if n := count(t, s, `SELECT revenue FROM unit_metrics WHERE unit_id = 'mid'`); n != 51 {
		t.Fatalf("the repair changed the frozen unit mid: revenue %d, want its 50 (+1 of the damage, not recomputable)", n)
	}
	// Re-attributing the experiment would need the dropped events.
	exp, err := s.GetExperiment(ctx, "exp")
	if err != nil {
		t.Fatal(err)
	}
	exp.AttributionWindow *= 2
	if err := s.UpdateExperiment(ctx, exp); experiments.KindOf(err) != experiments.KindConflict ||
		!strings.Contains(err.Error(), `2 unit(s) of experiment "exp" were first exposed before the retention horizon 2026-07-01`) {
		t.Fatalf("a new attribution window after retention: %v, want a conflict naming the horizon", err)
	}
	// An event older than the horizon is not stored again (its id may
	// have been dropped): it is reported as a duplicate, and its month is
	// not created again. Newer events are stored as before, also in a new
	// month, and an old duplicate does not hold up the batch.
	dup := ingest(t, s, conversion("c-old", "old", month(2026, 5, 2), 100), conversion("c-late", "new", month(2026, 6, 30), 1),
		conversion("c-aug", "new", month(2026, 8, 2), 3), conversion("c-new", "new", month(2026, 7, 2), 10))
	if !slices.Equal(dup, []bool{true, true, false, true}) {
		t.Fatalf("ingest after retention: duplicates %v, want [true true false true]", dup)
	}
	if got := partitionNames(t, s); !slices.Equal(got, []string{"events_p2026_07", "events_p2026_08"}) {
		t.Fatalf("partitions after a late ingest %q", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != 3 {
		t.Fatalf("events holds %d rows, want 3", n)
	}
	// The same on the replica, whose cache still lists the dropped
	// months, and for a month it never saw.
	dup = ingest(t, replica, conversion("c-old", "old", month(2026, 5, 2), 100), conversion("c-april", "old", month(2026, 4, 2), 1),
		conversion("c-aug2", "new", month(2026, 8, 3), 3))
	if !slices.Equal(dup, []bool{true, true, false}) {
		t.Fatalf("ingest on the replica after retention: duplicates %v, want [true true false]", dup)
	}
	if got := partitionNames(t, s); !slices.Equal(got, []string{"events_p2026_07", "events_p2026_08"}) {
		t.Fatalf("partitions after the replica's ingest %q", got)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != 4 {
		t.Fatalf("events holds %d rows, want 4", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM event_ids`); n != 4 {
		t.Fatalf("event_ids holds %d rows, want 4", n)
	}
	// Through the Service, an event before the horizon is rejected with a
	// code that says why, and the rest of its batch is stored.
	svc := experiments.NewService(s, nil)
	out, err := svc.IngestEvents(ctx, experiments.Principal{}, []experiments.Event{
		conversion("c-may", "old", month(2026, 5, 3), 1), conversion("c-aug3", "new", month(2026, 8, 4), 1)})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Status != experiments.EventRejected || out[0].Err == nil || out[0].Err.Code != "too_old" ||
		out[0].Err.Field != "timestamp" || out[1].Status != experiments.EventAccepted {
		t.Fatalf("service ingest across the horizon: %+v", out)
	}
	// Retention again with an earlier date changes nothing.
	if dropped, err := s.DropEventsBefore(ctx, month(2026, 3, 1)); err != nil || len(dropped) != 0 {
		t.Fatalf("an earlier retention dropped %q, %v", dropped, err)
	}
	if h, _ := s.RetentionHorizon(ctx); !h.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("the horizon moved back to %v", h)
	}
	parts, err := s.EventPartitions(ctx)
	if err != nil || len(parts) != 2 || !parts[0].From.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) ||
		!parts[1].To.Equal(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("EventPartitions = %+v, %v", parts, err)
	}
}

// TestMigrationUpgradesEvents builds a schema at the version before 0008,
// stores events the old way (events with event_id as primary key), then
// opens the store, which applies 0008.
func TestMigrationUpgradesEvents(t *testing.T) {
	ctx := context.Background()
	u := testURL(t)
	rows := 3000
	if v := os.Getenv("PROMOLIFT_TEST_MIGRATION_ROWS"); v != "" {
		var err error
		if rows, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrationstest.Legacy(t, db, migrations.Postgres, 7)
	// Events over 14 months (one gap month), in a session whose TimeZone
	// is not UTC, which must not shift the month bounds.
	if _, err := db.ExecContext(ctx, `SET TIME ZONE 'America/New_York'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO events (event_id, type, unit_id, ts, experiment, variant, name, revenue, currency, received_at)
		SELECT 'ev' || i, CASE WHEN i % 2 = 0 THEN 'exposure' ELSE 'conversion' END, 'u' || (i / 2),
			(TIMESTAMP '2025-01-01 00:00:00' + (i % 15) * INTERVAL '1 month' + (i % 7) * INTERVAL '1 hour') AT TIME ZONE 'UTC',
			CASE WHEN i % 2 = 0 THEN 'exp' END, CASE WHEN i % 2 = 0 THEN 'a' END,
			CASE WHEN i % 2 = 1 THEN 'purchase' END, i, 'KRW', now()
		FROM generate_series(0, $1 - 1) i WHERE i % 15 <> 4`, rows); err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("migration 0008 over %d events took %v", stored, time.Since(start).Round(time.Millisecond))
	names := partitionNames(t, s)
	if len(names) != 14 || names[0] != "events_p2025_01" || slices.Contains(names, "events_p2025_05") || names[13] != "events_p2026_03" {
		t.Fatalf("partitions %q", names)
	}
	// The 2025-01 boundary: an event at 00:00 UTC on the 1st is in its month.
	if n := count(t, s, `SELECT COUNT(*) FROM events_p2025_02 WHERE ts < TIMESTAMPTZ '2025-02-01 00:00:00+00'`); n != 0 {
		t.Fatalf("%d rows of January in February's partition", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != stored {
		t.Fatalf("events holds %d rows after the migration, %d before", n, stored)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM event_ids JOIN events USING (event_id, ts)`); n != stored {
		t.Fatalf("event_ids matches %d events, want %d", n, stored)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'events_unpartitioned'`); n != 0 {
		t.Fatal("the old table is still there")
	}
	// The migrated ids are duplicates, in any month; new ids are not.
	createRunning(t, s, "exp")
	dup := ingest(t, s, conversion("ev1", "u0", month(2026, 10, 1), 1), conversion("ev3", "u1", month(2025, 1, 1), 1),
		conversion("new", "u1", month(2025, 2, 1), 1))
	if !slices.Equal(dup, []bool{true, true, false}) {
		t.Fatalf("duplicates %v, want [true true false]", dup)
	}
	if err := s.RecomputeRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if diffs, err := s.CheckRollups(ctx); err != nil || len(diffs) != 0 {
		t.Fatalf("CheckRollups = %q, %v", diffs, err)
	}
}

// BenchmarkIngest1000Partitions36 is BenchmarkIngest1000 with 36 monthly
// partitions, for the cost of planning and probing the partitions in the
// rollup rebuild.
func BenchmarkIngest1000Partitions36(b *testing.B) {
	s, err := postgres.Open(context.Background(), testURL(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureEventPartitions(context.Background(), month(2024, 1, 1), month(2026, 12, 1)); err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkIngest(b, s, 1000)
}
