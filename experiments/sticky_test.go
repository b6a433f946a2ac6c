package experiments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// stickyFixture is a Service over a fresh SQLite file running a sticky
// experiment and its non-sticky twin (same weights, different seed).
func stickyFixture(t *testing.T) (*experiments.Service, *sqlite.Store) {
	t.Helper()
	svc, st := sqliteService(t)
	sticky := specExperiment("sticky-sale", "")
	sticky.Sticky = true
	startExperiment(t, svc, sticky)
	startExperiment(t, svc, specExperiment("plain-sale", ""))
	return svc, st
}

// sqliteService is a Service over a fresh SQLite file.
func sqliteService(t *testing.T) (*experiments.Service, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return experiments.NewService(st, nil), st
}

// assignUnits assigns units u0..u(n-1) to both experiments and returns the
// results by experiment and unit.
func assignUnits(t *testing.T, svc *experiments.Service, n int) map[string]map[string]experiments.AssignmentResult {
	t.Helper()
	out := map[string]map[string]experiments.AssignmentResult{}
	for i := range n {
		unit := fmt.Sprintf("u%d", i)
		got, err := svc.Assign(context.Background(), specSDK, experiments.AssignRequest{UnitID: unit})
		if err != nil {
			t.Fatalf("Assign(%s): %v", unit, err)
		}
		for _, r := range got {
			if out[r.Experiment] == nil {
				out[r.Experiment] = map[string]experiments.AssignmentResult{}
			}
			out[r.Experiment][unit] = r
		}
	}
	return out
}

