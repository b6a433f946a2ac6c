package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// RollupMaintainer is implemented by stores that can rebuild and verify
// their event rollups (used by `promolift check`).
type RollupMaintainer interface {
	// RecomputeRollups rebuilds every rollup from the raw events.
	RecomputeRollups(ctx context.Context) error
	// CheckRollups compares the rollups with a recomputation and
	// describes each difference; none means they are right.
	CheckRollups(ctx context.Context) ([]string, error)
}

// Run runs the whole suite. newStore must return a fresh, empty store and
// arrange for it to be closed and removed when the test ends.
func Run(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Experiments", func(t *testing.T) { testExperiments(t, newStore) })
	t.Run("Flags", func(t *testing.T) { testFlags(t, newStore) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("Segments", func(t *testing.T) { testSegments(t, newStore) }) // segments.go
	t.Run("Customers", func(t *testing.T) { testCustomers(t, newStore) })
	t.Run("Erasure", func(t *testing.T) { testErasure(t, newStore) }) // erasure.go
	t.Run("Cohorts", func(t *testing.T) { testCohorts(t, newStore) })
	t.Run("WeeksRollup", func(t *testing.T) { testWeeksRollup(t, newStore) })                  // cohorts.go
	t.Run("Repurchasers", func(t *testing.T) { testRepurchasers(t, newStore) })                // repurchasers.go
	t.Run("ChannelCredit", func(t *testing.T) { testChannelCredit(t, newStore) })              // channels.go
	t.Run("OrderRollups", func(t *testing.T) { testOrderRollups(t, newStore) })                // orders.go
	t.Run("Money", func(t *testing.T) { testMoney(t, newStore) })                              // money.go
	t.Run("Policy", func(t *testing.T) { testPolicy(t, newStore) })                            // policy.go
	t.Run("Sticky", func(t *testing.T) { testSticky(t, newStore) })                            // sticky.go
	t.Run("Snapshots", func(t *testing.T) { testSnapshots(t, newStore) })                      // snapshots.go
	t.Run("ExposureBatching", func(t *testing.T) { testExposureBatching(t, newStore, false) }) // exposures.go
	t.Run("ExposureJournal", func(t *testing.T) {
		testExposureBatching(t, newStore, true) // the same through the journal
		testExposureJournal(t, newStore)        // journal.go
	})
	t.Run("Series", func(t *testing.T) { testSeries(t, newStore) })                       // series.go
	t.Run("SeriesIncremental", func(t *testing.T) { testSeriesIncremental(t, newStore) }) // seriessums.go
	t.Run("SliceSums", func(t *testing.T) { testSliceSums(t, newStore) })                 // seriessums.go
	t.Run("AttributeSums", func(t *testing.T) { testAttrSums(t, newStore) })              // attrsums.go
	t.Run("VariantSpend", func(t *testing.T) { testVariantSpend(t, newStore) })           // spend.go
	t.Run("OrderValues", func(t *testing.T) { testOrderValues(t, newStore) })
	t.Run("Bandit", func(t *testing.T) { testBandit(t, newStore) })             // bandit.go
	t.Run("Environments", func(t *testing.T) { testEnvironments(t, newStore) }) // environments.go
	t.Run("Deadline", func(t *testing.T) {
		s := newStore(t)
		c, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := s.GetExperiment(c, "x")
		wantKind(t, err, experiments.KindUnavailable)
		_, err = s.IngestEvents(c, []experiments.Event{{ID: "e", Type: experiments.EventConversion, UnitID: "u", Name: "purchase", Timestamp: t0}})
		wantKind(t, err, experiments.KindUnavailable)
	})
	t.Run("Closed", func(t *testing.T) {
		s := newStore(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetExperiment(context.Background(), "x")
		wantKind(t, err, experiments.KindUnavailable)
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// t0 is the base time of the fixtures.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func wantKind(t *testing.T, err error, k experiments.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", k)
	}
	if got := experiments.KindOf(err); got != k {
		t.Fatalf("got kind %s (%v), want %s", got, err, k)
	}
}

func wantCode(t *testing.T, err error, k experiments.Kind, code string) {
	t.Helper()
	wantKind(t, err, k)
	if !errors.Is(err, &experiments.Error{Kind: k, Code: code}) {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equalJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func ptr[T any](v T) *T { return &v }

// newExperiment returns a valid experiment with every field set.
func newExperiment(key string) *experiments.Experiment {
	return &experiments.Experiment{
		Key: key, Name: "Spring sale " + key, Hypothesis: "10% off lifts purchases", Owner: "ana",
		Environment: "production", Status: experiments.StatusDraft,
		UnitAttribute: "id", FallbackAttribute: "device_id", Seed: key, HashVersion: 2,
		BucketVersion: 3, MinBucketVersion: 2, Sticky: true, Coverage: 0.8,
		Variants: []experiments.Variant{
			{Key: "control", Name: "Control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone, CostRule: experiments.CostPerRedemption}},
			{Key: "ten_off", Weight: 0.5, FlagValue: json.RawMessage(`{"pct":10}`), Promotion: experiments.Promotion{
				Type: experiments.PromoPercentOff, Value: 10, CostRule: experiments.CostPerExposure, UnitCost: 25,
				Currency: "KRW", Budget: 1000000}},
		},
		Namespace:         &experiments.Namespace{ID: "checkout", Start: 0.25, End: 0.75},
		Layer:             "pricing",
		Condition:         json.RawMessage(`{"country":{"$in":["KR","JP"]}}`),
		PrimaryMetric:     "purchase",
		SecondaryMetrics:  []string{"revenue", "signup"},
		GuardrailMetrics:  []string{"refund"},
		AttributionWindow: 48 * time.Hour,
		Segments:          []string{"country", "channel"},
		Personalization:   true,
		Engine:            "bayesian",
		SequentialTuning:  5000,
		CapGroup:          "promos",
		MinROI:            0.15,
		StartedAt:         t0.Add(90 * time.Minute),
		CreatedAt:         t0.Add(123456 * time.Microsecond),
		UpdatedAt:         t0.Add(time.Hour),
	}
}

func testExperiments(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("CreateGet", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		e := newExperiment("spring-sale")
		must(t, s.CreateExperiment(c, e))
		if e.Revision != 1 {
			t.Fatalf("revision after create = %d, want 1", e.Revision)
		}
		got, err := s.GetExperiment(c, "spring-sale")
		must(t, err)
		equalJSON(t, "experiment", got, e)
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("DeepEqual: got %+v, want %+v", got, e)
		}
	})
	t.Run("Minimal", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		e := &experiments.Experiment{Key: "min", Variants: []experiments.Variant{{Key: "a", Weight: 1}, {Key: "b"}}}
		e.ApplyDefaults()
		e.Status = experiments.StatusDraft
		e.CreatedAt, e.UpdatedAt = t0, t0
		must(t, s.CreateExperiment(c, e))
		got, err := s.GetExperiment(c, "min")
		must(t, err)
		equalJSON(t, "experiment", got, e)
		if got.Namespace != nil || got.Condition != nil || !got.StartedAt.IsZero() || !got.EndedAt.IsZero() {
			t.Fatalf("empty fields came back set: %+v", got)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		must(t, s.CreateExperiment(c, newExperiment("dup")))
		wantKind(t, s.CreateExperiment(c, newExperiment("dup")), experiments.KindConflict)
	})
	t.Run("NotFound", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		_, err := s.GetExperiment(c, "nope")
		wantKind(t, err, experiments.KindNotFound)
		if !errors.Is(err, experiments.ErrNotFound) {
			t.Fatalf("errors.Is(ErrNotFound) false for %v", err)
		}
		e := newExperiment("nope")
		e.Revision = 1
		wantKind(t, s.UpdateExperiment(c, e), experiments.KindNotFound)
	})
	t.Run("RejectedByDB", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		e := newExperiment("bad")
		e.Status = "bogus"
		wantKind(t, s.CreateExperiment(c, e), experiments.KindInvalid)
	})
	t.Run("List", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		for _, k := range []string{"c", "a", "b", "d"} {
			e := newExperiment(k)
			switch k {
			case "b":
				e.Status = experiments.StatusRunning
			case "d":
				e.Environment = "staging"
			}
			must(t, s.CreateExperiment(c, e))
		}
		keys := func(f experiments.ExperimentFilter) []string {
			xs, err := s.ListExperiments(c, f)
			must(t, err)
			out := []string{}
			for _, x := range xs {
				out = append(out, x.Key)
			}
			return out
		}
		for _, tc := range []struct {
			f    experiments.ExperimentFilter
			want []string
		}{
			{experiments.ExperimentFilter{}, []string{"a", "b", "c", "d"}},
			{experiments.ExperimentFilter{Environment: "production"}, []string{"a", "b", "c"}},
			{experiments.ExperimentFilter{Status: experiments.StatusRunning}, []string{"b"}},
			{experiments.ExperimentFilter{Environment: "staging", Status: experiments.StatusDraft}, []string{"d"}},
			{experiments.ExperimentFilter{Environment: "nowhere"}, []string{}},
		} {
			if got := keys(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ListExperiments(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		}
	})
	t.Run("Update", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		e := newExperiment("up")
		must(t, s.CreateExperiment(c, e))
		e.Name = "renamed"
		e.Status = experiments.StatusRunning
		e.Namespace = nil
		e.Condition = nil
		e.Variants[1].Weight, e.Variants[0].Weight = 0.3, 0.7
		e.UpdatedAt = t0.Add(2 * time.Hour)
		must(t, s.UpdateExperiment(c, e))
		if e.Revision != 2 {
			t.Fatalf("revision after update = %d, want 2", e.Revision)
		}
		got, err := s.GetExperiment(c, "up")
		must(t, err)
		equalJSON(t, "updated experiment", got, e)
		stale := *got
		stale.Revision = 1
		wantCode(t, s.UpdateExperiment(c, &stale), experiments.KindConflict, "revision_conflict")
		if stale.Revision != 1 {
			t.Fatalf("a failed update changed the revision to %d", stale.Revision)
		}
	})
	t.Run("ConcurrentUpdate", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		must(t, s.CreateExperiment(c, newExperiment("race")))
		for round := 0; round < 5; round++ {
			cur, err := s.GetExperiment(c, "race")
			must(t, err)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := *cur
					e.Name = fmt.Sprintf("writer %d round %d", i, round)
					<-start
					errs[i] = s.UpdateExperiment(c, &e)
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					wantCode(t, err, experiments.KindConflict, "revision_conflict")
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d writers succeeded, want exactly 1 (%v)", round, ok, errs)
			}
			got, err := s.GetExperiment(c, "race")
			must(t, err)
			if got.Revision != cur.Revision+1 {
				t.Fatalf("round %d: revision %d, want %d", round, got.Revision, cur.Revision+1)
			}
		}
	})
}

func newFlag(key string) *experiments.Flag {
	return &experiments.Flag{
		Key: key, Description: "gate", Environment: "production", Type: experiments.FlagBoolean,
		Variants:       map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)},
		DefaultVariant: "off", Enabled: true,
		Rules: []experiments.FlagRule{
			{ID: "rule-1", Condition: json.RawMessage(`{"tier":"gold"}`), Variant: "on"},
			{ID: "rule-2", Variant: "on", Rollout: ptr(0.25), Seed: "s"},
			{ID: "rule-3", Experiment: "spring-sale"},
		},
		CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
}

