package storetest_test

import (
	"context"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// TestSuiteOnInMemorySQLite runs the suite on an in-memory SQLite
// database: the single-connection configuration the file-backed runs in
// experiments/sqlite do not cover.
func TestSuiteOnInMemorySQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) experiments.Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), ":memory:", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
