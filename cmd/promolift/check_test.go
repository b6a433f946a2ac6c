package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "check.db")
	s, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := &experiments.Experiment{Key: "exp", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}}}
	e.ApplyDefaults()
	e.Status = experiments.StatusRunning
	e.CreatedAt, e.UpdatedAt = ts, ts
	if err := s.CreateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
	evs := []experiments.Event{
		{ID: "1", Type: experiments.EventExposure, UnitID: "u", Experiment: "exp", Variant: "a", Timestamp: ts},
		{ID: "2", Type: experiments.EventConversion, UnitID: "u", Name: "purchase", Revenue: 5, Currency: "KRW", Timestamp: ts},
	}
	if _, err := s.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"check"}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := check("--db", db); code != 0 || !strings.Contains(out, "consistent") {
		t.Fatalf("check on a consistent store = %d\n%s%s", code, out, errs)
	}

	// Damage a rollup behind the store's back.
	s, err = sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE unit_metrics SET revenue = revenue + 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	code, out, errs := check("--db", db)
	if code != 1 || !strings.Contains(out, "difference") {
		t.Fatalf("check on a damaged store = %d, want 1\n%s%s", code, out, errs)
	}
	t.Logf("check output:\n%s", out)
	if code, out, errs := check("--db", db, "--repair"); code != 0 || !strings.Contains(out, "repaired") {
		t.Fatalf("check --repair = %d, want 0\n%s%s", code, out, errs)
	}
	if code, out, errs := check("--db", db); code != 0 {
		t.Fatalf("check after repair = %d, want 0\n%s%s", code, out, errs)
	}

	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"--db", ""}, {"--log-level", "loud"}} {
		if code, _, errs := check(args...); code != 2 || errs == "" {
			t.Errorf("check %q = %d, want 2 and a message (stderr %q)", args, code, errs)
		}
	}
}
