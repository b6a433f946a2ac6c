package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
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
	// sent are the statistics of the last run's units as sent, by cell,
	// arm and fold (experiments.PolicyFold of the unit ID, K = 5).
	sent map[string]*policy.CellStats
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
	s.draw(key, n, func(unit []simEvent) {
		batch = append(batch, unit...)
		if len(batch) >= 900 {
			flush()
		}
	})
	flush()
}

// draw draws the n units of experiment key (cell, arm, purchase), passes
// each unit's events to send and keeps their statistics in s.sent, by
// cell, arm and fold (experiments.PolicyFold of the unit ID, as the
// stores compute it).
func (s *policySim) draw(key string, n int, send func([]simEvent)) {
	at := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	s.sent = map[string]*policy.CellStats{}
	for i := 0; i < n; i++ {
		c, a := s.w.DrawCell(s.r), s.w.DrawArm(s.r)
		unit := fmt.Sprintf("%s-u%d", key, i)
		fold := experiments.PolicyFold(unit, experiments.DefaultPolicyFolds)
		sk := fmt.Sprint(c, a, fold)
		st := s.sent[sk]
		if st == nil {
			st = &policy.CellStats{Segment: s.w.Segment(c), Variant: s.w.Arms[a], Fold: fold}
			s.sent[sk] = st
		}
		st.Units++
		attrs := s.w.Segment(c)
		channel := attrs["channel"]
		delete(attrs, "channel")
		events := []simEvent{{ID: unit + "-x", Type: "exposure", Experiment: key, Variant: s.w.Arms[a],
			Unit: unit, Timestamp: at, Attributes: attrs, Channel: channel}}
		if bought, rev, cost := s.w.Outcome(s.r, c, a); bought {
			events = append(events, simEvent{ID: unit + "-p", Type: "conversion", Name: "purchase", Unit: unit,
				Timestamp: at.Add(time.Hour), Revenue: rev, PromotionCost: &cost, Currency: "USD"})
			y := float64(rev - cost)
			st.Sum += y
			st.SumSquares += y * y
			st.Converted++
			st.Cost += float64(cost)
		}
		send(events)
	}
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
		// The store's statistics are those of the units as sent.
		if len(in.Cells) != len(s.sent) {
			t.Errorf("%d cells, %d sent", len(in.Cells), len(s.sent))
		}
		for _, c := range in.Cells {
			var sent *policy.CellStats
			for _, st := range s.sent {
				if reflect.DeepEqual(st.Segment, c.Segment) && st.Variant == c.Variant && st.Fold == c.Fold {
					sent = st
				}
			}
			if sent == nil || !reflect.DeepEqual(*sent, c) {
				t.Errorf("cell %+v, sent %+v", c, sent)
			}
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
	})

	t.Run("features exposures do not keep", func(t *testing.T) {
		p := problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy?features=rfm_segment,zip,channel,favourite_color", e.analyst, nil), 400)
		var msgs []string
		for _, fe := range p.Errors {
			if fe.Field != "features" {
				t.Errorf("error on %s, want features: %+v", fe.Field, fe)
			}
			msgs = append(msgs, fe.Detail)
		}
		all := strings.Join(msgs, "\n")
		if len(msgs) != 2 || !strings.Contains(all, `"zip"`) || !strings.Contains(all, `"favourite_color"`) {
			t.Errorf("want one error for each of zip and favourite_color, got %q", msgs)
		}
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy", e.sdk, nil), 403)
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy", "", nil), 401)
		problem(t, e.do("GET", "/api/v1/experiments/pol-a/policy?format=xml", e.analyst, nil), 400)
		if w := e.do("GET", "/api/v1/experiments/pol-a/policy", e.admin, nil); w.Code != http.StatusOK {
			t.Errorf("admin: %d", w.Code)
		}
	})

	t.Run("follow-up", func(t *testing.T) {
		p := problem(t, e.do("POST", "/api/v1/experiments/pol-a/policy/experiment", e.admin,
			map[string]any{"metric": "x", "horizon_days": 999, "budget": -1}), 400)
		got := map[string]bool{}
		for _, fe := range p.Errors {
			got[fe.Field] = true
		}
		for _, f := range []string{"metric", "horizon_days", "budget"} {
			if !got[f] {
				t.Errorf("no error for %s: %+v", f, p.Errors)
			}
		}
		problem(t, e.do("POST", "/api/v1/experiments/pol-a/policy/experiment", e.analyst, nil), 403)
		problem(t, e.do("POST", "/api/v1/experiments/nope/policy/experiment", e.admin, nil), 404)
		w := e.do("POST", "/api/v1/experiments/pol-a/policy/experiment", e.admin, nil)
		wantStatus(t, w, 201)
		var fu FollowUpResponse
		if err := json.Unmarshal(w.Body.Bytes(), &fu); err != nil {
			t.Fatal(err)
		}
		if fu.Experiment.Key != "pol-a-policy" || fu.Experiment.Status != "draft" || fu.Policy.BestSingle.Variant != "ten_off" ||
			fu.Experiment.Variants[1].Key != "ten_off" || fu.Experiment.Variants[0].Key != "control" {
			t.Errorf("follow-up %+v", fu.Experiment)
		}
		problem(t, e.do("POST", "/api/v1/experiments/pol-a/policy/experiment", e.admin, nil), 409)
	})
}

