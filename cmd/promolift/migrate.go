package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/promolift/promolift/migrations"
)

func init() {
	register(command{name: "migrate", summary: "apply the database migrations and print the schema version", run: runMigrate})
}

func runMigrate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := newOptions("migrate", stderr)
	db := addDBOption(o)
	logs := addLogOptions(o)
	o.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: promolift migrate [--db DB] [--log-level LEVEL] [--log-format json|text]")
		fmt.Fprintln(stderr, "\nApplies the pending database migrations (SQLite or PostgreSQL, with goose; a lock lets")
		fmt.Fprintln(stderr, "one process migrate a database at a time), then lists every migration as applied (with")
		fmt.Fprintln(stderr, "the time goose recorded it) or pending and prints the schema version. A database")
		fmt.Fprintln(stderr, "migrated by promolift before goose has its versions adopted, not run again. serve")
		fmt.Fprintln(stderr, "applies the migrations too when it starts.")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 failure, 2 usage error.")
		fmt.Fprintln(stderr, "\nflags:")
		o.printDefaults()
	}
	rest, err := o.parse(args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q (migrate takes only flags)", rest[0])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "promolift migrate: %v\n", err)
		return 2
	}
	level, format, err := logs.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "promolift migrate: %v\n", err)
		return 2
	}
	log := newLogger(stderr, level, format)
	// Opening a store applies the pending migrations.
	store, err := openStore(ctx, db.value, log)
	if err != nil {
		fmt.Fprintf(stderr, "promolift migrate: %s: %v\n", describeDB(db.value), err)
		return 1
	}
	defer store.Close()
	dialect := migrations.SQLite
	if isPostgresURL(db.value) {
		dialect = migrations.Postgres
	}
	h, ok := store.(interface{ DB() *sqlx.DB })
	if !ok {
		fmt.Fprintf(stderr, "promolift migrate: the store of %s has no database handle\n", describeDB(db.value))
		return 1
	}
	states, err := migrations.Status(ctx, h.DB().DB, dialect)
	if err != nil {
		fmt.Fprintf(stderr, "promolift migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "database %s\n", describeDB(db.value))
	var version int64
	for _, m := range states {
		if m.Applied {
			version = max(version, m.Version)
			fmt.Fprintf(stdout, "applied  %04d  %-40s %s\n", m.Version, m.Name, m.AppliedAt.Format(time.DateTime))
		} else {
			fmt.Fprintf(stdout, "pending  %04d  %s\n", m.Version, m.Name)
		}
	}
	fmt.Fprintf(stdout, "schema version %d\n", version)
	return 0
}
