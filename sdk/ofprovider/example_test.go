package ofprovider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/promolift/promolift/sdk"
	"github.com/promolift/promolift/sdk/ofprovider"
)

// exampleConfig: a promotion gate for gold customers and the running
// spring-sale experiment (10% off against no promotion).
const exampleConfig = `{
  "experiments": [{
    "key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
    "variations": ["control", "ten_off"],
    "meta": [{"key": "control"}, {"key": "ten_off"}],
    "weights": [0.5, 0.5]
  }],
  "features": {
    "spring-sale-gate": {"defaultValue": false, "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "rules": [{"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"}]}
  }
}`

// A shop backend gates the spring sale through OpenFeature, shows the
// customer's variant, and tracks the purchase as a conversion.
func Example() {
	var mu sync.Mutex
	var events []sdk.Event
	promolift := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/sdk/config":
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, exampleConfig)
		case "/api/v1/events":
			var req struct{ Events []sdk.Event }
			_ = json.NewDecoder(r.Body).Decode(&req)
			mu.Lock()
			events = append(events, req.Events...)
			mu.Unlock()
			fmt.Fprint(w, `{"results":[]}`)
		}
	}))
	defer promolift.Close()

	provider, err := ofprovider.New(sdk.Config{ServerURL: promolift.URL, Key: "sdk-key"}, ofprovider.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := openfeature.SetNamedProviderAndWait("shop", provider); err != nil {
		fmt.Println(err)
		return
	}
	shop := openfeature.NewClient("shop")
	ctx := context.Background()

	customer := openfeature.NewEvaluationContext("cust-2", map[string]any{"tier": "gold", "country": "KR"})
	if shop.Boolean(ctx, "spring-sale-gate", false, customer) {
		variant, _ := shop.StringValueDetails(ctx, "spring-sale", "control", customer)
		fmt.Printf("spring sale on; variant %s (%s)\n", variant.Value, variant.Reason)
	}
	shop.Track(ctx, "purchase", customer, openfeature.NewTrackingEventDetails(125000).Add("currency", "KRW"))

	provider.Shutdown() // flushes the events
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		switch e.Type {
		case "exposure":
			fmt.Printf("exposure: %s saw %s of %s\n", e.UnitID, e.Variant, e.Experiment)
		case "conversion":
			fmt.Printf("conversion: %s %s %d %s\n", e.UnitID, e.Name, e.Revenue, e.Currency)
		}
	}
	// Output:
	// spring sale on; variant ten_off (SPLIT)
	// exposure: cust-2 saw ten_off of spring-sale
	// conversion: cust-2 purchase 125000 KRW
}
