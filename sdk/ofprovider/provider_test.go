package ofprovider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/sdk"
)

const shopConfig = `{
  "version": "1",
  "experiments": [{
    "key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
    "variations": ["control", "ten_off"],
    "meta": [{"key": "control"}, {"key": "ten_off"}],
    "weights": [0.5, 0.5],
    "condition": {"country": {"$in": ["KR", "JP"]}}
  }],
  "features": {
    "spring-sale-gate": {"defaultValue": false, "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "rules": [{"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"},
                {"id": "rollout", "force": true, "coverage": 0.25, "hashAttribute": "id", "hashVersion": 2, "seed": "spring-sale-gate", "variant": "on"}]},
    "discount": {"defaultValue": 0, "rules": [{"id": "exp", "key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
      "variations": [0, 10], "meta": [{"key": "control"}, {"key": "ten_off"}], "weights": [0.5, 0.5]}]},
    "ratio": {"defaultValue": 0.5},
    "banner": {"defaultValue": {"title": "Spring"}},
    "off": {"defaultValue": true, "enabled": false}
  }
}`

func newTestProvider(t testing.TB, cfg string, mod func(*sdk.Config)) (*Provider, *configServer, *openfeature.Client) {
	t.Helper()
	srv := newConfigServer(t, []byte(cfg))
	c := sdk.Config{ServerURL: srv.URL, Key: "sdk-key", FlushInterval: 20 * time.Millisecond, RetryBackoff: 5 * time.Millisecond}
	if mod != nil {
		mod(&c)
	}
	p, err := New(c, Options{InitTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	domain := fmt.Sprintf("test-%d", domainSeq.Add(1))
	if err := openfeature.SetNamedProviderAndWait(domain, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.ShutdownWithContext(context.Background()) })
	return p, srv, openfeature.NewClient(domain)
}

func TestResolutions(t *testing.T) {
	p, _, of := newTestProvider(t, shopConfig, nil)
	spec, _ := assign.DecodeSpec([]byte(shopConfig))
	r, _ := spec.Run("spring-sale", assign.Attributes{"id": "cust-1", "country": "KR"})
	ctx := context.Background()
	kr := openfeature.NewEvaluationContext("cust-1", map[string]any{"country": "KR"})
	gold := openfeature.NewEvaluationContext("cust-1", map[string]any{"tier": "gold"})
	none := openfeature.NewTargetlessEvaluationContext(map[string]any{"country": "KR"})

	type want struct {
		value   any
		variant string
		reason  openfeature.Reason
		code    openfeature.ErrorCode
	}
	tests := []struct {
		name string
		eval func() (any, openfeature.ResolutionDetail)
		want want
	}{
		{"experiment as string flag", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.StringValueDetails(ctx, "spring-sale", "x", kr)
			return d.Value, d.ResolutionDetail
		}, want{r.VariantKey, r.VariantKey, openfeature.SplitReason, ""}},
		{"experiment not targeted", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.StringValueDetails(ctx, "spring-sale", "x", openfeature.NewEvaluationContext("cust-1", map[string]any{"country": "US"}))
			return d.Value, d.ResolutionDetail
		}, want{"control", "control", openfeature.DefaultReason, ""}},
		{"experiment needs targeting key", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.StringValueDetails(ctx, "spring-sale", "x", none)
			return d.Value, d.ResolutionDetail
		}, want{"x", "", openfeature.ErrorReason, openfeature.TargetingKeyMissingCode}},
		{"experiment as bool: mismatch", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.BooleanValueDetails(ctx, "spring-sale", true, kr)
			return d.Value, d.ResolutionDetail
		}, want{true, "", openfeature.ErrorReason, openfeature.TypeMismatchCode}},
		{"targeting match", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.BooleanValueDetails(ctx, "spring-sale-gate", false, gold)
			return d.Value, d.ResolutionDetail
		}, want{true, "on", openfeature.TargetingMatchReason, ""}},
		{"experiment rule as int", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.IntValueDetails(ctx, "discount", -1, kr)
			return d.Value, d.ResolutionDetail
		}, want{map[string]int64{"control": 0, "ten_off": 10}[r.VariantKey], r.VariantKey, openfeature.SplitReason, ""}},
		{"float static", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.FloatValueDetails(ctx, "ratio", 0, kr)
			return d.Value, d.ResolutionDetail
		}, want{0.5, "", openfeature.StaticReason, ""}},
		{"float as int: mismatch", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.IntValueDetails(ctx, "ratio", 7, kr)
			return d.Value, d.ResolutionDetail
		}, want{int64(7), "", openfeature.ErrorReason, openfeature.TypeMismatchCode}},
		{"disabled", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.BooleanValueDetails(ctx, "off", false, kr)
			return d.Value, d.ResolutionDetail
		}, want{false, "", openfeature.DisabledReason, ""}},
		{"not found", func() (any, openfeature.ResolutionDetail) {
			d, _ := of.StringValueDetails(ctx, "missing", "d", kr)
			return d.Value, d.ResolutionDetail
		}, want{"d", "", openfeature.ErrorReason, openfeature.FlagNotFoundCode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, d := tt.eval()
			if v != tt.want.value || d.Variant != tt.want.variant || d.Reason != tt.want.reason || d.ErrorCode != tt.want.code {
				t.Fatalf("got %v %q %s %q (%s), want %+v", v, d.Variant, d.Reason, d.ErrorCode, d.ErrorMessage, tt.want)
			}
		})
	}
	obj, _ := of.ObjectValueDetails(ctx, "banner", nil, kr)
	if m, ok := obj.Value.(map[string]any); !ok || m["title"] != "Spring" {
		t.Fatalf("object %v", obj.Value)
	}
	if d, _ := of.StringValueDetails(ctx, "spring-sale", "x", kr); d.FlagMetadata["experiment"] != "spring-sale" {
		t.Fatalf("metadata %v", d.FlagMetadata)
	}
	_ = p
}

