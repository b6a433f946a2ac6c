package experiments_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

func TestCapGroupValidate(t *testing.T) {
	tests := []struct {
		g     experiments.CapGroup
		field string
	}{
		{experiments.CapGroup{Name: "promos", MaxExposures: 3, Window: 168 * time.Hour}, ""},
		{experiments.CapGroup{Name: "", MaxExposures: 3, Window: time.Hour}, "name"},
		{experiments.CapGroup{Name: "a b", MaxExposures: 3, Window: time.Hour}, "name"},
		{experiments.CapGroup{Name: "p", MaxExposures: 0, Window: time.Hour}, "max_exposures"},
		{experiments.CapGroup{Name: "p", MaxExposures: 3, Window: time.Minute}, "window_hours"},
		{experiments.CapGroup{Name: "p", MaxExposures: 3, Window: 400 * 24 * time.Hour}, "window_hours"},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.g, err)
			}
			continue
		}
		var de *experiments.Error
		if !errors.As(err, &de) || de.Field != tt.field || de.Kind != experiments.KindInvalid {
			t.Errorf("%+v: %v, want an invalid %s", tt.g, err, tt.field)
		}
	}
}

func TestCustomerHashIsKeyedAndStable(t *testing.T) {
	ctx := context.Background()
	a, b := specService(t), specService(t)
	h1, err := a.CustomerHash(ctx, "cust-1")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := a.CustomerHash(ctx, "cust-1")
	h3, _ := a.CustomerHash(ctx, "cust-2")
	other, _ := b.CustomerHash(ctx, "cust-1")
	if h1 != h2 || h1 == h3 || h1 == other || !strings.HasPrefix(h1, "hmac-sha256:") || strings.Contains(h1, "cust-1") {
		t.Fatalf("hashes %q %q %q %q: want stable per installation, different per customer and installation", h1, h2, h3, other)
	}
}

// plainStore hides the CustomerStore methods of a store.
type plainStore struct{ experiments.Store }

func TestStoreWithoutCustomerFeatures(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(plainStore{st}, nil)
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	rs, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: "u1", LogExposure: true})
	if err != nil || len(rs) != 1 || !rs[0].InExperiment {
		t.Fatalf("Assign without customer features = %+v, %v", rs, err)
	}
	_, err = svc.SetConsent(ctx, specSDK, "u1", false)
	if experiments.KindOf(err) != experiments.KindUnavailable {
		t.Fatalf("SetConsent without customer features: %v, want unavailable", err)
	}
	_, err = svc.SetConsent(ctx, specSDK, "", false)
	if experiments.KindOf(err) != experiments.KindInvalid {
		t.Fatalf("SetConsent without an ID: %v, want invalid", err)
	}
}

// An experiment read as a flag (OFREP, EvaluateFlag(s)) gives a customer
// who opted out of promotions the control's value with reason DEFAULT and
// metadata reason "opted_out", and logs no exposure, as Assign does.
func TestEvaluateFlagOptedOut(t *testing.T) {
	ctx := context.Background()
	svc := specService(t)
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	units := make([]string, 20)
	for i := range units {
		units[i] = "cust-" + string(rune('a'+i))
		if _, err := svc.SetConsent(ctx, specAdmin, units[i], false); err != nil {
			t.Fatal(err)
		}
	}
	exposedUnits := func() int64 {
		t.Helper()
		ss, err := svc.Store().SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale", MultipleExposure: experiments.MultipleFirst})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range ss.Variants {
			n += v.Units
		}
		return n
	}
	optedOut := func(ev *experiments.FlagEvaluation) bool {
		return ev.Err == nil && ev.Variant == "control" && string(ev.Value) == `"control"` && ev.Reason == experiments.ReasonDefault &&
			ev.Metadata["reason"] == experiments.ReasonOptedOut && ev.Metadata["in_experiment"] == false
	}
	for _, u := range units {
		ev, err := svc.EvaluateFlag(ctx, specSDK, "spring-sale", map[string]any{"id": u})
		if err != nil || !optedOut(ev) {
			t.Fatalf("EvaluateFlag(%s) = %+v, %v: want the opted-out control answer", u, ev, err)
		}
		evs, _, err := svc.EvaluateFlags(ctx, specSDK, map[string]any{"id": u})
		if err != nil || len(evs) != 1 || evs[0].Key != "spring-sale" || !optedOut(evs[0]) {
			t.Fatalf("EvaluateFlags(%s) = %+v, %v: want the opted-out control answer", u, evs, err)
		}
	}
	if n := exposedUnits(); n != 0 {
		t.Fatalf("%d opted-out units have exposures, want none", n)
	}
	// With consent the same customers are split (some get ten_off) and
	// exposed.
	treated := 0
	for _, u := range units {
		if _, err := svc.SetConsent(ctx, specAdmin, u, true); err != nil {
			t.Fatal(err)
		}
		ev, err := svc.EvaluateFlag(ctx, specSDK, "spring-sale", map[string]any{"id": u})
		if err != nil || ev.Reason != experiments.ReasonSplit || ev.Metadata["reason"] != nil {
			t.Fatalf("EvaluateFlag(%s) with consent = %+v, %v", u, ev, err)
		}
		if ev.Variant == "ten_off" {
			treated++
		}
	}
	if treated == 0 || exposedUnits() != int64(len(units)) {
		t.Fatalf("with consent: %d treated, %d exposed; want some treated and all %d exposed", treated, exposedUnits(), len(units))
	}
}
