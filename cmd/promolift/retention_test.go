package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
)

func retention(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"retention"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRetentionCommand(t *testing.T) {
	ctx := context.Background()
	u := storetest.PostgresURL(t)
	s, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	e := &experiments.Experiment{Key: "exp", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}},
		CreatedAt: at, UpdatedAt: at}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	if err := s.CreateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
	var evs []experiments.Event
	for i, m := range []time.Month{5, 6, 7} {
		ts := time.Date(2026, m, 10, 12, 0, 0, 0, time.UTC)
		unit := "u" + string(rune('a'+i))
		evs = append(evs,
			experiments.Event{ID: "x" + unit, Type: experiments.EventExposure, UnitID: unit, Experiment: "exp", Variant: "a", Timestamp: ts},
			experiments.Event{ID: "c" + unit, Type: experiments.EventConversion, UnitID: unit, Name: "purchase", Revenue: 5,
				Currency: "KRW", Timestamp: ts.Add(time.Hour)})
	}
	if _, err := s.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	partitions := func() []string {
		ps, err := s.EventPartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		return names
	}

	code, out, errs := retention(ctx, "--db", u, "-before", "2026-07-01", "-dry-run")
	if code != 0 || !strings.Contains(out, "would drop events_p2026_05") || !strings.Contains(out, "would drop events_p2026_06") ||
		strings.Contains(out, "events_p2026_07") || !strings.Contains(out, "horizon would be 2026-07-01") {
		t.Fatalf("retention -dry-run = %d\n%s%s", code, out, errs)
	}
	if got := partitions(); len(got) != 3 {
		t.Fatalf("a dry run dropped partitions: %q left", got)
	}

	code, out, errs = retention(ctx, "--db", u, "-before", "2026-06-20")
	if code != 0 || out != "dropped events_p2026_05\nretention horizon 2026-06-01: events before it are gone and no longer accepted\n" {
		t.Fatalf("retention -before 2026-06-20 = %d\n%s%s", code, out, errs)
	}
	if got := partitions(); strings.Join(got, " ") != "events_p2026_06 events_p2026_07" {
		t.Fatalf("partitions left %q", got)
	}

	// check leaves out the unit first exposed in the dropped month, says
	// so, and finds the rest consistent; --repair keeps that unit's rollups.
	for _, args := range [][]string{{"check", "--db", u}, {"check", "--db", u, "--repair"}} {
		var cout, cerr bytes.Buffer
		if code := run(ctx, args, strings.NewReader(""), &cout, &cerr); code != 0 ||
			!strings.Contains(cout.String(), "dropped the events before 2026-06-01: units first exposed before then") ||
			!strings.Contains(cout.String(), "consistent") {
			t.Fatalf("%q after retention = %d\n%s%s", args, code, cout.String(), cerr.String())
		}
	}
	// The rollups of the three units, the May one included, are intact.
	st, err := s.SufficientStats(ctx, experiments.StatsQuery{Experiment: "exp"})
	if err != nil || len(st.Variants) != 1 || st.Variants[0].Units != 3 || len(st.Metrics) != 1 || st.Metrics[0].Count != 3 {
		t.Fatalf("stats after retention and check --repair: %+v, %v", st, err)
	}

	old := retentionNow
	retentionNow = func() time.Time { return time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC) }
	defer func() { retentionNow = old }()
	code, out, errs = retention(ctx, "--db", u, "-keep-months", "1")
	if code != 0 || !strings.Contains(out, "dropped events_p2026_06\n") || !strings.Contains(out, "horizon 2026-07-01") {
		t.Fatalf("retention -keep-months 1 in August = %d\n%s%s", code, out, errs)
	}
	code, out, errs = retention(ctx, "--db", u, "-keep-months", "1")
	if code != 0 || !strings.Contains(out, "nothing dropped") {
		t.Fatalf("retention again = %d\n%s%s", code, out, errs)
	}
	if got := partitions(); strings.Join(got, " ") != "events_p2026_07" {
		t.Fatalf("partitions left %q", got)
	}
}

func TestRetentionCommandBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lite := filepath.Join(dir, "promolift.db")
	pg := "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	for _, args := range [][]string{
		{"--db", pg},
		{"--db", pg, "-before", "2026-01-01", "-keep-months", "3"},
		{"--db", pg, "-before", "2026-13-01"},
		{"--db", pg, "-before", "last month"},
		{"--db", pg, "-before", "2999-01-01"},
		{"--db", pg, "-keep-months", "-1"},
		{"--db", pg, "-keep-months", "x"},
		{"--db", pg, "-before", "2026-01-01", "extra"},
		{"--db", pg, "--bogus"},
		{"--db", "", "-keep-months", "3"},
	} {
		if code, _, errs := retention(ctx, args...); code != 2 || errs == "" {
			t.Errorf("retention %q = %d, want 2 and a message (stderr %q)", args, code, errs)
		}
	}
	// SQLite: a clear error, and no database file is created.
	code, _, errs := retention(ctx, "--db", lite, "-keep-months", "3")
	if code != 2 || !strings.Contains(errs, "partitioning and retention need PostgreSQL") {
		t.Fatalf("retention on SQLite = %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(lite); !os.IsNotExist(err) {
		t.Fatalf("retention on SQLite created %s (%v)", lite, err)
	}
	// The database is checked only after the flags: a closed port fails
	// with 1.
	if code, _, errs := retention(ctx, "--db", pg, "-keep-months", "3"); code != 1 || errs == "" {
		t.Fatalf("retention on an unreachable database = %d, stderr %q", code, errs)
	}
}
