package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// TestMigrationGivesEventsAnEnvironment upgrades a database of version 18
// holding events to the current schema (migration 0019 rebuilds events
// with the key (event_id, environment)): every event keeps its rowid (which
// the ingest and the events marker read) and gets the environment "", so
// an unbound key's copy of an old id is still a duplicate and a staging
// key's is a new event.
func TestMigrationGivesEventsAnEnvironment(t *testing.T) {
	ctx := context.Background()
	path, db := legacyFile(t, 18)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"ev-a", "ev-b", "ev-c"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO events (rowid, event_id, type, unit_id, ts, name, received_at)
			VALUES (?, ?, 'conversion', 'u1', ?, 'purchase', ?)`, 10*(i+1), id, t0.UnixMicro(), t0.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT rowid, event_id, environment FROM events ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var rowid int64
		var id, env string
		if err := rows.Scan(&rowid, &id, &env); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s@%s#%d", id, env, rowid))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ev-a@#10", "ev-b@#20", "ev-c@#30"}; !slices.Equal(got, want) {
		t.Fatalf("events after the migration (id@environment#rowid) %v, want %v", got, want)
	}
	resend := func(env string) experiments.Event {
		return experiments.Event{ID: "ev-b", Environment: env, Type: experiments.EventConversion, UnitID: "u1",
			Timestamp: t0, Name: "purchase", ReceivedAt: t0}
	}
	dup, err := s.IngestEvents(ctx, []experiments.Event{resend(""), resend("staging")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dup, []bool{true, false}) {
		t.Fatalf("old id re-sent unbound, then from staging: duplicates %v, want [true false]", dup)
	}
}