// stickyDocs loads the docs of units u0..u(n-1) (attribute id).
func stickyDocs(t *testing.T, st experiments.StickyStore, n int) map[string]map[string]string {
	t.Helper()
	keys := make([]experiments.StickyKey, n)
	for i := range keys {
		keys[i] = experiments.StickyKey{AttributeName: "id", UnitID: fmt.Sprintf("u%d", i)}
	}
	docs, err := st.LoadSticky(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, d := range docs {
		if d.AttributeName != "id" {
			t.Fatalf("unexpected doc %+v", d)
		}
		out[d.AttributeValue] = d.Assignments
	}
	return out
}

// changeWeights changes the weights of experiment key directly in the
// store, keeping the bucket version (the Service only lets drafts be
// edited; a started experiment is re-randomized instead).
func changeWeights(t *testing.T, st experiments.Store, key string, w ...float64) {
	t.Helper()
	ctx := context.Background()
	e, err := st.GetExperiment(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e.Variants {
		e.Variants[i].Weight = w[i]
	}
	if err := st.UpdateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
}

func TestStickyAssignments(t *testing.T) {
	const units = 200
	ctx := context.Background()
	svc, st := stickyFixture(t)

	// (1) Every unit is assigned; the sticky experiment's assignments are
	// stored, the non-sticky one's are not.
	first := assignUnits(t, svc, units)
	docs := stickyDocs(t, st, units)
	if len(docs) != units {
		t.Fatalf("%d sticky docs stored, want %d", len(docs), units)
	}
	for unit, r := range first["sticky-sale"] {
		if !r.InExperiment || r.Reason != string(assign.ReasonAssigned) {
			t.Fatalf("%s: first assignment %+v", unit, r)
		}
		want := map[string]string{"sticky-sale__1": r.Variant}
		if fmt.Sprint(docs[unit]) != fmt.Sprint(want) {
			t.Fatalf("%s: doc %v, want %v", unit, docs[unit], want)
		}
	}
	again := assignUnits(t, svc, units)
	for unit, r := range again["sticky-sale"] {
		if r.Variant != first["sticky-sale"][unit].Variant || r.Reason != string(assign.ReasonSticky) {
			t.Fatalf("%s: second assignment %+v, want %s from the sticky doc", unit, r, first["sticky-sale"][unit].Variant)
		}
	}

	// (2) The weights change without a bucket-version bump (written by
	// another replica: a fresh Service reads them). Sticky units keep
	// their variant; the non-sticky twin moves some units.
	changeWeights(t, st, "sticky-sale", 0.1, 0.9)
	changeWeights(t, st, "plain-sale", 0.1, 0.9)
	svc = experiments.NewService(st, nil)
	after := assignUnits(t, svc, units)
	count := func(exp string) (kept, moved int) {
		for unit, r := range after[exp] {
			if r.Variant == first[exp][unit].Variant {
				kept++
			} else {
				moved++
			}
		}
		return
	}
	kept, moved := count("sticky-sale")
	t.Logf("weights 50/50 → 10/90: sticky experiment kept %d, moved %d", kept, moved)
	if kept != units || moved != 0 {
		t.Fatalf("sticky experiment: %d kept, %d moved; want all %d kept", kept, moved, units)
	}
	pkept, pmoved := count("plain-sale")
	t.Logf("weights 50/50 → 10/90: non-sticky twin kept %d, moved %d", pkept, pmoved)
	if pmoved < units/5 {
		t.Fatalf("non-sticky twin: only %d of %d units moved; want about 40%%", pmoved, units)
	}
	// A unit never seen before gets the new weights.
	spec, _, err := svc.SDKSpec(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	fresh := 0
	for i := units; i < 2*units; i++ {
		unit := fmt.Sprintf("u%d", i)
		got, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit, Experiments: []string{"sticky-sale"}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := spec.Run("sticky-sale", assign.Attributes{"id": unit})
		if got[0].Variant != want.VariantKey || got[0].Reason != string(assign.ReasonAssigned) {
			t.Fatalf("new unit %s: %+v, want %s by hash", unit, got[0], want.VariantKey)
		}
		if got[0].Variant == "ten_off" {
			fresh++
		}
	}
	if fresh < units*3/4 {
		t.Fatalf("new units: %d of %d in ten_off, want about 90%%", fresh, units)
	}

	// (3) Re-randomizing bumps the bucket version, which changes the hash
	// seed: every unit is bucketed afresh under the new version, and its
	// doc keeps the version-1 entry beside the new one.
	e, err := svc.Rerandomize(ctx, specAdmin, "sticky-sale", experiments.Rerandomization{Weights: []float64{0.5, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if e.BucketVersion != 2 || e.MinBucketVersion != 0 {
		t.Fatalf("after Rerandomize: bucket version %d, min %d; want 2, 0", e.BucketVersion, e.MinBucketVersion)
	}
	if spec, _, err = svc.SDKSpec(ctx, ""); err != nil {
		t.Fatal(err)
	}
	rer := assignUnits(t, svc, units)
	docs = stickyDocs(t, st, units)
	kept, moved = 0, 0
	for unit, r := range rer["sticky-sale"] {
		want, _ := spec.Run("sticky-sale", assign.Attributes{"id": unit})
		if !r.InExperiment || r.Reason != string(assign.ReasonAssigned) || r.Variant != want.VariantKey {
			t.Fatalf("%s after Rerandomize: %+v, want %s by hash", unit, r, want.VariantKey)
		}
		wantDoc := map[string]string{"sticky-sale__1": first["sticky-sale"][unit].Variant, "sticky-sale__2": r.Variant}
		if fmt.Sprint(docs[unit]) != fmt.Sprint(wantDoc) {
			t.Fatalf("%s after Rerandomize: doc %v, want %v", unit, docs[unit], wantDoc)
		}
		if r.Variant == first["sticky-sale"][unit].Variant {
			kept++
		} else {
			moved++
		}
	}
	t.Logf("after Rerandomize (new seed, 50/50): kept %d, moved %d", kept, moved)
	// With a new seed and 50/50 weights about half the units move.
	if moved < units/4 || kept < units/4 {
		t.Fatalf("after Rerandomize: kept %d, moved %d of %d; want about half each", kept, moved, units)
	}
}

func TestStickyOptedOutAndPlainStore(t *testing.T) {
	ctx := context.Background()
	svc, st := stickyFixture(t)
	if _, err := svc.SetConsent(ctx, specSDK, "u1", false); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: "u1", Experiments: []string{"sticky-sale"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].InExperiment || got[0].Reason != experiments.ReasonOptedOut {
		t.Fatalf("opted out: %+v", got[0])
	}
	// Nothing is stored about a customer who opted out.
	if docs := stickyDocs(t, st, 2); len(docs) != 0 {
		t.Fatalf("docs stored for an opted-out customer: %v", docs)
	}
	// Only non-sticky experiments asked: nothing stored either.
	if _, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: "u0", Experiments: []string{"plain-sale"}}); err != nil {
		t.Fatal(err)
	}
	if docs := stickyDocs(t, st, 2); len(docs) != 0 {
		t.Fatalf("docs stored for a non-sticky experiment: %v", docs)
	}
	// A store without sticky assignments assigns by hash alone.
	plain := experiments.NewService(plainStore{st}, nil)
	spec, _, err := plain.SDKSpec(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		unit := fmt.Sprintf("p%d", i)
		got, err := plain.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit, Experiments: []string{"sticky-sale"}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := spec.Run("sticky-sale", assign.Attributes{"id": unit})
		if got[0].Variant != want.VariantKey || got[0].Reason != string(assign.ReasonAssigned) {
			t.Fatalf("plain store, %s: %+v, want %s", unit, got[0], want.VariantKey)
		}
	}
	if docs := stickyDocs(t, st, 2); len(docs) != 0 {
		t.Fatalf("a store hidden behind plainStore got docs: %v", docs)
	}
}

func TestBuildSpecStickyBucketing(t *testing.T) {
	sticky := specExperiment("sticky", experiments.StatusRunning)
	sticky.Sticky = true
	plain := specExperiment("plain", experiments.StatusRunning)
	flags := []*experiments.Flag{{Key: "f", Type: experiments.FlagString, DefaultVariant: "control", Enabled: true,
		Variants: map[string]json.RawMessage{"control": json.RawMessage(`"a"`), "ten_off": json.RawMessage(`"b"`)},
		Rules:    []experiments.FlagRule{{ID: "s", Experiment: "sticky"}, {ID: "p", Experiment: "plain"}}}}
	spec, err := experiments.BuildSpec([]*experiments.Experiment{sticky, plain}, flags)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range spec.Experiments {
		if x.DisableStickyBucketing != (x.Key == "plain") {
			t.Errorf("experiment %s: disableStickyBucketing %v", x.Key, x.DisableStickyBucketing)
		}
	}
	for _, r := range spec.Features["f"].Rules {
		if r.DisableStickyBucketing != (r.Key == "plain") {
			t.Errorf("rule %s: disableStickyBucketing %v", r.ID, r.DisableStickyBucketing)
		}
	}
}
