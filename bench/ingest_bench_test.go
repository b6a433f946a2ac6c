package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/promolift/promolift/experiments"
)

// ingestBatch is the number of events of one POST /api/v1/events.
const ingestBatch = 1000

// rawColumns are the columns of the plain tables the anchors fill: the
// columns of promolift's events table.
const rawColumns = `event_id, type, unit_id, ts, experiment, variant, name, revenue, currency, attributes, channel, received_at`

const rawTablePG = `CREATE TABLE raw_events (event_id TEXT, type TEXT, unit_id TEXT, ts TIMESTAMPTZ, experiment TEXT,
	variant TEXT, name TEXT, revenue BIGINT, currency TEXT, attributes JSONB, channel TEXT, received_at TIMESTAMPTZ)`

const rawTableSQLite = `CREATE TABLE raw_events (event_id TEXT, type TEXT, unit_id TEXT, ts TEXT, experiment TEXT,
	variant TEXT, name TEXT, revenue INTEGER, currency TEXT, attributes TEXT, channel TEXT, received_at TEXT)`

func rawArgs(e *experiments.Event) []any {
	var attrs any
	if len(e.Attributes) > 0 {
		attrs = `{"country": "KR"}`
	}
	return []any{e.ID, string(e.Type), e.UnitID, e.Timestamp, nullable(e.Experiment), nullable(e.Variant),
		nullable(e.Name), e.Revenue, e.Currency, attrs, e.Channel, time.Now().UTC()}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// cpuMeter is the CPU an ingest benchmark has spent since startCPU: this
// process's (the HTTP server, the store, the client; SQLite runs in it)
// and, in BenchmarkIngestPostgres, the PostgreSQL cluster's. reportEvents
// reports them per batch: on this shared machine they move far less from
// run to run than events/s does.
type cpuMeter struct {
	postmaster    int // 0: no cluster to measure
	proc, cluster time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	m := &cpuMeter{}
	if strings.HasPrefix(b.Name(), "BenchmarkIngestPostgres/") {
		m.postmaster = *fixture(b, "postmaster", func() (*int, error) {
			pid := postmasterPID(pgBase(b))
			return &pid, nil
		})
	}
	m.proc, _ = processCPU(os.Getpid())
	if m.postmaster != 0 {
		m.cluster, _ = clusterCPU(m.postmaster)
	}
	return m
}

func reportEvents(b *testing.B, m *cpuMeter) {
	b.ReportMetric(float64(b.N*ingestBatch)/b.Elapsed().Seconds(), "events/s")
	perBatch := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	if p, ok := processCPU(os.Getpid()); ok {
		b.ReportMetric(perBatch(p-m.proc), "cpu-ms/batch")
	}
	if m.postmaster == 0 {
		return
	}
	if c, ok := clusterCPU(m.postmaster); ok {
		b.ReportMetric(perBatch(c-m.cluster), "pg-cpu-ms/batch")
	}
}

// eventsIndexesPG are the secondary indexes of promolift's events table
// (migrations/postgres), on the anchor table raw_events.
const eventsIndexesPG = `
CREATE INDEX raw_events_exposures ON raw_events (experiment, unit_id, ts) WHERE type = 'exposure';
CREATE INDEX raw_events_conversions ON raw_events (unit_id, ts) WHERE type = 'conversion';
CREATE INDEX raw_events_unit ON raw_events (unit_id);
CREATE INDEX raw_events_ts ON raw_events USING BRIN (ts)`

// eventsIndexesSQLite are the same in SQLite (migrations/sqlite).
const eventsIndexesSQLite = `
CREATE INDEX raw_events_exposures ON raw_events (experiment, unit_id, ts) WHERE type = 'exposure';
CREATE INDEX raw_events_conversions ON raw_events (unit_id, ts) WHERE type = 'conversion';
CREATE INDEX raw_events_unit ON raw_events (unit_id);
CREATE INDEX raw_events_ts ON raw_events (ts)`

// BenchmarkIngestPostgres: the anchor (issue 17) is COPY of the same rows
// into a temporary table and INSERT … ON CONFLICT (event_id) DO NOTHING
// into a table with the key and the secondary indexes of events, without
// rollups, one transaction per batch; promolift is POST /api/v1/events with
// 1000 events (JSON, validation, COPY into staging, dedupe merge, rollup
// maintenance) over loopback. Issue 5's plain COPY into a table without key
// or index stays for reference.
func BenchmarkIngestPostgres(b *testing.B) {
	b.Run("impl=raw-copy", func(b *testing.B) { benchRawCopy(b, copyPlain) })
	// Context: the merge keyed by event_id alone (no other index).
	b.Run("impl=raw-copy-dedupe", func(b *testing.B) { benchRawCopy(b, copyDedupe) })
	b.Run("impl=copy-upsert-indexed", func(b *testing.B) { benchRawCopy(b, copyIndexed) })
	b.Run("impl=promolift-store", func(b *testing.B) {
		benchStoreIngest(b, postgresAPI(b), "pgs")
	})
	// Context: the same with 36 monthly partitions in events (three years
	// of retained events), and with every exposure a later one of a unit
	// exposed before (the steady state of a running experiment: assign
	// logs one exposure per unit and day).
	b.Run("impl=promolift-store-36-months", func(b *testing.B) {
		benchStoreIngest(b, postgresAPIMonths(b, 36), "pgm")
	})
	b.Run("impl=promolift-store-repeat", func(b *testing.B) { benchRepeatIngest(b, postgresAPI(b), "pgr") })
	b.Run("impl=promolift-http", func(b *testing.B) {
		benchHTTPIngest(b, postgresAPI(b), "pg")
	})
}

// The tables benchRawCopy fills.
const (
	copyPlain   = "pg-raw"         // no key, no index: COPY straight in
	copyDedupe  = "pg-raw-dedupe"  // keyed by event_id, no other index
	copyIndexed = "pg-raw-indexed" // keyed by event_id, the indexes of events
)

// benchRawCopy COPYs each batch into a plain table in one transaction; with
// a key (copyDedupe, copyIndexed), into a temporary table first and then
// merged with INSERT ... ON CONFLICT (event_id) DO NOTHING.
func benchRawCopy(b *testing.B, name string) {
	keyed := name != copyPlain
	base := pgBase(b)
	db := fixture(b, name, func() (*sql.DB, error) {
		u, err := pgSchemaURL(base)
		if err != nil {
			return nil, err
		}
		db, err := sql.Open("postgres", u)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1) // the temporary table lives in the session
		cleanups = append(cleanups, func() { db.Close() })
		_, err = db.Exec(rawTablePG + `;
ALTER TABLE raw_events ADD PRIMARY KEY (event_id);
CREATE TEMP TABLE raw_staging (LIKE raw_events) ON COMMIT DELETE ROWS`)
		if err == nil && !keyed {
			_, err = db.Exec(`ALTER TABLE raw_events DROP CONSTRAINT raw_events_pkey`)
		}
		if err == nil && name == copyIndexed {
			_, err = db.Exec(eventsIndexesPG)
		}
		return db, err
	})
	next := fixture(b, name+"-next", func() (*int, error) { return new(int), nil })
	table := "raw_events"
	var finish []string
	if keyed {
		table = "raw_staging"
		finish = []string{`INSERT INTO raw_events SELECT * FROM raw_staging ON CONFLICT (event_id) DO NOTHING`}
	}
	rawBatches(b, db, next, `COPY `+table+` (`+rawColumns+`) FROM STDIN`, true, rawArgs, finish...)
}

