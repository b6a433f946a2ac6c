package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/promolift/promolift/experiments/postgres"
)

func init() {
	register(command{name: "retention", summary: "drop whole months of raw events (PostgreSQL; -dry-run lists them)", run: runRetention})
}

// eventRetainer is what promolift retention needs of a store.
type eventRetainer interface {
	EventPartitions(ctx context.Context) ([]postgres.EventPartition, error)
	RetentionHorizon(ctx context.Context) (time.Time, error)
	DropEventsBefore(ctx context.Context, before time.Time) ([]string, error)
}

var _ eventRetainer = (*postgres.Store)(nil)

// retentionNow is the clock of promolift retention; tests may replace it.
var retentionNow = time.Now

// runRetention drops the monthly partitions of the events table that end
// at or before the cutoff. It exits 0 on success, 1 when the database
// fails, and 2 on a usage error.
func runRetention(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := newOptions("retention", stderr)
	db := addDBOption(o)
	logs := addLogOptions(o)
	before := o.fs.String("before", "", "drop the months of events that end on or before this date (YYYY-MM-DD, UTC)")
	keep := o.fs.String("keep-months", "", "keep the current month and the `N` months before it; drop older ones")
	dryRun := o.fs.Bool("dry-run", false, "list the partitions that would be dropped, and drop nothing")
	o.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: promolift retention (-before YYYY-MM-DD | -keep-months N) [-dry-run] [--db postgres://...]")
		fmt.Fprintln(stderr, "\nDrops whole months of raw events (the monthly partitions of the events table) and")
		fmt.Fprintln(stderr, "their deduplication ids, PostgreSQL only. Reports keep working: the rollups stay.")
		fmt.Fprintln(stderr, "Events older than the retained months are rejected from then on (code too_old),")
		fmt.Fprintln(stderr, "and 'promolift check' can no longer verify experiments with events in dropped months.")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 failure, 2 usage error.")
		fmt.Fprintln(stderr, "\nflags:")
		o.printDefaults()
	}
	rest, err := o.parse(args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q (retention takes only flags)", rest[0])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "promolift retention: %v\n", err)
		return 2
	}
	level, format, err := logs.resolve()
	if err == nil {
		err = checkRetentionDB(db)
	}
	var cutoff time.Time
	if err == nil {
		cutoff, err = retentionCutoff(*before, *keep, retentionNow())
	}
	if err != nil {
		fmt.Fprintf(stderr, "promolift retention: %v\n", err)
		return 2
	}
	log := newLogger(stderr, level, format)
	store, err := openStore(ctx, db.value, log)
	if err != nil {
		fmt.Fprintf(stderr, "promolift retention: cannot open the database %s: %v\n", describeDB(db.value), err)
		return 1
	}
	defer store.Close()
	r, ok := store.(eventRetainer)
	if !ok {
		fmt.Fprintf(stderr, "promolift retention: partitioning and retention need PostgreSQL (the store of %s has neither)\n", describeDB(db.value))
		return 1
	}
	if *dryRun {
		parts, err := r.EventPartitions(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "promolift retention: %v\n", err)
			return 1
		}
		n := 0
		for _, p := range parts {
			if p.To.After(cutoff) {
				continue
			}
			n++
			fmt.Fprintf(stdout, "would drop %s  %s to %s  %s\n", p.Name, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), rowEstimate(p.Rows))
		}
		if n == 0 {
			fmt.Fprintf(stdout, "no partition ends on or before %s: nothing to drop\n", cutoff.Format(time.DateOnly))
		}
		fmt.Fprintf(stdout, "dry run: nothing dropped; the retention horizon would be %s\n", horizonOf(cutoff).Format(time.DateOnly))
		return 0
	}
	dropped, err := r.DropEventsBefore(ctx, cutoff)
	if err != nil {
		fmt.Fprintf(stderr, "promolift retention: %v\n", err)
		return 1
	}
	for _, name := range dropped {
		fmt.Fprintf(stdout, "dropped %s\n", name)
	}
	if len(dropped) == 0 {
		fmt.Fprintf(stdout, "no partition ends on or before %s: nothing dropped\n", cutoff.Format(time.DateOnly))
	}
	h, err := r.RetentionHorizon(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "promolift retention: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "retention horizon %s: events before it are gone and no longer accepted\n", h.Format(time.DateOnly))
	return 0
}

// checkRetentionDB refuses a SQLite database before anything opens (and
// so creates) it.
func checkRetentionDB(db *option) error {
	if db.value == "" {
		return db.errorf("must not be empty")
	}
	if !isPostgresURL(db.value) {
		return fmt.Errorf("partitioning and retention need PostgreSQL; %s is a SQLite database, whose events are not partitioned", describeDB(db.value))
	}
	return nil
}

// retentionCutoff returns the time before which whole months are dropped:
// -before as a UTC date, or the start of the month keep months before the
// current one. Exactly one of the two must be given, and the cutoff may
// not be after the start of the current month.
func retentionCutoff(before, keep string, now time.Time) (time.Time, error) {
	thisMonth := horizonOf(now)
	var cutoff time.Time
	switch {
	case before == "" && keep == "":
		return time.Time{}, errors.New("give -before YYYY-MM-DD or -keep-months N")
	case before != "" && keep != "":
		return time.Time{}, errors.New("give -before or -keep-months, not both")
	case before != "":
		t, err := time.Parse(time.DateOnly, before)
		if err != nil {
			return time.Time{}, fmt.Errorf("-before %q: want a date YYYY-MM-DD", before)
		}
		cutoff = t
	default:
		n, err := strconv.Atoi(keep)
		if err != nil || n < 0 || n > 1200 {
			return time.Time{}, fmt.Errorf("-keep-months %q: want a whole number of months from 0 to 1200", keep)
		}
		cutoff = thisMonth.AddDate(0, -n, 0)
	}
	if cutoff.After(thisMonth) {
		return time.Time{}, fmt.Errorf("-before %s: the current month (from %s) and later months cannot be dropped",
			cutoff.Format(time.DateOnly), thisMonth.Format(time.DateOnly))
	}
	return cutoff, nil
}

// horizonOf returns the first instant of t's month in UTC: partitions are
// whole UTC months, so a cutoff inside a month keeps that month.
func horizonOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func rowEstimate(n int64) string {
	if n < 0 {
		return "(rows not yet counted by ANALYZE)"
	}
	return fmt.Sprintf("(about %d rows)", n)
}

// retentionHorizon returns the retention horizon of store, zero when it
// has none (SQLite, retention never ran, or it cannot be read).
func retentionHorizon(ctx context.Context, store any) time.Time {
	r, ok := store.(interface {
		RetentionHorizon(ctx context.Context) (time.Time, error)
	})
	if !ok {
		return time.Time{}
	}
	h, err := r.RetentionHorizon(ctx)
	if err != nil {
		return time.Time{}
	}
	return h
}