func testFlags(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("CRUD", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		f := newFlag("gate")
		must(t, s.CreateFlag(c, f))
		if f.Revision != 1 {
			t.Fatalf("revision after create = %d", f.Revision)
		}
		got, err := s.GetFlag(c, "gate")
		must(t, err)
		equalJSON(t, "flag", got, f)
		if !reflect.DeepEqual(got, f) {
			t.Fatalf("DeepEqual: got %+v, want %+v", got, f)
		}
		wantKind(t, s.CreateFlag(c, newFlag("gate")), experiments.KindConflict)

		f.Enabled = false
		f.Rules = f.Rules[:1]
		must(t, s.UpdateFlag(c, f))
		if f.Revision != 2 {
			t.Fatalf("revision after update = %d", f.Revision)
		}
		got, err = s.GetFlag(c, "gate")
		must(t, err)
		equalJSON(t, "updated flag", got, f)
		stale := *got
		stale.Revision = 1
		wantCode(t, s.UpdateFlag(c, &stale), experiments.KindConflict, "revision_conflict")

		must(t, s.DeleteFlag(c, "gate"))
		_, err = s.GetFlag(c, "gate")
		wantKind(t, err, experiments.KindNotFound)
		wantKind(t, s.DeleteFlag(c, "gate"), experiments.KindNotFound)
		missing := newFlag("missing")
		missing.Revision = 1
		wantKind(t, s.UpdateFlag(c, missing), experiments.KindNotFound)
	})
	t.Run("RejectedByDB", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		f := newFlag("bad")
		f.Type = "color"
		wantKind(t, s.CreateFlag(c, f), experiments.KindInvalid)
	})
	t.Run("List", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		for _, k := range []string{"b", "a", "c"} {
			f := newFlag(k)
			if k == "c" {
				f.Environment = "staging"
			}
			must(t, s.CreateFlag(c, f))
		}
		for env, want := range map[string][]string{"": {"a", "b", "c"}, "production": {"a", "b"}, "staging": {"c"}, "x": {}} {
			fs, err := s.ListFlags(c, env)
			must(t, err)
			got := []string{}
			for _, f := range fs {
				got = append(got, f.Key)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ListFlags(%q) = %v, want %v", env, got, want)
			}
		}
	})
	t.Run("ConcurrentUpdate", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		must(t, s.CreateFlag(c, newFlag("race")))
		cur, err := s.GetFlag(c, "race")
		must(t, err)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := *cur
				f.Description = fmt.Sprint("writer ", i)
				errs[i] = s.UpdateFlag(c, &f)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("want exactly one winner, got %v", errs)
		}
	})
}

