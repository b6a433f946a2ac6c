package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
)

// parityExperiments are the experiments of seedParity.
var parityExperiments = []string{"budget", "seg-sale", "sticky-sale"}

// parityFlagValues are the values of the delegating flags by variant.
var parityFlagValues = map[string]string{"control": "none", "ten_off": "10%"}

// seedParity defines, at rightsNow, a sticky experiment "sticky-sale"
// (50/50) whose stored sticky doc gives "cust" the variant the hash does
// not, "seg-sale" (ten_off for every unit in the AIPL stage purchase, which
// "cust" is in by a stored purchase) and "budget" (ten_off for everyone,
// its budget spent), each with a flag "<key>-flag" whose rule delegates to
// it (values "none" and "10%"). It returns the variant the sticky doc gives.
func (e *sdkEnv) seedParity(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	e.svc.SetClock(func() time.Time { return rightsNow })
	for _, key := range parityExperiments {
		exp := &experiments.Experiment{Key: key, Coverage: 1, Variants: []experiments.Variant{
			{Key: "control", Weight: 0, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 1, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
		}}
		switch key {
		case "sticky-sale":
			exp.Sticky = true
			exp.Variants[0].Weight, exp.Variants[1].Weight = 0.5, 0.5
		case "seg-sale":
			exp.Condition = json.RawMessage(`{"aipl_stage": "purchase"}`)
		case "budget":
			exp.Variants[1].Promotion.Budget, exp.Variants[1].Promotion.Currency = 1000, "KRW"
		}
		if err := e.svc.CreateExperiment(ctx, e.adminPrincipal, exp); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Transition(ctx, e.adminPrincipal, key, experiments.ActionStart); err != nil {
			t.Fatal(err)
		}
		f := &experiments.Flag{Key: key + "-flag", Type: experiments.FlagString, DefaultVariant: "control", Enabled: true,
			Variants: map[string]json.RawMessage{"control": json.RawMessage(`"none"`), "ten_off": json.RawMessage(`"10%"`)},
			Rules:    []experiments.FlagRule{{ID: "delegate", Experiment: key}}}
		if err := e.svc.CreateFlag(ctx, e.adminPrincipal, f); err != nil {
			t.Fatal(err)
		}
	}
	spec, _, err := e.svc.SDKSpec(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := spec.Run("sticky-sale", assign.Attributes{"id": "cust"})
	if err != nil {
		t.Fatal(err)
	}
	sticky := map[string]string{"control": "ten_off", "ten_off": "control"}[r.VariantKey]
	if err := e.svc.Store().(experiments.StickyStore).SaveSticky(ctx, []assign.StickyDoc{
		{AttributeName: "id", AttributeValue: "cust", Assignments: map[string]string{"sticky-sale__1": sticky}}}); err != nil {
		t.Fatal(err)
	}
	e.assignHTTP(t, "spender", "budget")
	at := rightsNow.Add(-time.Hour).Format(time.RFC3339)
	resp, b := e.do(t, "POST", "/api/v1/events", e.sdk, map[string]any{"events": []map[string]any{
		{"event_id": "c-spender", "type": "conversion", "unit_id": "spender", "name": "purchase", "revenue": 5000,
			"promotion_cost": 1000, "currency": "KRW", "timestamp": rightsNow.Format(time.RFC3339)},
		{"event_id": "c-cust", "type": "conversion", "unit_id": "cust", "name": "purchase", "revenue": 3000,
			"currency": "KRW", "timestamp": at}}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"accepted":2`) {
		t.Fatalf("conversions: %d %s", resp.StatusCode, b)
	}
	return sticky
}

// parityAnswer is one answer for an experiment: variant, in experiment,
// and the rights reason ("" when none held the promotion back).
type parityAnswer struct {
	Variant string
	In      bool
	Rights  string
}

// ofrepAnswer reads the answer of an OFREP evaluation of experiment exp
// (flag false) or of its delegating flag, checking its value and reason.
func ofrepAnswer(t *testing.T, got map[string]any, exp string, flag bool) parityAnswer {
	t.Helper()
	md, _ := got["metadata"].(map[string]any)
	variant, _ := got["variant"].(string)
	in, _ := md["in_experiment"].(bool)
	rights, _ := md["reason"].(string)
	wantValue, wantReason := variant, "DEFAULT"
	if flag {
		wantValue = parityFlagValues[variant]
	}
	if in {
		wantReason = "SPLIT"
	}
	if got["value"] != wantValue || got["reason"] != wantReason || md["experiment"] != exp {
		t.Errorf("OFREP %v: want value %s, reason %s, metadata experiment %s", got, wantValue, wantReason, exp)
	}
	return parityAnswer{Variant: variant, In: in, Rights: rights}
}

// The OFREP handlers (single and bulk, each experiment read as a flag and
// through a flag that delegates to it) answer a unit what /api/v1/assign
// answers: the variant of its stored sticky doc, the segment-targeted
// experiment by the unit's stored purchase, the control when the budget is
// spent; and they store the same exposures and sticky docs.
func TestOFREPParityWithAssign(t *testing.T) {
	body := map[string]any{"context": map[string]any{"targetingKey": "cust"}}
	auth := []string{"Authorization", "Bearer "}
	for _, bulk := range []bool{false, true} {
		t.Run(map[bool]string{false: "single", true: "bulk"}[bulk], func(t *testing.T) {
			ref, got := newSDKEnv(t), newSDKEnv(t)
			sticky := ref.seedParity(t)
			if s := got.seedParity(t); s != sticky {
				t.Fatalf("sticky variants %s and %s of two seeds", sticky, s)
			}
			resp, b := ref.do(t, "POST", "/api/v1/assign", ref.sdk, map[string]any{"unit_id": "cust", "experiments": parityExperiments})
			var assigned AssignResponse
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &assigned) != nil || len(assigned.Assignments) != len(parityExperiments) {
				t.Fatalf("assign: %d %s", resp.StatusCode, b)
			}
			want := map[string]parityAnswer{}
			for _, a := range assigned.Assignments {
				w := parityAnswer{Variant: a.Variant, In: a.InExperiment}
				if !a.InExperiment && a.Reason == experiments.ReasonBudgetExhausted {
					w.Rights = a.Reason
				}
				want[a.Experiment] = w
			}
			expect := map[string]parityAnswer{"sticky-sale": {sticky, true, ""}, "seg-sale": {"ten_off", true, ""},
				"budget": {"control", false, experiments.ReasonBudgetExhausted}}
			if fmt.Sprint(want) != fmt.Sprint(expect) {
				t.Fatalf("/api/v1/assign answered %v, want %v", want, expect)
			}
			evals := map[string]map[string]any{}
			if bulk {
				status, out, _ := got.ofrep(t, "/ofrep/v1/evaluate/flags?log_exposures=true", body, auth[0], auth[1]+got.sdk)
				flags, _ := out["flags"].([]any)
				if status != http.StatusOK || len(flags) != 2*len(parityExperiments) {
					t.Fatalf("bulk: %d %v", status, out)
				}
				for _, f := range flags {
					m, _ := f.(map[string]any)
					k, _ := m["key"].(string)
					evals[k] = m
				}
			} else {
				for _, exp := range parityExperiments {
					for _, k := range []string{exp, exp + "-flag"} {
						status, out, _ := got.ofrep(t, "/ofrep/v1/evaluate/flags/"+k, body, auth[0], auth[1]+got.sdk)
						if status != http.StatusOK {
							t.Fatalf("%s: %d %v", k, status, out)
						}
						evals[k] = out
					}
				}
			}
			for _, exp := range parityExperiments {
				for _, flag := range []bool{false, true} {
					k := exp
					if flag {
						k += "-flag"
					}
					if have := ofrepAnswer(t, evals[k], exp, flag); have != want[exp] {
						t.Errorf("OFREP %s = %+v, /api/v1/assign %+v", k, have, want[exp])
					}
				}
			}
			for _, exp := range parityExperiments {
				if g, w := got.exposures(t, exp), ref.exposures(t, exp); g != w {
					t.Errorf("%s: %d exposures after OFREP, %d after /api/v1/assign", exp, g, w)
				}
			}
			docs := func(e *sdkEnv) string {
				t.Helper()
				d, err := e.svc.Store().(experiments.StickyStore).LoadSticky(context.Background(),
					[]experiments.StickyKey{{AttributeName: "id", UnitID: "cust"}})
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprint(d)
			}
			if g, w := docs(got), docs(ref); g != w {
				t.Errorf("sticky docs after OFREP %s, after /api/v1/assign %s", g, w)
			}
		})
	}
}

// A bulk evaluation is a prefetch (DESIGN.md §10): it logs no exposure
// unless the query asks with log_exposures=true; another value is a 400.
func TestOFREPBulkLogsExposuresOnlyWhenAsked(t *testing.T) {
	body := map[string]any{"context": map[string]any{"targetingKey": "cust"}}
	e := newSDKEnv(t)
	e.seedParity(t)
	for _, tt := range []struct {
		query  string
		status int
		want   int64 // exposures of seg-sale afterwards
	}{
		{"", http.StatusOK, 0},
		{"?log_exposures=false", http.StatusOK, 0},
		{"?log_exposures=maybe", http.StatusBadRequest, 0},
		{"?log_exposures=true", http.StatusOK, 1},
	} {
		t.Run(tt.query, func(t *testing.T) {
			status, out, _ := e.ofrep(t, "/ofrep/v1/evaluate/flags"+tt.query, body, "Authorization", "Bearer "+e.sdk)
			if status != tt.status {
				t.Fatalf("%d %v; want %d", status, out, tt.status)
			}
			if tt.status == http.StatusBadRequest && out["errorCode"] != "INVALID_CONTEXT" {
				t.Errorf("answer %v; want errorCode INVALID_CONTEXT", out)
			}
			if n := e.exposures(t, "seg-sale"); n != tt.want {
				t.Errorf("%d exposures of seg-sale; want %d", n, tt.want)
			}
		})
	}
}
