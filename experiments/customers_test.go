package experiments_test

import (
	"context"
	"errors"
	"fmt"
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
		return ev.Err == nil && ev.Variant == "control" && string(ev.Value) == `"control"` && ev.Reason == experiments.ReasonOptedOutFlag &&
			ev.Metadata["reason"] == experiments.ReasonOptedOut && ev.Metadata["in_experiment"] == false
	}
	for _, u := range units {
		ev, err := svc.EvaluateFlag(ctx, specSDK, "spring-sale", map[string]any{"id": u})
		if err != nil || !optedOut(ev) {
			t.Fatalf("EvaluateFlag(%s) = %+v, %v: want the opted-out control answer", u, ev, err)
		}
		evs, _, err := svc.EvaluateFlagsLogged(ctx, specSDK, map[string]any{"id": u})
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

// rightsFixture is a Service over a fresh SQLite file at a fixed time
// running four experiments that give every unit the promotion ten_off:
// "budget" (a budget of 1000), "cap-a" and "cap-b" (cap group "once": one
// promotion exposure a day) and "free" (no limit).
func rightsFixture(t *testing.T) *experiments.Service {
	t.Helper()
	ctx := context.Background()
	svc := specService(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return now })
	if err := svc.PutCapGroup(ctx, specAdmin, &experiments.CapGroup{Name: "once", MaxExposures: 1, Window: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		key, capGroup string
		budget        int64
	}{{"budget", "", 1000}, {"cap-a", "once", 0}, {"cap-b", "once", 0}, {"free", "", 0}} {
		e := specExperiment(x.key, "")
		e.CapGroup = x.capGroup
		e.Variants[0].Weight, e.Variants[1].Weight = 0, 1
		e.Variants[1].Promotion.Budget, e.Variants[1].Promotion.Currency = x.budget, "KRW"
		startExperiment(t, svc, e)
	}
	return svc
}

// assignLogged assigns unit to experiment keys with exposures, as the API
// does.
func assignLogged(t *testing.T, svc *experiments.Service, unit string, keys ...string) []experiments.AssignmentResult {
	t.Helper()
	rs, err := svc.Assign(context.Background(), specSDK, experiments.AssignRequest{UnitID: unit, Experiments: keys, LogExposure: true})
	if err != nil || len(rs) != len(keys) {
		t.Fatalf("Assign(%s, %v) = %+v, %v", unit, keys, rs, err)
	}
	return rs
}

// spendBudget exposes a unit to "budget" and records a conversion of it
// costing cost, which becomes the spend of ten_off.
func spendBudget(t *testing.T, svc *experiments.Service, cost int64) {
	t.Helper()
	ctx := context.Background()
	assignLogged(t, svc, "spender", "budget")
	out, err := svc.IngestEvents(ctx, specSDK, []experiments.Event{{ID: "c-spender", Type: experiments.EventConversion,
		UnitID: "spender", Name: "purchase", Revenue: 5000, PromotionCost: ptr(cost), Currency: "KRW",
		Timestamp: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}})
	if err != nil || out[0].Status != experiments.EventAccepted {
		t.Fatalf("conversion: %+v, %v", out, err)
	}
}

// rightsState is what a customer's rights leave in the store per
// experiment: exposures and capped units.
func rightsState(t *testing.T, svc *experiments.Service, keys []string) map[string][2]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string][2]int64{}
	for _, k := range keys {
		ss, err := svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: k})
		if err != nil {
			t.Fatal(err)
		}
		var exposures int64
		for _, v := range ss.Variants {
			exposures += v.Exposures
		}
		capped, err := svc.CappedUnits(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = [2]int64{exposures, capped}
	}
	return out
}

// rightsCase is a history of the unit "cust" on rightsFixture and the
// answers it leads to.
type rightsCase struct {
	name    string
	prepare func(t *testing.T, svc *experiments.Service)
	key     string            // the experiment of the single evaluation
	want    map[string]string // the rights reason per experiment of the bulk evaluation; "" = the promotion
}