// simSeed is PROMOLIFT_POLICY_SIM_SEED, else 2026: another seed simulates
// other tests, to add runs to a measurement.
func simSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("PROMOLIFT_POLICY_SIM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PROMOLIFT_POLICY_SIM_SEED=%q", s)
		}
		return n
	}
	return 2026
}

// simRuns is PROMOLIFT_POLICY_SIM_RUNS, else def.
func simRuns(t *testing.T, def int) int {
	t.Helper()
	return simCount(t, "PROMOLIFT_POLICY_SIM_RUNS", def)
}

// simCount is the positive integer of the environment variable name, else
// def.
func simCount(t *testing.T, name string, def int) int {
	t.Helper()
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q", name, s)
		}
		return n
	}
	return def
}

// simResult is what one simulated test of TestPolicyLoop found.
type simResult struct {
	rulesOK bool // the rules of the cells beyond the margin are the planted best arms
	// covered, rulesCovered, bestCovered: the value CI covers the planted
	// value of the fold policies, of the learned rules, of the planted
	// best policy.
	covered, rulesCovered, bestCovered bool
	// sampleCovered: the CI covers the fold policies' planted value for
	// the cells the units fell in; z is (estimate − planted)/SE.
	sampleCovered bool
	z             float64
	live          bool // the follow-up ran live
	done          bool // the run ended
	// spent, budget, maxBatch: the live personalized arm's spend, its
	// budget and the largest spend of one batch of 100 units.
	spent, budget, maxBatch int64
}

