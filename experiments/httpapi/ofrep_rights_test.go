package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// rightsNow is the fixed time of the OFREP rights tests.
var rightsNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// seedRights defines, at rightsNow, three experiments that give every unit
// the promotion ten_off: "budget" (a budget of 1000) and "cap-a", "cap-b"
// (cap group "once": one promotion exposure a day).
func (e *sdkEnv) seedRights(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	e.svc.SetClock(func() time.Time { return rightsNow })
	if err := e.svc.PutCapGroup(ctx, e.adminPrincipal, &experiments.CapGroup{Name: "once", MaxExposures: 1, Window: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		key, capGroup string
		budget        int64
	}{{"budget", "", 1000}, {"cap-a", "once", 0}, {"cap-b", "once", 0}} {
		exp := &experiments.Experiment{Key: x.key, Coverage: 1, CapGroup: x.capGroup, Variants: []experiments.Variant{
			{Key: "control", Weight: 0, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 1, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10,
				Budget: x.budget, Currency: "KRW"}},
		}}
		if err := e.svc.CreateExperiment(ctx, e.adminPrincipal, exp); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Transition(ctx, e.adminPrincipal, x.key, experiments.ActionStart); err != nil {
			t.Fatal(err)
		}
	}
}

// assignHTTP assigns unit to experiments through POST /api/v1/assign.
func (e *sdkEnv) assignHTTP(t *testing.T, unit string, exps ...string) {
	t.Helper()
	resp, b := e.do(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": unit, "experiments": exps})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("assign %s %v: %d %s", unit, exps, resp.StatusCode, b)
	}
}

