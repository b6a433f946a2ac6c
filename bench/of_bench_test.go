package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/sdk"
	"github.com/promolift/promolift/sdk/ofprovider"
)

// flagConfig is the SDK config both providers evaluate: one boolean flag
// with a targeting rule.
const flagConfig = `{"version": "v1", "features": {"gate": {"defaultValue": false, "variants": {"on": true, "off": false},
  "defaultVariant": "off", "rules": [{"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"}]}}}`

func ofClients(b *testing.B) (promolift, mem *openfeature.Client) {
	type pair struct{ pl, mem *openfeature.Client }
	p := fixture(b, "of", func() (pair, error) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/sdk/config" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"v1"`)
			_, _ = w.Write([]byte(flagConfig))
		}))
		cleanups = append(cleanups, srv.Close)
		prov, err := ofprovider.New(sdk.Config{ServerURL: srv.URL, Key: "sdk-key", PollInterval: time.Hour,
			DisableExposures: true}, ofprovider.Options{InitTimeout: 5 * time.Second})
		if err != nil {
			return pair{}, err
		}
		if err := openfeature.SetNamedProviderAndWait("bench-promolift", prov); err != nil {
			return pair{}, err
		}
		cleanups = append(cleanups, func() { _ = prov.ShutdownWithContext(context.Background()) })
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
		if err := openfeature.SetNamedProviderAndWait("bench-mem", mp); err != nil {
			return pair{}, err
		}
		return pair{openfeature.NewClient("bench-promolift"), openfeature.NewClient("bench-mem")}, nil
	})
	return p.pl, p.mem
}

var sinkBool bool

// BenchmarkOpenFeatureBool evaluates the same boolean flag through an
// openfeature.Client: promolift's provider (local evaluation of the SDK
// snapshot) against the OpenFeature in-memory provider.
func BenchmarkOpenFeatureBool(b *testing.B) {
	for _, impl := range []string{"memprovider", "promolift"} {
		b.Run("impl="+impl, func(b *testing.B) {
			pl, mem := ofClients(b)
			c := pl
			if impl == "memprovider" {
				c = mem
			}
			ctx := context.Background()
			ec := openfeature.NewEvaluationContext("cust-1", map[string]any{"tier": "gold", "country": "KR"})
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = c.Boolean(ctx, "gate", false, ec)
			}
			if !sinkBool {
				b.Fatal("gate off")
			}
		})
	}
}

// growthSpec is a spec with nexp experiments of nvar variants each, with
// the same condition as the main assign benchmark.
func growthSpec(b *testing.B, nexp, nvar int) *assign.Spec {
	var exps []string
	for i := 0; i < nexp; i++ {
		var vars, meta, weights []string
		for v := 0; v < nvar; v++ {
			vars = append(vars, fmt.Sprintf("%q", fmt.Sprint("v", v)))
			meta = append(meta, fmt.Sprintf(`{"key": "v%d"}`, v))
			weights = append(weights, fmt.Sprint(1/float64(nvar)))
		}
		exps = append(exps, fmt.Sprintf(`{"key": "exp-%d", "seed": "exp-%d", "hashVersion": 2, "variations": [%s],
  "meta": [%s], "weights": [%s], "condition": {"country": {"$in": ["KR", "JP"]}, "tier": {"$ne": "banned"}}}`,
			i, i, strings.Join(vars, ","), strings.Join(meta, ","), strings.Join(weights, ",")))
	}
	s, err := assign.DecodeSpec([]byte(`{"experiments": [` + strings.Join(exps, ",") + `]}`))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGrowthAssign is Spec.Run as the number of distinct units, of
// experiments in the spec, and of variants grows: it should stay flat.
func BenchmarkGrowthAssign(b *testing.B) {
	run := func(b *testing.B, s *assign.Spec, key string, units int) {
		ids := make([]string, units)
		for i := range ids {
			ids[i] = fmt.Sprint("cust-", i)
		}
		attrs := assign.Attributes{"id": "", "country": "KR", "tier": "gold"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			attrs["id"] = ids[i]
			sinkR, _ = s.Run(key, attrs)
			i++
			if i == len(ids) {
				i = 0
			}
		}
	}
	for _, u := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("units=%d", u), func(b *testing.B) { run(b, growthSpec(b, 1, 2), "exp-0", u) })
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("experiments=%d", n), func(b *testing.B) { run(b, growthSpec(b, n, 2), fmt.Sprint("exp-", n-1), 10_000) })
	}
	for _, v := range []int{2, 5, 10} {
		b.Run(fmt.Sprintf("variants=%d", v), func(b *testing.B) { run(b, growthSpec(b, 1, v), "exp-0", 10_000) })
	}
}