// TestPolicyLoop is the simulator of issue 18: simulated tests of
// policysim.Standard (planted heterogeneous effects on conversion, order
// value and cost) driven through the API on SQLite: events in, policy out,
// the follow-up experiment created, started and run live through
// /api/v1/assign with its budget. Over the runs: the learned rule equals
// the planted best arm in every cell whose planted gap exceeds
// policysim.StandardMargin in ≥ 95% of the runs; the 95% CI of the value
// covers in 93–97% the planted value of the policies it values (the fold
// policies, each learned without its fold: foldPoliciesValue); the live
// personalized arm never spends more than its budget plus one batch of
// spend. The log also gives the CI's coverage of the planted value of the
// learned rules and of the planted best policy: a fold policy learned on
// 4/5 of the units misses a clear cell now and then, so those are about
// 0.4 points lower (94.4–94.6% against 94.6–95.1% in 20,000 simulated
// tests of the same data path without the server). Each test has 12,000
// units: with 8,000 the rules were right in only about 93% of the runs
// (the smallest planted gap, 485, is then about 2.7 standard errors of a
// segment's difference). make test runs 8 runs with wider bands (rules
// right in ≥ 7, value covered in ≥ 6); make test-policy-sim runs 1000
// (PROMOLIFT_POLICY_SIM_RUNS): with 200 even an exact 95% interval lands
// outside 93–97% in 14% of the seeds, with 400 in 5%, with 1000 in 0.2%.
//
// Run i draws from its own stream, PCG(seed, i) (seed:
// PROMOLIFT_POLICY_SIM_SEED), so a run's data do not depend on the runs
// before it nor on how the runs are spread over
// PROMOLIFT_POLICY_SIM_PARALLEL shards (default 1): each shard is a
// parallel subtest with its own server and database, running the runs
// i ≡ shard (mod shards), so the same seed and run count give the same
// counts at any parallelism. Every run's findings are logged as it ends.
// PROMOLIFT_POLICY_SIM_MINUTES, when set, is a stopping rule fixed before
// the runs: no run starts after that many minutes, and the checks judge
// the runs 0 … M−1 that all ended (M is logged), never a choice by result.
func TestPolicyLoop(t *testing.T) {
	runs := simRuns(t, 8)
	shards := simCount(t, "PROMOLIFT_POLICY_SIM_PARALLEL", 1)
	seed := simSeed(t)
	stopAt := time.Time{}
	if os.Getenv("PROMOLIFT_POLICY_SIM_MINUTES") != "" {
		stopAt = time.Now().Add(time.Duration(simCount(t, "PROMOLIFT_POLICY_SIM_MINUTES", 0)) * time.Minute)
	}
	const units = 12000
	w := policysim.Standard()
	planted := plantedBest(w)
	results := make([]simResult, runs)
	t.Run("shards", func(t *testing.T) {
		for p := range shards {
			t.Run(strconv.Itoa(p), func(t *testing.T) {
				if shards > 1 {
					t.Parallel()
				}
				s := &policySim{w: w}
				for i, run := 0, p; run < runs; i, run = i+1, run+shards {
					if i%20 == 0 {
						// A fresh database every 20 runs keeps each run's cost flat.
						s.e = newEnv(t, Config{MaxBatchEvents: 1000})
					}
					if !stopAt.IsZero() && time.Now().After(stopAt) {
						t.Logf("shard %d: the time limit stops it before run %d", p, run)
						return
					}
					s.r = rand.New(rand.NewPCG(seed, uint64(run)))
					r := s.simulate(t, run, units, planted)
					r.done = true
					results[run] = r
					t.Logf("run %d: rules right %t, value CI covers the fold policies %t, the learned rules %t, the planted best %t",
						run, r.rulesOK, r.covered, r.rulesCovered, r.bestCovered)
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	// The runs judged: all of them, or under the time limit the runs
	// before the first that did not end.
	if m := slices.IndexFunc(results, func(r simResult) bool { return !r.done }); m >= 0 {
		t.Logf("the time limit stopped the simulator after the first %d of %d runs", m, runs)
		results, runs = results[:m], m
		if m == 0 {
			t.Fatal("no run ended within the time limit")
		}
	}
	var rulesOK, covered, rulesCovered, bestCovered, liveRuns, overBudget, overBatch int
	var worst float64 // the largest overspend, in largest batches
	for _, r := range results {
		if r.spent > r.budget {
			overBudget++
			worst = max(worst, float64(r.spent-r.budget)/float64(r.maxBatch))
		}
		if r.spent > r.budget+r.maxBatch {
			overBatch++
		}
		rulesOK += b2i(r.rulesOK)
		covered += b2i(r.covered)
		rulesCovered += b2i(r.rulesCovered)
		bestCovered += b2i(r.bestCovered)
		liveRuns += b2i(r.live)
	}
	lo, hi := wilson(covered, runs)
	t.Logf("%d runs of %d units (seed %d): rules right in %d; the value CI covers the planted value of the fold policies in %d (%.1f%%, 95%% interval %.1f–%.1f%%), of the learned rules in %d, of the planted best policy (%.1f) in %d; %d live follow-ups: %d spent more than their budget (by at most %.2f of their largest batch), %d more than their budget plus one batch",
		runs, units, seed, rulesOK, covered, 100*float64(covered)/float64(runs), 100*lo, 100*hi, rulesCovered, planted, bestCovered,
		liveRuns, overBudget, worst, overBatch)
	rulesMin, covLo, covHi := 0.95, 0.93, 0.97
	if runs < 100 {
		rulesMin, covLo, covHi = float64(runs-1)/float64(runs), float64(runs-2)/float64(runs), 1
	}
	if f := float64(rulesOK) / float64(runs); f < rulesMin {
		t.Errorf("rules right in %.3f of the runs, want ≥ %.3f", f, rulesMin)
	}
	if f := float64(covered) / float64(runs); f < covLo || f > covHi {
		t.Errorf("value CI coverage %.3f, want in [%.3f, %.3f]", f, covLo, covHi)
	}
}

// plantedBest is the planted value of w's planted best policy.
func plantedBest(w *policysim.World) float64 {
	best := make([]int, len(w.Cells))
	for c := range w.Cells {
		best[c], _ = w.Best(c)
	}
	return w.Value(best)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// simulate runs simulated test number run through the API and judges its
// answer; every 10th test's follow-up runs live.
func (s *policySim) simulate(t *testing.T, run, units int, planted float64) simResult {
	t.Helper()
	key := fmt.Sprintf("sim-%d", run)
	s.run(key, units)
	out := s.policy(key, "")
	in := s.input()
	// The answer through the API is policy.Learn of the units as sent.
	if mem, err := policy.Learn(in); err != nil || mem.Value != out.Value {
		t.Fatalf("run %d: through the API %v, from the units sent %v (%v)", run, out.Value, mem.Value, err)
	}
	res := s.judge(t, out.Output, in, planted)
	if run%10 == 0 {
		res.live = true
		res.spent, res.budget, res.maxBatch = s.live(t, key, out)
	}
	return res
}

// input is the policy input of the units in s.sent.
func (s *policySim) input() policy.Input {
	in := policy.Input{Features: s.w.Features, Folds: experiments.DefaultPolicyFolds}
	for _, c := range s.sent {
		in.Cells = append(in.Cells, *c)
	}
	for a, k := range s.w.Arms {
		in.Arms = append(in.Arms, policy.Arm{Key: k, Weight: s.w.Weights[a]})
	}
	return in
}

// judge compares the answer out for the units of in with the planted
// world (planted: the planted best policy's value).
func (s *policySim) judge(t *testing.T, out *policy.Output, in policy.Input, planted float64) simResult {
	t.Helper()
	w := s.w
	res := simResult{rulesOK: true}
	for c := range w.Cells {
		if arm, gap := w.Best(c); gap > policysim.StandardMargin && ruleArm(t, w, out, c) != arm {
			res.rulesOK = false
		}
	}
	in95 := func(v float64) bool { return out.Value.CI[0] <= v && v <= out.Value.CI[1] }
	target, sample := foldPoliciesValue(t, w, in)
	res.covered = in95(target)
	res.sampleCovered = in95(sample)
	res.z = (out.Value.Estimate - target) / out.Value.SE
	var learned []int
	for c := range w.Cells {
		learned = append(learned, ruleArm(t, w, out, c))
	}
	res.rulesCovered = in95(w.Value(learned))
	res.bestCovered = in95(planted)
	return res
}

// foldPoliciesValue is the planted value of the policies the cross-fitted
// value estimates, Σ_k share_k·V(π_k): π_k is the policy learned without
// fold k (policy.Learn of the other folds' cells) and share_k fold k's
// share of the units. sample is their planted value for the cells the
// units fell in, (1/N) Σ_k Σ_c n_{c,k}·τ_{c,π_k(c)}, instead of the
// planted shares of the cells.
func foldPoliciesValue(t *testing.T, w *policysim.World, in policy.Input) (value, sample float64) {
	t.Helper()
	var total float64
	for k := 0; k < in.Folds; k++ {
		train := in
		train.Cells = nil
		var nk float64
		nc := map[string]float64{} // units of fold k by cell
		for _, c := range in.Cells {
			if c.Fold == k {
				nk += c.Units
				nc[fmt.Sprint(c.Segment)] += c.Units
			} else {
				train.Cells = append(train.Cells, c)
			}
		}
		out, err := policy.Learn(train)
		if err != nil || out.Error != "" {
			t.Fatalf("fold %d: %v %s", k, err, out.Error)
		}
		arm := make([]int, len(w.Cells))
		for c := range w.Cells {
			arm[c] = ruleArm(t, w, out, c)
			sample += nc[fmt.Sprint(w.Segment(c))] * w.Effect(c, arm[c])
		}
		value += nk * w.Value(arm)
		total += nk
	}
	return value / total, sample / total
}

// TestPolicySimWithoutServer is TestPolicyLoop's data path without the
// server: the same draws from the same per-test streams, the same unit
// IDs hashed into folds as the stores do, money rounded to minor units,
// and policy.Learn of the units' statistics. Since the endpoint answers
// exactly policy.Learn of the units as sent (TestPolicyLoop checks it in
// every test), its test i finds what TestPolicyLoop's test i finds at the
// same seed, at a few milliseconds a test instead of seconds: it measures
// the coverage of the simulator's own data path over many tests
// (PROMOLIFT_POLICY_SIM_OFFLINE_RUNS, default 200; seed
// PROMOLIFT_POLICY_SIM_SEED). The value CI must cover the fold policies'
// planted value in 95% ± 3.5 binomial standard errors of the tests (at
// least 93–97%) and the rules be right in ≥ 95%. It logs the mean and sd
// of the error over the SE and the coverage of the planted value for the
// sample's own cells (finite population) instead of the planted shares.
func TestPolicySimWithoutServer(t *testing.T) {
	runs := simCount(t, "PROMOLIFT_POLICY_SIM_OFFLINE_RUNS", 200)
	seed := simSeed(t)
	const units = 12000
	w := policysim.Standard()
	planted := plantedBest(w)
	s := &policySim{w: w}
	var rulesOK, covered, sampleCovered int
	var zSum, zSquares float64
	for run := range runs {
		s.r = rand.New(rand.NewPCG(seed, uint64(run)))
		s.draw(fmt.Sprintf("sim-%d", run), units, func([]simEvent) {})
		in := s.input()
		out, err := policy.Learn(in)
		if err != nil || out.Error != "" || out.Bootstrap != 0 {
			t.Fatalf("run %d: %v %q (bootstrap %d)", run, err, out.Error, out.Bootstrap)
		}
		r := s.judge(t, out, in, planted)
		rulesOK += b2i(r.rulesOK)
		covered += b2i(r.covered)
		sampleCovered += b2i(r.sampleCovered)
		zSum += r.z
		zSquares += r.z * r.z
	}
	n := float64(runs)
	lo, hi := wilson(covered, runs)
	mean := zSum / n
	t.Logf("%d tests (seed %d): rules right in %d; the value CI covers the fold policies' planted value in %d (%.2f%%, 95%% interval %.2f–%.2f%%), their planted value for the sample's cells in %d; (estimate − planted)/SE: mean %.3f, sd %.3f",
		runs, seed, rulesOK, covered, 100*float64(covered)/n, 100*lo, 100*hi, sampleCovered, mean, math.Sqrt((zSquares-n*mean*mean)/(n-1)))
	se := math.Sqrt(0.95 * 0.05 / n)
	covLo, covHi := math.Min(0.93, 0.95-3.5*se), math.Max(0.97, 0.95+3.5*se)
	if f := float64(covered) / n; f < covLo || f > covHi {
		t.Errorf("value CI coverage %.3f, want in [%.3f, %.3f]", f, covLo, covHi)
	}
	if f := float64(rulesOK) / n; f < 0.95 {
		t.Errorf("rules right in %.3f of the tests, want ≥ 0.95", f)
	}
}

// wilson is the 95% Wilson score interval of the proportion k of n.
func wilson(k, n int) (float64, float64) {
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	mid := (p + z*z/(2*nf)) / (1 + z*z/nf)
	half := z / (1 + z*z/nf) * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	return mid - half, mid + half
}

// live creates the follow-up of experiment key with a budget, starts it,
// and sends live traffic through /api/v1/assign in batches of 100 units
// (the purchases of a batch are posted after it): the personalized arm
// applies the rule table of its flag value. The personalized arm's spend
// must stay within its budget plus the largest spend of one batch.
func (s *policySim) live(t *testing.T, key string, learned PolicyResponse) (spent, budget, maxBatch int64) {
	t.Helper()
	e := s.e
	// The budget, 45 per unit for 1000 planned units, binds the learned
	// policy; the live traffic is 1500 units, more than planned, so the
	// arms' budgets run out during the live run.
	const planned, liveUnits = 1000, 1500
	total := int64(45 * planned)
	w := e.do("POST", "/api/v1/experiments/"+key+"/policy/experiment", e.admin,
		map[string]any{"features": []string{"rfm_segment", "channel"}, "budget": total, "units": planned})
	wantStatus(t, w, 201)
	var fu FollowUpResponse
	if err := json.Unmarshal(w.Body.Bytes(), &fu); err != nil {
		t.Fatal(err)
	}
	x := fu.Experiment
	if x.Status != "draft" || len(x.Variants) != 3 || x.Variants[1].Key != learned.BestSingle.Variant ||
		x.Variants[2].Key != "personalized" || !x.Personalization {
		t.Fatalf("follow-up %+v", x)
	}
	persBudget := x.Variants[2].Promotion.Budget
	if persBudget != int64(math.Round(float64(total)*x.Variants[2].Weight)) {
		t.Fatalf("personalized budget %d", persBudget)
	}
	wantStatus(t, e.do("POST", "/api/v1/experiments/"+x.Key+"/start", e.admin, nil), 200)
	armOf := map[string]int{}
	for a, k := range s.w.Arms {
		armOf[k] = a
	}
	for b := 0; b < liveUnits/100; b++ {
		var batch []simEvent
		var batchSpend int64
		for i := 0; i < 100; i++ {
			c := s.w.DrawCell(s.r)
			unit := fmt.Sprintf("%s-live-%d-%d", key, b, i)
			seg := s.w.Segment(c)
			as := s.assign(x.Key, unit, seg)
			arm := armOf[as.Variant]
			if as.Variant == "personalized" {
				arm = armOf[ruleFor(t, as.Value, seg)]
			}
			bought, rev, cost := s.w.Outcome(s.r, c, arm)
			if !bought {
				continue
			}
			if as.Variant == "personalized" {
				batchSpend += cost
			}
			batch = append(batch, simEvent{ID: unit + "-p", Type: "conversion", Name: "purchase", Unit: unit,
				Revenue: rev, PromotionCost: &cost, Currency: "USD"})
		}
		if len(batch) > 0 {
			// The purchases follow the exposures the assignments logged.
			at := time.Now().UTC().Add(time.Second)
			for i := range batch {
				batch[i].Timestamp = at
			}
			wantStatus(t, e.do("POST", "/api/v1/events", e.sdk, map[string]any{"events": batch}), 200)
		}
		spent += batchSpend
		maxBatch = max(maxBatch, batchSpend)
	}
	if spent > persBudget+maxBatch {
		t.Errorf("%s: the personalized arm spent %d, over its budget %d plus one batch (%d)", x.Key, spent, persBudget, maxBatch)
	}
	if fu.Policy.Lambda <= 0 || fu.Policy.Spend > float64(total) {
		t.Errorf("%s: the follow-up's policy spends %.0f of %d (lambda %g)", x.Key, fu.Policy.Spend, total, fu.Policy.Lambda)
	}
	t.Logf("%s: the personalized arm spent %d of its budget %d (largest batch %d)", x.Key, spent, persBudget, maxBatch)
	return spent, persBudget, maxBatch
}

// assign assigns unit of cell seg to experiment key through
// /api/v1/assign (the server logs the exposure of an answer in the
// experiment).
func (s *policySim) assign(key, unit string, seg map[string]string) AssignmentDTO {
	t := s.e.t
	t.Helper()
	attrs := map[string]any{"rfm_segment": seg["rfm_segment"], "channel": seg["channel"]}
	w := s.e.do("POST", "/api/v1/assign", s.e.sdk, map[string]any{"unit_id": unit, "attributes": attrs, "experiments": []string{key}})
	wantStatus(t, w, 200)
	var res AssignResponse
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Assignments) != 1 {
		t.Fatalf("assign: %s", w.Body.String())
	}
	return res.Assignments[0]
}

// TestPolicyBudgetExhausted: a test whose ten_off budget runs out early,
// its customers assigned through /api/v1/assign and their purchases posted
// after each batch of 100. The customers of ten_off who came after the
// budget ran out got control with reason budget_exhausted: they are not
// in the policy's statistics (no exposure was logged, so they count in no
// arm, not as control), the arms' shares of the analysed customers then
// differ from the design weights, and the policy says so
// (arm_shares_differ_from_design; its value weighs by the shares).
func TestPolicyBudgetExhausted(t *testing.T) {
	e := newEnv(t, Config{MaxBatchEvents: 1000})
	s := &policySim{e: e, w: policysim.Standard(), r: rand.New(rand.NewPCG(5, 8))}
	def := s.experimentOf("pol-budget")
	// About 118 of spend per ten_off customer, 1000 of them: the budget
	// runs out after about a fifth of the customers.
	def["variants"].([]map[string]any)[1]["promotion"].(map[string]any)["budget"] = 25000
	wantStatus(t, e.do("POST", "/api/v1/experiments", e.admin, def), 201)
	wantStatus(t, e.do("POST", "/api/v1/experiments/pol-budget/start", e.admin, nil), 200)
	armOf := map[string]int{}
	for a, k := range s.w.Arms {
		armOf[k] = a
	}
	inExperiment := map[string]float64{}
	var exhausted int
	for b := 0; b < 30; b++ {
		var batch []simEvent
		for i := 0; i < 100; i++ {
			c := s.w.DrawCell(s.r)
			unit := fmt.Sprintf("pol-budget-%d-%d", b, i)
			as := s.assign("pol-budget", unit, s.w.Segment(c))
			switch {
			case as.InExperiment:
				inExperiment[as.Variant]++
			case as.Reason == experiments.ReasonBudgetExhausted:
				exhausted++
			default:
				t.Fatalf("%s: %+v", unit, as)
			}
			if bought, rev, cost := s.w.Outcome(s.r, c, armOf[as.Variant]); bought {
				batch = append(batch, simEvent{ID: unit + "-p", Type: "conversion", Name: "purchase", Unit: unit,
					Revenue: rev, PromotionCost: &cost, Currency: "USD", Timestamp: time.Now().UTC().Add(time.Second)})
			}
		}
		if len(batch) > 0 {
			wantStatus(t, e.do("POST", "/api/v1/events", e.sdk, map[string]any{"events": batch}), 200)
		}
	}
	if exhausted < 500 {
		t.Fatalf("%d customers got control for the spent budget, want the budget to run out early", exhausted)
	}
	w := e.do("GET", "/api/v1/experiments/pol-budget/policy?features=rfm_segment,channel&format=input", e.analyst, nil)
	wantStatus(t, w, 200)
	in, err := policy.DecodeInput(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]float64{}
	for _, c := range in.Cells {
		units[c.Variant] += c.Units
	}
	if !reflect.DeepEqual(units, inExperiment) {
		t.Errorf("units per arm in the policy's statistics %v, want those assigned in the experiment %v (%d budget-exhausted left out)",
			units, inExperiment, exhausted)
	}
	out := s.policy("pol-budget", "")
	if !slices.Contains(out.Warnings, policy.WarnArmShares) {
		t.Errorf("warnings %v, want %s", out.Warnings, policy.WarnArmShares)
	}
}

// ruleFor reads the rule table of a personalized arm's flag value and
// returns the variant of the cell seg.
func ruleFor(t *testing.T, value json.RawMessage, seg map[string]string) string {
	t.Helper()
	var doc struct {
		Policy struct {
			Rules []struct {
				Segment map[string]string `json:"segment"`
				Variant string            `json:"variant"`
			} `json:"rules"`
			Default string `json:"default"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(value, &doc); err != nil {
		t.Fatalf("flag value %s: %v", value, err)
	}
	for _, r := range doc.Policy.Rules {
		if reflect.DeepEqual(r.Segment, seg) {
			return r.Variant
		}
	}
	return doc.Policy.Default
}