// rightsCases are the histories of the rights tests: budgets, frequency
// caps and consent.
func rightsCases() []rightsCase {
	return []rightsCase{
		{"budget exhausted", func(t *testing.T, svc *experiments.Service) { spendBudget(t, svc, 1000) }, "budget",
			map[string]string{"budget": experiments.ReasonBudgetExhausted, "cap-b": experiments.ReasonFrequencyCapped}},
		{"budget left", func(t *testing.T, svc *experiments.Service) { spendBudget(t, svc, 999) }, "budget",
			map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
		{"frequency cap reached", func(t *testing.T, svc *experiments.Service) { assignLogged(t, svc, "cust", "cap-a") }, "cap-b",
			map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
		{"under the cap", func(*testing.T, *experiments.Service) {}, "cap-a",
			map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
		{"capped again", func(t *testing.T, svc *experiments.Service) { assignLogged(t, svc, "cust", "cap-a", "cap-b") }, "cap-b",
			map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
		{"opted out", func(t *testing.T, svc *experiments.Service) {
			t.Helper()
			if _, err := svc.SetConsent(context.Background(), specAdmin, "cust", false); err != nil {
				t.Fatal(err)
			}
		}, "cap-a", map[string]string{"budget": experiments.ReasonOptedOut, "cap-a": experiments.ReasonOptedOut,
			"cap-b": experiments.ReasonOptedOut, "free": experiments.ReasonOptedOut}},
	}
}

// rightsExperiments are the experiments of rightsFixture.
var rightsExperiments = []string{"budget", "cap-a", "cap-b", "free"}

// runRightsCases runs every rights case for its one experiment (single)
// and for all of rightsExperiments (bulk) on two services made by fixture,
// both given the case's history: ref is asked through Assign for keys
// (results rs), and check asks got the other way and checks its answers.
// The exposures and capped units the two leave must be the same.
func runRightsCases(t *testing.T, fixture func(t *testing.T) *experiments.Service,
	check func(t *testing.T, tt rightsCase, bulk bool, keys []string, rs []experiments.AssignmentResult, got *experiments.Service)) {
	t.Helper()
	for _, tt := range rightsCases() {
		for _, bulk := range []bool{false, true} {
			name, keys := tt.name+"/single", []string{tt.key}
			if bulk {
				name, keys = tt.name+"/bulk", rightsExperiments
			}
			t.Run(name, func(t *testing.T) {
				ref, got := fixture(t), fixture(t)
				tt.prepare(t, ref)
				tt.prepare(t, got)
				check(t, tt, bulk, keys, assignLogged(t, ref, "cust", keys...), got)
				if g, w := rightsState(t, got, rightsExperiments), rightsState(t, ref, rightsExperiments); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("exposures and capped units per experiment %v, after Assign %v", g, w)
				}
			})
		}
	}
}

// An experiment read as a flag (EvaluateFlag, EvaluateFlags) goes through
// the customer's rights exactly as Assign: the same answers, the same
// exposures and the same capped units, for one experiment and for all of
// them in one call (exposures count toward the cap group across the call).
func TestEvaluateFlagAppliesRightsAsAssign(t *testing.T) {
	ctx := context.Background()
	runRightsCases(t, rightsFixture, func(t *testing.T, tt rightsCase, bulk bool, keys []string, rs []experiments.AssignmentResult, viaOFREP *experiments.Service) {
		var evs []*experiments.FlagEvaluation
		if bulk {
			var err error
			if evs, _, err = viaOFREP.EvaluateFlagsLogged(ctx, specSDK, map[string]any{"id": "cust"}); err != nil {
				t.Fatal(err)
			}
		} else {
			ev, err := viaOFREP.EvaluateFlag(ctx, specSDK, tt.key, map[string]any{"id": "cust"})
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if len(evs) != len(keys) {
			t.Fatalf("%d evaluations, want %d: %+v", len(evs), len(keys), evs)
		}
		for i, k := range keys {
			checkRightsEvaluation(t, evs[i], k, tt.want[k])
			r, promoted := rs[i], tt.want[k] == ""
			if r.Variant != evs[i].Variant || r.InExperiment != promoted || (!promoted && r.Reason != tt.want[k]) {
				t.Errorf("Assign %s = %+v, want reason %q as OFREP", k, r, tt.want[k])
			}
		}
		got := rightsState(t, viaOFREP, rightsExperiments)
		cs := viaOFREP.Store().(experiments.CustomerStore)
		for _, k := range keys {
			exposed, err := cs.HasEvent(ctx, experiments.ExposureID(k, 1, "cust", "ten_off", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)))
			if err != nil {
				t.Fatal(err)
			}
			if exposed != (tt.want[k] == "") || (got[k][1] == 1) != (tt.want[k] == experiments.ReasonFrequencyCapped) {
				t.Errorf("%s: exposure of cust stored %v, %d capped units; want the promotion exposed, a capped unit counted", k, exposed, got[k][1])
			}
		}
	})
}

// checkRightsEvaluation checks an evaluation of experiment key: the
// promotion ten_off with reason SPLIT when reason is "", else the
// control's value with reason DEFAULT and metadata reason.
func checkRightsEvaluation(t *testing.T, ev *experiments.FlagEvaluation, key, reason string) {
	t.Helper()
	if ev.Key != key || ev.Err != nil {
		t.Fatalf("evaluation %+v, want %s", ev, key)
	}
	if reason == "" {
		if ev.Variant != "ten_off" || string(ev.Value) != `"ten_off"` || ev.Reason != experiments.ReasonSplit ||
			ev.Metadata["in_experiment"] != true || ev.Metadata["reason"] != nil {
			t.Errorf("%s = %+v, want ten_off, SPLIT, in experiment", key, ev)
		}
		return
	}
	wantReason := experiments.ReasonDefault
	if reason == experiments.ReasonOptedOut {
		wantReason = experiments.ReasonOptedOutFlag // as the SDKs evaluating locally
	}
	if ev.Variant != "control" || string(ev.Value) != `"control"` || ev.Reason != wantReason ||
		ev.Metadata["in_experiment"] != false || ev.Metadata["reason"] != reason || ev.Metadata["experiment"] != key {
		t.Errorf("%s = %+v, want control, %s, not in experiment, metadata reason %s", key, ev, wantReason, reason)
	}
}
