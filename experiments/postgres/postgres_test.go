package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/storetest"
	"github.com/promolift/promolift/migrations"
	"github.com/promolift/promolift/migrations/migrationstest"
)

// testURL returns the URL of a fresh, empty schema (see
// storetest.PostgresURL).
func testURL(t testing.TB) string {
	t.Helper()
	return storetest.PostgresURL(t)
}

// legacySchema returns a connection to a new schema migrated to version
// upTo by the runner before goose, for the test to store rows as that
// version did, and the schema's URL (closed at the end of the test).
func legacySchema(t *testing.T, upTo int64) (*sql.DB, string) {
	t.Helper()
	u := testURL(t)
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrationstest.Legacy(t, db, migrations.Postgres, upTo)
	return db, u
}

func open(t *testing.T) *postgres.Store {
	t.Helper()
	return openURL(t, testURL(t))
}

// openURL opens the store on the schema of u, which migrates it to the
// current schema (closed at the end of the test).
func openURL(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) experiments.Store { return open(t) })
}

func TestUnavailable(t *testing.T) {
	testURL(t) // skip without a database
	_, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
	if experiments.KindOf(err) != experiments.KindUnavailable {
		t.Fatalf("Open of a closed port: %v (kind %s), want unavailable", err, experiments.KindOf(err))
	}
}

func TestConcurrentOpen(t *testing.T) {
	u := testURL(t)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), u, nil)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkIngest1000(b *testing.B) {
	s, err := postgres.Open(context.Background(), testURL(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkIngest(b, s, 1000)
}

// TestJITOff: store connections start with jit off (store.go).
func TestJITOff(t *testing.T) {
	s := open(t)
	var jit string
	if err := s.DB().Get(&jit, `SHOW jit`); err != nil {
		t.Fatal(err)
	}
	if jit != "off" {
		t.Fatalf("jit = %q on a store connection, want off", jit)
	}
}
