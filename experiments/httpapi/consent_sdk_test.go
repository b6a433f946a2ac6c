package httpapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/sdk"
	"github.com/promolift/promolift/sdk/ofprovider"
)

// TestSDKLocalEvaluationHonoursConsent withdraws a customer's consent
// through the API and checks that the Go SDK and the OpenFeature provider,
// both evaluating the config locally, give that customer control with the
// reason OPTED_OUT (as POST /api/v1/assign answers opted_out), while a
// customer who did not withdraw consent keeps the promotion; the server's
// OFREP evaluation (single and bulk) answers each customer the value,
// variant and reason that the OpenFeature Go SDK resolved locally.
func TestSDKLocalEvaluationHonoursConsent(t *testing.T) {
	s := newE2EServer(t)
	s.startExperiment("spring-sale")
	ctx := context.Background()
	client := s.newSDK(t, sdk.Config{DisableExposures: true})
	provider, err := ofprovider.New(sdk.Config{ServerURL: s.url, Key: s.sdk, Stream: true, DisableExposures: true}, ofprovider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const domain = "promolift-consent"
	if err := openfeature.SetNamedProviderAndWait(domain, provider); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = openfeature.SetNamedProviderAndWait(domain, openfeature.NoopProvider{}) })
	of := openfeature.NewClient(domain)

	// Two customers the experiment gives the promotion (ten_off).
	var promoted []string
	for i := 0; len(promoted) < 2; i++ {
		u := fmt.Sprintf("cust-%d", i)
		if a := client.Run("spring-sale", assign.Attributes{"id": u, "country": "KR"}); a.Variant == "ten_off" {
			promoted = append(promoted, u)
		}
	}
	withdrawn, kept := promoted[0], promoted[1]

	before := []string{client.Version(), provider.Client().Version()}
	s.call("PUT", "/api/v1/customers/"+withdrawn+"/consent", s.sdk, map[string]any{"promotions": false}, nil)
	for i, c := range []*sdk.Client{client, provider.Client()} {
		deadline := time.Now().Add(10 * time.Second)
		for c.Version() == before[i] {
			if time.Now().After(deadline) {
				t.Fatalf("client %d: no new config after the consent change (stats %+v)", i, c.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var out AssignResponse
	s.call("POST", "/api/v1/assign", s.sdk, map[string]any{"unit_id": withdrawn,
		"attributes": map[string]any{"country": "KR"}, "experiments": []string{"spring-sale"}}, &out)
	if len(out.Assignments) != 1 || out.Assignments[0].Variant != "control" || out.Assignments[0].Reason != "opted_out" {
		t.Fatalf("/assign of the opted-out customer: %+v", out)
	}

	tests := []struct {
		unit, variant string
		inExperiment  bool
		runReason     assign.Reason
		reason        string // sdk.Evaluate and the OpenFeature provider
	}{
		{withdrawn, "control", false, assign.ReasonOptedOut, string(sdk.ReasonOptedOut)},
		{kept, "ten_off", true, assign.ReasonAssigned, string(sdk.ReasonSplit)},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			attrs := assign.Attributes{"id": tt.unit, "country": "KR"}
			if a := client.Run("spring-sale", attrs); a.Variant != tt.variant || a.InExperiment != tt.inExperiment || a.Reason != tt.runReason {
				t.Errorf("sdk Run = %+v, want %s (in experiment %v, %s)", a, tt.variant, tt.inExperiment, tt.runReason)
			}
			if ev := client.Evaluate("spring-sale", attrs); ev.Variant != tt.variant || string(ev.Reason) != tt.reason {
				t.Errorf("sdk Evaluate = %+v, want %s (%s)", ev, tt.variant, tt.reason)
			}
			d, err := of.StringValueDetails(ctx, "spring-sale", "fallback",
				openfeature.NewEvaluationContext(tt.unit, map[string]any{"country": "KR"}))
			if err != nil || d.Value != tt.variant || string(d.Reason) != tt.reason {
				t.Errorf("OpenFeature = %+v (%v), want %s (%s)", d, err, tt.variant, tt.reason)
			}
			type ofrepEval struct {
				Key     string `json:"key"`
				Value   any    `json:"value"`
				Variant string `json:"variant"`
				Reason  string `json:"reason"`
			}
			body := map[string]any{"context": map[string]any{"targetingKey": tt.unit, "country": "KR"}}
			var single ofrepEval
			s.call("POST", "/ofrep/v1/evaluate/flags/spring-sale", s.sdk, body, &single)
			var bulk struct {
				Flags []ofrepEval `json:"flags"`
			}
			s.call("POST", "/ofrep/v1/evaluate/flags", s.sdk, body, &bulk)
			for _, got := range append(bulk.Flags, single) {
				if got.Key != "spring-sale" {
					continue
				}
				if got.Value != d.Value || got.Variant != d.Variant || got.Reason != string(d.Reason) {
					t.Errorf("server OFREP = %+v; the OpenFeature SDK locally %s/%s (%s)", got, d.Value, d.Variant, d.Reason)
				}
			}
		})
	}
}