// BenchmarkIngestSQLite: the anchor (issue 17) is one transaction per
// batch with a prepared INSERT … ON CONFLICT (event_id) DO NOTHING into a
// table with the key and the secondary indexes of events, without rollups
// (same driver, WAL); issue 5's INSERT into a plain table stays for
// reference. promolift is POST /api/v1/events into the SQLite store.
func BenchmarkIngestSQLite(b *testing.B) {
	b.Run("impl=raw-insert", func(b *testing.B) { benchRawInsert(b, false) })
	b.Run("impl=insert-upsert-indexed", func(b *testing.B) { benchRawInsert(b, true) })
	b.Run("impl=promolift-store", func(b *testing.B) {
		benchStoreIngest(b, sqliteAPI(b), "sqs")
	})
	b.Run("impl=promolift-http", func(b *testing.B) {
		benchHTTPIngest(b, sqliteAPI(b), "sq")
	})
}

// benchRawInsert inserts each batch with a prepared INSERT in one
// transaction: into a plain table, or (indexed) with ON CONFLICT DO
// NOTHING into a table keyed by event_id with the indexes of events.
func benchRawInsert(b *testing.B, indexed bool) {
	name, schema, conflict := "sqlite-raw", rawTableSQLite, ""
	if indexed {
		name = "sqlite-raw-indexed"
		schema = strings.Replace(rawTableSQLite, "event_id TEXT,", "event_id TEXT PRIMARY KEY,", 1) + ";" + eventsIndexesSQLite
		conflict = " ON CONFLICT (event_id) DO NOTHING"
	}
	db := fixture(b, name, func() (*sql.DB, error) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(tmpDir, name+".db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		cleanups = append(cleanups, func() { db.Close() })
		_, err = db.Exec(schema)
		return db, err
	})
	next := fixture(b, name+"-next", func() (*int, error) { return new(int), nil })
	rawBatches(b, db, next, `INSERT INTO raw_events (`+rawColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+conflict, false,
		func(e *experiments.Event) []any {
			a := rawArgs(e)
			a[3] = e.Timestamp.Format(time.RFC3339Nano)
			a[11] = time.Now().UTC().Format(time.RFC3339Nano)
			return a
		})
}

