package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/sdk"
)

// exampleConfig is what promolift serves at /api/v1/sdk/config for one
// running experiment: 10% off against no promotion, for Korea and Japan.
const exampleConfig = `{
  "version": "1",
  "experiments": [{
    "key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
    "variations": ["control", "ten_off"],
    "meta": [{"key": "control"}, {"key": "ten_off"}],
    "weights": [0.5, 0.5],
    "condition": {"country": {"$in": ["KR", "JP"]}}
  }]
}`

// promoliftStandIn serves the config and records the events it receives.
func promoliftStandIn() (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/sdk/config":
			w.Header().Set("ETag", `"1"`)
			fmt.Fprint(w, exampleConfig)
		case "/api/v1/events":
			var req struct{ Events []sdk.Event }
			_ = json.NewDecoder(r.Body).Decode(&req)
			mu.Lock()
			for _, e := range req.Events {
				switch e.Type {
				case "exposure":
					got = append(got, fmt.Sprintf("exposure %s %s %s", e.UnitID, e.Experiment, e.Variant))
				default:
					got = append(got, fmt.Sprintf("conversion %s %s %d %s order=%s", e.UnitID, e.Name, e.Revenue, e.Currency, e.OrderID))
				}
			}
			mu.Unlock()
			fmt.Fprint(w, `{"results":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string(nil), got...)
		sort.Strings(out)
		return out
	}
}

// A shop backend shows a customer the promotion of their variant and
// tracks the purchase.
func Example() {
	srv, received := promoliftStandIn()
	defer srv.Close()

	ctx := context.Background()
	client, err := sdk.New(ctx, sdk.Config{ServerURL: srv.URL, Key: "sdk-key"})
	if err != nil {
		fmt.Println(err)
		return
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.WaitReady(waitCtx); err != nil {
		fmt.Println(err)
		return
	}

	// The product page: evaluated locally, no network.
	customer := assign.Attributes{"id": "cust-2", "country": "KR"}
	a := client.Run("spring-sale", customer)
	switch a.Variant {
	case "ten_off":
		fmt.Println("banner: 10% off everything this spring")
	default:
		fmt.Println("banner: spring collection")
	}
	// Checkout: 125,000 KRW.
	if err := client.Track("cust-2", "purchase", 125000, "KRW", sdk.WithOrderID("order-42")); err != nil {
		fmt.Println(err)
	}

	// Shutting down flushes the queued events.
	if err := client.Close(ctx); err != nil {
		fmt.Println(err)
	}
	for _, e := range received() {
		fmt.Println(e)
	}
	// Output:
	// banner: 10% off everything this spring
	// conversion cust-2 purchase 125000 KRW order=order-42
	// exposure cust-2 spring-sale ten_off
}