// OFREP evaluation of an experiment applies the customer's rights as
// /api/v1/assign does, through the real handlers, single and bulk: budget
// exhausted, frequency cap reached (the capped unit counted), opted out,
// and a unit under the cap that gets its promotion and its exposure.
func TestOFREPAppliesCustomerRights(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, e *sdkEnv)
		key     string            // the key of the single evaluation
		want    map[string]string // the rights reason per key of the bulk evaluation; "" = the promotion
	}{
		{"budget exhausted", func(t *testing.T, e *sdkEnv) {
			e.assignHTTP(t, "spender", "budget")
			resp, b := e.do(t, "POST", "/api/v1/events", e.sdk, map[string]any{"events": []map[string]any{{
				"event_id": "c-spender", "type": "conversion", "unit_id": "spender", "name": "purchase", "revenue": 5000,
				"promotion_cost": 1000, "currency": "KRW", "timestamp": rightsNow.Format(time.RFC3339)}}})
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"accepted":1`) {
				t.Fatalf("conversion: %d %s", resp.StatusCode, b)
			}
		}, "budget", map[string]string{"budget": experiments.ReasonBudgetExhausted, "cap-b": experiments.ReasonFrequencyCapped}},
		{"frequency cap reached", func(t *testing.T, e *sdkEnv) { e.assignHTTP(t, "cust", "cap-a") }, "cap-b",
			map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
		{"opted out", func(t *testing.T, e *sdkEnv) {
			if resp, b := e.do(t, "PUT", "/api/v1/customers/cust/consent", e.sdk, map[string]any{"promotions": false}); resp.StatusCode != http.StatusOK {
				t.Fatalf("consent: %d %s", resp.StatusCode, b)
			}
		}, "cap-a", map[string]string{"budget": experiments.ReasonOptedOut, "cap-a": experiments.ReasonOptedOut,
			"cap-b": experiments.ReasonOptedOut}},
		{"under the cap", func(*testing.T, *sdkEnv) {}, "cap-a", map[string]string{"cap-b": experiments.ReasonFrequencyCapped}},
	}
	body := map[string]any{"context": map[string]any{"targetingKey": "cust"}}
	for _, tt := range tests {
		for _, bulk := range []bool{false, true} {
			name, path, keys := tt.name+"/single", "/ofrep/v1/evaluate/flags/"+tt.key, []string{tt.key}
			if bulk {
				name, path, keys = tt.name+"/bulk", "/ofrep/v1/evaluate/flags?log_exposures=true", []string{"budget", "cap-a", "cap-b"}
			}
			t.Run(name, func(t *testing.T) {
				e := newSDKEnv(t)
				e.seedRights(t)
				tt.prepare(t, e)
				status, out, _ := e.ofrep(t, path, body, "Authorization", "Bearer "+e.sdk)
				if status != http.StatusOK {
					t.Fatalf("status %d: %v", status, out)
				}
				got := map[string]map[string]any{tt.key: out}
				if bulk {
					got = map[string]map[string]any{}
					flags, _ := out["flags"].([]any)
					for _, f := range flags {
						m, _ := f.(map[string]any)
						k, _ := m["key"].(string)
						got[k] = m
					}
				}
				for _, k := range keys {
					checkOFREPRights(t, e, got[k], k, tt.want[k])
				}
			})
		}
	}
}

// checkOFREPRights checks the OFREP evaluation of experiment key for the
// unit "cust", and what it stored: the promotion ten_off with reason SPLIT
// and its exposure when reason is "", else the control's value with reason
// DEFAULT, metadata in_experiment false and reason, no exposure, and for
// frequency_capped the capped unit counted.
func checkOFREPRights(t *testing.T, e *sdkEnv, got map[string]any, key, reason string) {
	t.Helper()
	ctx := context.Background()
	md, _ := got["metadata"].(map[string]any)
	wantValue, wantReason, wantIn := "ten_off", "SPLIT", true
	if reason != "" {
		wantValue, wantReason, wantIn = "control", "DEFAULT", false
		if reason == experiments.ReasonOptedOut {
			wantReason = "OPTED_OUT" // as the SDKs evaluating locally
		}
	}
	if got["key"] != key || got["value"] != wantValue || got["variant"] != wantValue || got["reason"] != wantReason ||
		md["in_experiment"] != wantIn || md["experiment"] != key || (reason != "" && md["reason"] != reason) || (reason == "" && md["reason"] != nil) {
		t.Errorf("%s: %v; want value %s, reason %s, metadata in_experiment %v and reason %q", key, got, wantValue, wantReason, wantIn, reason)
	}
	x, err := e.svc.Store().GetExperiment(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	exposed, err := e.svc.Store().(experiments.CustomerStore).HasEvent(ctx, experiments.ExposureID(key, x.BucketVersion, "cust", "ten_off", rightsNow))
	if err != nil {
		t.Fatal(err)
	}
	capped, err := e.svc.CappedUnits(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if exposed != (reason == "") || (capped == 1) != (reason == experiments.ReasonFrequencyCapped) {
		t.Errorf("%s: the exposure of cust stored %v, %d capped units; want an exposure only with the promotion, one capped unit only when capped",
			key, exposed, capped)
	}
}

// The ETag of a bulk evaluation follows the answer, not only the spec: once
// the budget is spent, a conditional request with the ETag of the earlier
// answer gets the new answer, not 304; asked again, it gets 304.
func TestOFREPBulkETagFollowsRights(t *testing.T) {
	e := newSDKEnv(t)
	e.seedRights(t)
	body := map[string]any{"context": map[string]any{"targetingKey": "cust"}}
	auth := []string{"Authorization", "Bearer " + e.sdk}
	bulk := func(t *testing.T, etag string) (int, map[string]any, string) {
		t.Helper()
		hdr := auth
		if etag != "" {
			hdr = append([]string{"If-None-Match", etag}, auth...)
		}
		status, out, h := e.ofrep(t, "/ofrep/v1/evaluate/flags?log_exposures=true", body, hdr...)
		return status, out, h.Get("ETag")
	}
	reasonOf := func(out map[string]any, key string) any {
		flags, _ := out["flags"].([]any)
		for _, f := range flags {
			if m, _ := f.(map[string]any); m["key"] == key {
				md, _ := m["metadata"].(map[string]any)
				return md["reason"]
			}
		}
		return "missing"
	}
	status, out, etag := bulk(t, "")
	if status != http.StatusOK || etag == "" || reasonOf(out, "budget") != nil {
		t.Fatalf("first bulk evaluation: %d, ETag %q, %v", status, etag, out)
	}
	if status, _, again := bulk(t, etag); status != http.StatusNotModified || again != etag {
		t.Fatalf("the same answer again: %d, ETag %q; want 304 and %q", status, again, etag)
	}
	resp, b := e.do(t, "POST", "/api/v1/events", e.sdk, map[string]any{"events": []map[string]any{{
		"event_id": "c-cust", "type": "conversion", "unit_id": "cust", "name": "purchase", "revenue": 5000,
		"promotion_cost": 1000, "currency": "KRW", "timestamp": rightsNow.Format(time.RFC3339)}}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"accepted":1`) {
		t.Fatalf("conversion: %d %s", resp.StatusCode, b)
	}
	status, out, spent := bulk(t, etag)
	if status != http.StatusOK || spent == etag || reasonOf(out, "budget") != experiments.ReasonBudgetExhausted {
		t.Fatalf("after the budget is spent: %d, ETag %q (before %q), %v; want 200, a new ETag and budget_exhausted", status, spent, etag, out)
	}
	if status, _, again := bulk(t, spent); status != http.StatusNotModified || again != spent {
		t.Fatalf("the new answer again: %d, ETag %q; want 304", status, again)
	}
}