func testKeys(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	t.Run("CRUD", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		k1, token, err := experiments.NewAPIKey("ci", experiments.ScopeSDK, "staging", t0)
		must(t, err)
		k2, _, err := experiments.NewAPIKey("admin", experiments.ScopeAdmin, "", t0.Add(time.Minute))
		must(t, err)
		must(t, s.CreateKey(c, k2))
		must(t, s.CreateKey(c, k1))
		wantKind(t, s.CreateKey(c, k1), experiments.KindConflict)
		got, err := s.GetKey(c, k1.ID)
		must(t, err)
		if !reflect.DeepEqual(got, k1) {
			t.Fatalf("GetKey = %+v, want %+v", got, k1)
		}
		_, secret, _ := experiments.SplitToken(token)
		if !got.Matches(secret) {
			t.Fatal("the stored key does not match its secret")
		}
		list, err := s.ListKeys(c)
		must(t, err)
		if len(list) != 2 || list[0].ID != k1.ID || list[1].ID != k2.ID {
			t.Fatalf("ListKeys not oldest first: %+v", list)
		}
		n, err := s.CountKeys(c)
		must(t, err)
		if n != 2 {
			t.Fatalf("CountKeys = %d", n)
		}

		must(t, s.TouchKey(c, k1.ID, t0.Add(time.Hour)))
		must(t, s.RevokeKey(c, k1.ID, t0.Add(2*time.Hour)))
		must(t, s.RevokeKey(c, k1.ID, t0.Add(3*time.Hour)))
		got, err = s.GetKey(c, k1.ID)
		must(t, err)
		if !got.LastUsedAt.Equal(t0.Add(time.Hour)) || !got.RevokedAt.Equal(t0.Add(2*time.Hour)) || !got.Revoked() {
			t.Fatalf("after touch and revoke: %+v", got)
		}
		n, err = s.CountKeys(c)
		must(t, err)
		if n != 2 {
			t.Fatalf("CountKeys after revoke = %d", n)
		}
		_, err = s.GetKey(c, "missing")
		wantKind(t, err, experiments.KindNotFound)
		wantKind(t, s.RevokeKey(c, "missing", t0), experiments.KindNotFound)
	})
	t.Run("RejectedByDB", func(t *testing.T) {
		s, c := newStore(t), ctx(t)
		k, _, err := experiments.NewAPIKey("x", "root", "", t0)
		must(t, err)
		wantKind(t, s.CreateKey(c, k), experiments.KindInvalid)
	})
}