func benchHTTPIngest(b *testing.B, e *apiEnv, prefix string) {
	next := fixture(b, "next-"+prefix, func() (*int, error) { return new(int), nil })
	url := e.srv.URL + "/api/v1/events"
	cpu := startCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		body := eventsJSON(eventBatch(prefix, "spring-sale", next, ingestBatch))
		b.StartTimer()
		if err := post(url, e.sdk, body); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// rawBatches writes b.N batches into db, one transaction each: the
// statement stmt, prepared in the transaction, runs once per event with
// args(e) (and once more without arguments to end a COPY), then the
// statements finish run, and the transaction commits.
func rawBatches(b *testing.B, db *sql.DB, next *int, stmt string, copyIn bool, args func(*experiments.Event) []any, finish ...string) {
	cpu := startCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := eventBatch("r", "spring-sale", next, ingestBatch)
		b.StartTimer()
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.Prepare(stmt)
		if err != nil {
			b.Fatal(err)
		}
		for j := range evs {
			if _, err := st.Exec(args(&evs[j])...); err != nil {
				b.Fatal(err)
			}
		}
		if copyIn {
			if _, err := st.Exec(); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		for _, q := range finish {
			if _, err := tx.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// benchStoreIngest is the store's part of an ingest: IngestEvents of the
// same batches, without HTTP, JSON and validation.
func benchStoreIngest(b *testing.B, e *apiEnv, prefix string) {
	next := fixture(b, "next-"+prefix, func() (*int, error) { return new(int), nil })
	ctx := context.Background()
	cpu := startCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := eventBatch(prefix, "spring-sale", next, ingestBatch)
		b.StartTimer()
		if _, err := e.store.IngestEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// benchRepeatIngest is benchStoreIngest with repeat exposures: the units
// of a first, untimed batch are exposed again (a later exposure, a new
// event id) with three new conversions each, batch after batch.
func benchRepeatIngest(b *testing.B, e *apiEnv, prefix string) {
	ctx := context.Background()
	round := fixture(b, "round-"+prefix, func() (*int, error) {
		_, err := e.store.IngestEvents(ctx, eventBatch(prefix, "spring-sale", new(int), ingestBatch))
		return new(int), err
	})
	cpu := startCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		*round++
		evs := eventBatch(prefix, "spring-sale", new(int), ingestBatch)
		for j := range evs {
			evs[j].ID = fmt.Sprintf("%s-r%d", evs[j].ID, *round)
		}
		b.StartTimer()
		if _, err := e.store.IngestEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// BenchmarkGrowthIngest is the time of k batches of 1000 events into the
// PostgreSQL store (IngestEvents, no HTTP) for k = 2, 4, 8: linear growth
// shows as constant ms/batch.
func BenchmarkGrowthIngest(b *testing.B) {
	for _, k := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("batches=%d", k), func(b *testing.B) {
			e := postgresAPI(b)
			next := fixture(b, "next-growth", func() (*int, error) { return new(int), nil })
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < k; j++ {
					b.StopTimer()
					evs := eventBatch("g", "spring-sale", next, ingestBatch)
					b.StartTimer()
					if _, err := e.store.IngestEvents(ctx, evs); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*k), "ms/batch")
		})
	}
}
