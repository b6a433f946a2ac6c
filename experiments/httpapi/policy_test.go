package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/promolift/promolift/stats/policy"
	"github.com/promolift/promolift/stats/policy/policysim"
)

// policySim drives a simulated promotion test of a planted world through
// the API: it creates the experiment, draws each unit's cell and arm (by
// the design weights, as the hash does), and posts the exposures and the
// purchases (revenue and promotion cost) as event batches.
type policySim struct {
	e *env
	w *policysim.World
	r *rand.Rand
}

// simEvent is an event of POST /api/v1/events.
type simEvent struct {
	ID            string            `json:"event_id"`
	Type          string            `json:"type"`
	Experiment    string            `json:"experiment,omitempty"`
	Variant       string            `json:"variant,omitempty"`
	Unit          string            `json:"unit_id"`
	Timestamp     time.Time         `json:"timestamp"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	Channel       string            `json:"channel,omitempty"`
	Name          string            `json:"name,omitempty"`
	Revenue       int64             `json:"revenue,omitempty"`
	PromotionCost *int64            `json:"promotion_cost,omitempty"`
	Currency      string            `json:"currency,omitempty"`
}

// experimentOf is the definition of the world's test: control first, the
// world's weights, the features as segments.
func (s *policySim) experimentOf(key string) map[string]any {
	var variants []map[string]any
	for a, k := range s.w.Arms {
		p := map[string]any{"type": "none"}
		if a > 0 {
			p = map[string]any{"type": "percent_off", "value": 10, "currency": "USD"}
		}
		variants = append(variants, map[string]any{"key": k, "weight": s.w.Weights[a], "promotion": p})
	}
	return map[string]any{"key": key, "variants": variants, "primary_metric": "purchase",
		"segments": s.w.Features, "attribution_window_hours": 168}
}

// run creates and starts experiment key and sends n units' events.
func (s *policySim) run(key string, n int) {
	t := s.e.t
	t.Helper()
	wantStatus(t, s.e.do("POST", "/api/v1/experiments", s.e.admin, s.experimentOf(key)), 201)
	wantStatus(t, s.e.do("POST", "/api/v1/experiments/"+key+"/start", s.e.admin, nil), 200)
	at := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	var batch []simEvent
	flush := func() {
		if len(batch) == 0 {
			return
		}
		w := s.e.do("POST", "/api/v1/events", s.e.sdk, map[string]any{"events": batch})
		wantStatus(t, w, 200)
		var res struct{ Accepted, Rejected int }
		_ = json.Unmarshal(w.Body.Bytes(), &res)
		if res.Rejected > 0 {
			t.Fatalf("events rejected: %s", w.Body.String())
		}
		batch = batch[:0]
	}
	for i := 0; i < n; i++ {
		c, a := s.w.DrawCell(s.r), s.w.DrawArm(s.r)
		unit := fmt.Sprintf("%s-u%d", key, i)
		attrs := s.w.Segment(c)
		channel := attrs["channel"]
		delete(attrs, "channel")
		batch = append(batch, simEvent{ID: unit + "-x", Type: "exposure", Experiment: key, Variant: s.w.Arms[a],
			Unit: unit, Timestamp: at, Attributes: attrs, Channel: channel})
		if bought, rev, cost := s.w.Outcome(s.r, c, a); bought {
			batch = append(batch, simEvent{ID: unit + "-p", Type: "conversion", Name: "purchase", Unit: unit,
				Timestamp: at.Add(time.Hour), Revenue: rev, PromotionCost: &cost, Currency: "USD"})
		}
		if len(batch) >= 900 {
			flush()
		}
	}
	flush()
}

func (s *policySim) policy(key, query string) PolicyResponse {
	t := s.e.t
	t.Helper()
	w := s.e.do("GET", "/api/v1/experiments/"+key+"/policy?features=rfm_segment,channel"+query, s.e.analyst, nil)
	wantStatus(t, w, 200)
	var out PolicyResponse
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ruleArm is the arm index of the rule for world cell c.
func ruleArm(t *testing.T, w *policysim.World, out *policy.Output, c int) int {
	t.Helper()
	seg := w.Segment(c)
	for _, r := range out.Rules {
		if reflect.DeepEqual(r.Segment, seg) {
			for a, k := range w.Arms {
				if k == r.Variant {
					return a
				}
			}
		}
	}
	t.Fatalf("no rule for %v in %d rules", seg, len(out.Rules))
	return -1
}

// TestPolicyEndpoint checks the policy JSON of one simulated test: the
// fields of the contract, the rules of the cells with a clear planted
// best arm, that `promolift policy` on format=input gives the same answer,
// the budget, and the errors.
func TestPolicyEndpoint(t *testing.T) {
	e := newEnv(t, Config{MaxBatchEvents: 1000})
	s := &policySim{e: e, w: policysim.Standard(), r: rand.New(rand.NewPCG(1, 2))}
	s.run("pol-a", 10000)

	w := e.do("GET", "/api/v1/experiments/pol-a/policy?features=rfm_segment,channel", e.analyst, nil)
	wantStatus(t, w, 200)
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"experiment", "currency", "rules", "value", "best_single", "gain_over_best_single", "spend", "curve"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	out := s.policy("pol-a", "")
	if out.Currency != "USD" || out.Horizon != "attribution_window" || out.Experiment != "pol-a" {
		t.Errorf("experiment %q currency %q horizon %q", out.Experiment, out.Currency, out.Horizon)
	}
	for c := range s.w.Cells {
		if arm, gap := s.w.Best(c); gap > policysim.StandardMargin {
			if got := ruleArm(t, s.w, out.Output, c); got != arm {
				t.Errorf("cell %v: rule %s, planted best %s", s.w.Cells[c].Values, s.w.Arms[got], s.w.Arms[arm])
			}
		}
	}
	if r := out.Rules[0]; r.Units <= 0 || len(r.Arms) != 2 || r.Segment["rfm_segment"] == "" {
		t.Errorf("rule %+v", r)
	}
	if out.Curve[0] != (policy.CurvePoint{}) || math.Abs(out.Curve[len(out.Curve)-1].Share-1) > 1e-12 {
		t.Errorf("curve from %v to %v", out.Curve[0], out.Curve[len(out.Curve)-1])
	}

	t.Run("format=input is the CLI's input", func(t *testing.T) {
		w := e.do("GET", "/api/v1/experiments/pol-a/policy?features=rfm_segment,channel&format=input", e.analyst, nil)
		wantStatus(t, w, 200)
		in, err := policy.DecodeInput(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := policy.Learn(in)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(cli)
		b, _ := json.Marshal(out.Output)
		if string(a) != string(b) {
			t.Errorf("promolift policy on format=input differs from the endpoint:\n%s\n%s", a, b)
		}
	})

	t.Run("budget", func(t *testing.T) {
		budget := int64(out.Spend / 2)
		bo := s.policy("pol-a", "&budget="+strconv.FormatInt(budget, 10))
		if bo.Spend > float64(budget) || bo.Lambda <= 0 || *bo.Budget != float64(budget) {
			t.Errorf("spend %.0f over budget %d (lambda %g)", bo.Spend, budget, bo.Lambda)
		}
		if bo.Value.Estimate >= out.Value.Estimate+3*out.Value.SE {
			t.Errorf("the budget raised the value: %v vs %v", bo.Value, out.Value)
		}
	})

	t.Run("30-day horizon and conversion", func(t *testing.T) {
		h := s.policy("pol-a", "&horizon_days=30&metric=conversion")
		if h.Horizon != "30d" || h.Metric != "conversion" || h.Value.Estimate <= 0 {
			t.Errorf("horizon %s metric %s value %v", h.Horizon, h.Metric, h.Value)
		}
	})

	t.Run("errors", func(t *testing.T) {
		p := problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy?features=a,a&budget=x&metric=profit&horizon_days=999&folds=1&units=-3", e.analyst, nil), 400)
		got := map[string]bool{}
		for _, fe := range p.Errors {
			got[fe.Field] = true
		}
		for _, f := range []string{"features", "budget", "metric", "horizon_days", "folds", "units"} {
			if !got[f] {
				t.Errorf("no error for %s: %+v", f, p.Errors)
			}
		}
		problem(t, e.do("GET", "/api/v1/experiments/nope/policy", e.analyst, nil), 404)
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy", e.sdk, nil), 403)
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy", "", nil), 401)
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy?format=xml", e.analyst, nil), 400)
		if w := e.do("GET", "/api/v1/experiments/pol-a/policy", e.admin, nil); w.Code != http.StatusOK {
			t.Errorf("admin: %d", w.Code)
		}
	})
}
