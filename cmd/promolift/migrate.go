package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"

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
		fmt.Fprintln(stderr, "\nApplies the pending database migrations (SQLite or PostgreSQL; on PostgreSQL a lock")
		fmt.Fprintln(stderr, "lets one process migrate at a time), then lists every migration as applied or pending")
		fmt.Fprintln(stderr, "and prints the schema version. serve applies them too when it starts.")
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
	all, err := migrations.List(dialect)
	if err != nil {
		fmt.Fprintf(stderr, "promolift migrate: %v\n", err)
		return 1
	}
	version := -1
	if h, ok := store.(interface{ DB() *sqlx.DB }); ok {
		version, err = migrations.Version(ctx, h.DB().DB, dialect)
		if err != nil {
			fmt.Fprintf(stderr, "promolift migrate: read the schema version: %v\n", err)
			return 1
		}
	} else if h, ok := store.(interface{ DB() *sql.DB }); ok {
		version, err = migrations.Version(ctx, h.DB(), dialect)
		if err != nil {
			fmt.Fprintf(stderr, "promolift migrate: read the schema version: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "database %s\n", describeDB(db.value))
	for _, m := range all {
		if version < 0 || m.Version <= version {
			fmt.Fprintf(stdout, "applied  %04d  %s\n", m.Version, m.Name)
		} else {
			fmt.Fprintf(stdout, "pending  %04d  %s\n", m.Version, m.Name)
		}
	}
	if version >= 0 {
		fmt.Fprintf(stdout, "schema version %d\n", version)
	}
	return 0
}