func TestNotReadyDirect(t *testing.T) {
	srv := newConfigServer(t, []byte(shopConfig))
	srv.status = 503
	p, err := New(sdk.Config{ServerURL: srv.URL, Key: "k"}, Options{InitTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	d := p.BooleanEvaluation(context.Background(), "spring-sale-gate", true, nil)
	if d.Value != true || d.ResolutionDetail().ErrorCode != openfeature.ProviderNotReadyCode {
		t.Fatalf("%+v", d)
	}
	if err := p.Init(openfeature.EvaluationContext{}); err == nil {
		t.Fatal("Init succeeded against a failing server")
	}
}

func TestProviderEvents(t *testing.T) {
	_, srv, of := newTestProvider(t, shopConfig, func(c *sdk.Config) {
		c.PollInterval = 10 * time.Millisecond
		c.StaleAfter = 80 * time.Millisecond
	})
	var mu sync.Mutex
	var seen []openfeature.EventType
	for _, et := range []openfeature.EventType{openfeature.ProviderConfigChange, openfeature.ProviderStale, openfeature.ProviderReady} {
		fn := func(openfeature.EventDetails) {
			mu.Lock()
			seen = append(seen, et)
			mu.Unlock()
		}
		of.AddHandler(et, &fn)
	}
	has := func(et openfeature.EventType) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range seen {
			if x == et {
				return true
			}
		}
		return false
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (seen %v, state %s)", what, seen, of.State())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	srv.setConfig([]byte(strings.Replace(shopConfig, `"ratio": {"defaultValue": 0.5}`, `"ratio": {"defaultValue": 0.75}`, 1)))
	wait("configuration change", func() bool { return has(openfeature.ProviderConfigChange) })
	if v := of.Float(context.Background(), "ratio", 0, openfeature.EvaluationContext{}); v != 0.75 {
		t.Fatalf("ratio %v", v)
	}
	srv.mu.Lock()
	srv.status = 503
	srv.mu.Unlock()
	wait("stale", func() bool { return of.State() == openfeature.StaleState })
	if v := of.Float(context.Background(), "ratio", 0, openfeature.EvaluationContext{}); v != 0.75 {
		t.Fatalf("stale provider does not serve the last config: %v", v)
	}
	srv.mu.Lock()
	srv.status = 0
	srv.mu.Unlock()
	wait("ready again", func() bool { return of.State() == openfeature.ReadyState && has(openfeature.ProviderReady) })
}

func TestTrackBecomesConversion(t *testing.T) {
	p, srv, of := newTestProvider(t, shopConfig, nil)
	evalCtx := openfeature.NewEvaluationContext("cust-9", map[string]any{"country": "KR"})
	of.Track(context.Background(), "purchase", evalCtx,
		openfeature.NewTrackingEventDetails(125000).Add("currency", "KRW").Add("order_id", "o-9").Add("device", "ios"))
	of.Track(context.Background(), "purchase", openfeature.EvaluationContext{}, openfeature.NewTrackingEventDetails(1)) // no targeting key: dropped
	e := onlyEvent(t, p, srv)
	if e["type"] != "conversion" || e["unit_id"] != "cust-9" || e["name"] != "purchase" || e["revenue"] != 125000.0 ||
		e["currency"] != "KRW" || e["order_id"] != "o-9" || e["attributes"].(map[string]any)["device"] != "ios" {
		t.Fatalf("event %v", e)
	}
}

// onlyEvent shuts p down (which flushes its events) and returns the one
// event srv received.
func onlyEvent(t *testing.T, p *Provider, srv *configServer) map[string]any {
	t.Helper()
	if err := p.ShutdownWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.events) != 1 {
		t.Fatalf("events %v", srv.events)
	}
	return srv.events[0]
}

// A conversion of a device names the customer of the context (attribute
// id), or the one its details name, so that erasing the customer erases
// the device's unit too; a context whose unit is the customer names none.
func TestTrackNamesTheCustomerOfADevice(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evalCtx  openfeature.EvaluationContext
		details  openfeature.TrackingEventDetails
		unit     string
		customer any // nil: no customer_id in the event
	}{
		{"device with customer id", openfeature.NewEvaluationContext("dev-1", map[string]any{"id": "cust-7"}),
			openfeature.NewTrackingEventDetails(100), "dev-1", "cust-7"},
		{"customer_id in details", openfeature.NewEvaluationContext("dev-2", nil),
			openfeature.NewTrackingEventDetails(100).Add("customer_id", "cust-8"), "dev-2", "cust-8"},
		{"unit is the customer", openfeature.NewEvaluationContext("cust-9", map[string]any{"id": "cust-9"}),
			openfeature.NewTrackingEventDetails(100), "cust-9", nil},
		{"no customer", openfeature.NewEvaluationContext("dev-3", map[string]any{"country": "KR"}),
			openfeature.NewTrackingEventDetails(100), "dev-3", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, srv, of := newTestProvider(t, shopConfig, nil)
			of.Track(context.Background(), "purchase", tc.evalCtx, tc.details.Add("currency", "KRW"))
			e := onlyEvent(t, p, srv)
			if e["unit_id"] != tc.unit || e["customer_id"] != tc.customer {
				t.Errorf("unit %v customer %v, want %v %v", e["unit_id"], e["customer_id"], tc.unit, tc.customer)
			}
		})
	}
}

