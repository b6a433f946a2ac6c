package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq" // also registers the "postgres" driver
)

// PostgresURL returns the URL of a fresh, empty schema of the database at
// PROMOLIFT_TEST_DATABASE_URL: the base URL (or key=value DSN) with
// search_path set to a random schema, which is dropped when the test ends.
// Without that variable the test is skipped, or fails when
// PROMOLIFT_REQUIRE_POSTGRES=1.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PROMOLIFT_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PROMOLIFT_TEST_DATABASE_URL is not set and PROMOLIFT_REQUIRE_POSTGRES=1")
		}
		t.Skip("PROMOLIFT_TEST_DATABASE_URL is not set")
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "promolift_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+pq.QuoteIdentifier(schema)); err != nil {
		admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+pq.QuoteIdentifier(schema)+` CASCADE`); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
		admin.Close()
	})
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema
}
