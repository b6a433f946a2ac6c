package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/postgres"
)

// TestTwoReplicasExactlyOnce runs two API servers, each over its own
// postgres.Open store (its own connection pool, spec cache and service),
// on the same database schema, as two `promolift serve` replicas would.
// Several clients send overlapping batches to both replicas at once, so
// every event arrives more than once, often at both replicas at the same
// time. Afterwards each event is stored exactly once, accepted exactly
// once across all responses, and the rollups equal a recomputation from
// the raw events.
func TestTwoReplicasExactlyOnce(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	var replicas [2]*httptest.Server
	var stores [2]*postgres.Store
	var svcs [2]*experiments.Service
	for i := range replicas {
		s, err := postgres.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
		svcs[i] = experiments.NewService(s, nil)
		replicas[i] = httptest.NewServer(httpapi.New(svcs[i], httpapi.Config{}, nil))
		t.Cleanup(replicas[i].Close)
	}
	// Setup through replica 0; replica 1 sees it through the database.
	_, token, err := svcs[0].CreateKey(ctx, experiments.Principal{}, "sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &experiments.Experiment{Key: "spring-sale", PrimaryMetric: "purchase",
		Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
	if err := svcs[0].CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[0].Transition(ctx, experiments.Principal{}, "spring-sale", experiments.ActionStart); err != nil {
		t.Fatal(err)
	}

	// The universe: per unit two exposures (a few units see both
	// variants) and three conversions, one of them before the exposure.
	const units = 150
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	var universe []map[string]any
	for u := 0; u < units; u++ {
		unit := fmt.Sprintf("cust-%d", u)
		v := []string{"control", "ten_off"}[u%2]
		v2 := v
		if u%25 == 0 {
			v2 = []string{"ten_off", "control"}[u%2]
		}
		at := base.Add(time.Duration(u) * time.Second)
		universe = append(universe,
			map[string]any{"event_id": fmt.Sprintf("x1-%d", u), "type": "exposure", "experiment": "spring-sale", "variant": v,
				"unit_id": unit, "timestamp": at.Format(time.RFC3339Nano), "attributes": map[string]string{"country": "KR"}},
			map[string]any{"event_id": fmt.Sprintf("x2-%d", u), "type": "exposure", "experiment": "spring-sale", "variant": v2,
				"unit_id": unit, "timestamp": at.Add(time.Minute).Format(time.RFC3339Nano)},
			map[string]any{"event_id": fmt.Sprintf("c0-%d", u), "type": "conversion", "name": "purchase", "revenue": 500, "currency": "USD",
				"unit_id": unit, "timestamp": at.Add(-time.Minute).Format(time.RFC3339Nano)},
		)
		for k := 1; k <= 2; k++ {
			universe = append(universe, map[string]any{"event_id": fmt.Sprintf("c%d-%d", k, u), "type": "conversion", "name": "purchase",
				"revenue": 1000 * k, "currency": "USD", "unit_id": unit, "timestamp": at.Add(time.Duration(k) * 10 * time.Minute).Format(time.RFC3339Nano)})
		}
	}

	// Client c sends batches of 40: client 0 walks the universe in order
	// (so every event is sent), the others send random overlapping
	// windows, alternating replicas; every batch also repeats some events.
	const clients, batchesPerClient, batch = 6, 12, 40
	type outcome struct {
		id, status string
	}
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			n := batchesPerClient
			if c == 0 {
				n = (len(universe) + batch - 1) / batch
			}
			for b := 0; b < n; b++ {
				var evs []map[string]any
				if c == 0 {
					evs = universe[b*batch : min((b+1)*batch, len(universe))]
				} else {
					from := rng.IntN(len(universe) - batch)
					evs = append([]map[string]any{}, universe[from:from+batch]...)
					for k := 0; k < 5; k++ { // duplicates inside the batch too
						evs = append(evs, universe[rng.IntN(len(universe))])
					}
				}
				body, _ := json.Marshal(map[string]any{"events": evs})
				// A replica sheds load with 503 (too many concurrent batches) or
				// 429; clients retry the same batch, like the SDK does, on
				// the other replica.
				var raw []byte
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest(http.MethodPost, replicas[(c+b+attempt)%2].URL+"/api/v1/events", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					raw, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && attempt < 100 {
						time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
						continue
					}
					if err != nil || resp.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("client %d batch %d: status %d, %v: %s", c, b, resp.StatusCode, err, raw)
						return
					}
					break
				}
				var out httpapi.EventsResponse
				if err := json.Unmarshal(raw, &out); err != nil {
					errs <- fmt.Errorf("client %d batch %d: %v", c, b, err)
					return
				}
				mu.Lock()
				for _, r := range out.Results {
					outcomes = append(outcomes, outcome{r.EventID, r.Status})
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	accepted := map[string]int{}
	for _, o := range outcomes {
		switch o.status {
		case "accepted":
			accepted[o.id]++
		case "duplicate":
		default:
			t.Fatalf("event %s: status %q", o.id, o.status)
		}
	}
	if len(outcomes) <= len(universe) {
		t.Fatalf("only %d sends for %d events: the test sent no duplicates", len(outcomes), len(universe))
	}
	for _, ev := range universe {
		id := ev["event_id"].(string)
		if accepted[id] != 1 {
			t.Errorf("event %s accepted %d times across both replicas, want exactly 1", id, accepted[id])
		}
	}
	db := stores[1].DB()
	var stored, distinct int
	if err := db.GetContext(ctx, &stored, `SELECT COUNT(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &distinct, `SELECT COUNT(DISTINCT event_id) FROM events`); err != nil {
		t.Fatal(err)
	}
	if stored != len(universe) || distinct != len(universe) {
		t.Fatalf("stored %d events (%d distinct ids), want %d", stored, distinct, len(universe))
	}
	var rolled int
	if err := db.GetContext(ctx, &rolled, `SELECT COUNT(*) FROM exposures_rollup WHERE experiment = 'spring-sale'`); err != nil {
		t.Fatal(err)
	}
	if rolled != units {
		t.Fatalf("exposures_rollup has %d units, want %d", rolled, units)
	}
	for i, s := range stores {
		diffs, err := s.CheckRollups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) != 0 {
			t.Fatalf("replica %d: rollups differ from a recomputation:\n%q", i, diffs)
		}
	}
	// Both replicas report the same statistics.
	var ss [2]*experiments.SufficientStats
	for i, svc := range svcs {
		if ss[i], err = svc.SufficientStats(ctx, experiments.StatsQuery{Experiment: "spring-sale"}); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := json.Marshal(ss[0])
	b, _ := json.Marshal(ss[1])
	if !bytes.Equal(a, b) {
		t.Fatalf("replicas disagree:\n%s\n%s", a, b)
	}
	t.Logf("%d events sent %d times in total over 2 replicas; stored %d", len(universe), len(outcomes), stored)
}