func testAudit(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	s, c := newStore(t), ctx(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		e := &experiments.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), KeyID: "k1",
			Action: "experiment.update", Resource: fmt.Sprint("experiment:e", i), Environment: []string{"production", "staging", ""}[i%3]}
		if i%2 == 0 {
			e.Before = []byte(`{"name":"a"}`)
			e.After = []byte(`{"name":"b"}`)
		}
		must(t, s.AppendAudit(c, e))
		if e.ID == 0 || (len(ids) > 0 && e.ID <= ids[len(ids)-1]) {
			t.Fatalf("entry %d got ID %d after %v", i, e.ID, ids)
		}
		ids = append(ids, e.ID)
	}
	all, err := s.ListAudit(c, experiments.AuditFilter{Limit: 10})
	must(t, err)
	if len(all) != 5 {
		t.Fatalf("ListAudit returned %d entries", len(all))
	}
	for i, e := range all {
		if e.ID != ids[4-i] {
			t.Fatalf("entry %d has ID %d, want newest first %v", i, e.ID, ids)
		}
	}
	first := all[4]
	if first.Resource != "experiment:e0" || first.KeyID != "k1" || first.Action != "experiment.update" ||
		!first.At.Equal(t0) || string(first.Before) != `{"name":"a"}` || string(first.After) != `{"name":"b"}` {
		t.Fatalf("first entry = %+v", first)
	}
	if all[3].Before != nil || all[3].After != nil {
		t.Fatalf("empty before/after came back as %q %q", all[3].Before, all[3].After)
	}
	page, err := s.ListAudit(c, experiments.AuditFilter{Limit: 2, BeforeID: ids[3]})
	must(t, err)
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("page before %d = %+v", ids[3], page)
	}
	// A key bound to an environment lists only that environment's entries.
	staging, err := s.ListAudit(c, experiments.AuditFilter{Limit: 10, Environment: "staging"})
	must(t, err)
	if len(staging) != 2 || staging[0].ID != ids[4] || staging[1].ID != ids[1] || staging[0].Environment != "staging" {
		t.Fatalf("staging entries = %+v", staging)
	}
	if first.Environment != "production" {
		t.Fatalf("first entry's environment %q", first.Environment)
	}
}