// The same boolean flag, on for gold customers, in both providers.
func benchProviders(b *testing.B) (promolift, mem *openfeature.Client) {
	cfg := `{"features": {"gate": {"defaultValue": false, "variants": {"on": true, "off": false}, "defaultVariant": "off",
	  "rules": [{"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"}]}}}`
	_, _, promolift = newTestProvider(b, cfg, nil)
	eval := func(f memprovider.InMemoryFlag, ec openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		if ec["tier"] == "gold" {
			return f.Variants["on"], openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "on"}
		}
		return f.Variants["off"], openfeature.ProviderResolutionDetail{Reason: openfeature.DefaultReason, Variant: "off"}
	}
	mp := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"gate": {Key: "gate", State: memprovider.Enabled, DefaultVariant: "off",
			Variants: map[string]any{"on": true, "off": false}, ContextEvaluator: &eval},
	})
	domain := fmt.Sprintf("mem-%d", domainSeq.Add(1))
	if err := openfeature.SetNamedProviderAndWait(domain, mp); err != nil {
		b.Fatal(err)
	}
	return promolift, openfeature.NewClient(domain)
}

var sinkB bool

func benchBool(b *testing.B, c *openfeature.Client) {
	ctx := context.Background()
	ec := openfeature.NewEvaluationContext("cust-1", map[string]any{"tier": "gold", "country": "KR"})
	b.ReportAllocs()
	for b.Loop() {
		sinkB = c.Boolean(ctx, "gate", false, ec)
	}
	if !sinkB {
		b.Fatal("gate off")
	}
}

// BenchmarkOpenFeatureBool compares the promolift provider with the
// OpenFeature in-memory provider on the same boolean flag through an
// openfeature.Client.
func BenchmarkOpenFeatureBool(b *testing.B) {
	pl, mem := benchProviders(b)
	b.Run("provider=promolift", func(b *testing.B) { benchBool(b, pl) })
	b.Run("provider=memprovider", func(b *testing.B) { benchBool(b, mem) })
}

func TestRefusedKeyAfterReadyIsProviderError(t *testing.T) {
	_, srv, of := newTestProvider(t, shopConfig, func(c *sdk.Config) { c.PollInterval = 10 * time.Millisecond })
	srv.mu.Lock()
	srv.status = 401
	srv.mu.Unlock()
	if err := waitState(of, openfeature.ErrorState); err != nil {
		t.Fatal(err)
	}
	// Evaluation goes on from the last snapshot.
	if !of.Boolean(context.Background(), "spring-sale-gate", false, openfeature.NewEvaluationContext("c", map[string]any{"tier": "gold"})) {
		t.Fatal("last snapshot not served")
	}
	srv.mu.Lock()
	srv.status = 0
	srv.mu.Unlock()
	if err := waitState(of, openfeature.ReadyState); err != nil {
		t.Fatal(err)
	}
}
