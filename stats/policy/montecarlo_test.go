package policy_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/promolift/promolift/stats/policy"
	"github.com/promolift/promolift/stats/policy/policysim"
)

// mcRuns is the number of simulated tests of the Monte Carlo checks:
// PROMOLIFT_POLICY_RUNS, else 1000 (400 with -short).
func mcRuns(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("PROMOLIFT_POLICY_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PROMOLIFT_POLICY_RUNS=%q", s)
		}
		return n
	}
	if testing.Short() {
		return 300
	}
	return 1000
}

// TestMonteCarlo simulates tests of policysim.Standard and checks, over
// the runs: the learned rule is the planted best arm in every cell whose
// planted gap exceeds StandardMargin in ≥ 95% of the runs; the 95% CI of
// the policy value covers the planted value of the policies it values (the
// fold policies, Σ_k share_k·V(π_k), what cross-fitting estimates) in
// 93–97% of the runs, and logs its coverage of the planted best policy's
// value (a fold policy learned on 4/5 of the units misses a clear cell now
// and then: about 94.5% at 12,000 units against 94.9%); the gain CI covers
// the planted gain of the fold policies over the planted best single
// promotion in 93–97% (the fold policies differ from the planted best one
// in the cells below the margin, a difference the gain, smaller and more
// precise than the value, notices: against the planted best policy it
// covers about 92.5%).
func TestMonteCarlo(t *testing.T) {
	w := policysim.Standard()
	const units, folds = 10000, 5
	best := make([]int, len(w.Cells))
	for c := range w.Cells {
		best[c], _ = w.Best(c)
	}
	planted := w.Value(best)
	// The planted best single promotion.
	bestSingle, bsValue := 0, math.Inf(-1)
	for a := 1; a < len(w.Arms); a++ {
		all := make([]int, len(w.Cells))
		for c := range all {
			all[c] = a
		}
		if v := w.Value(all); v > bsValue {
			bestSingle, bsValue = a, v
		}
	}
	runs := mcRuns(t)
	r := rand.New(rand.NewPCG(7, 11))
	var rulesOK, covered, bestCovered, gainCovered, gainPlanted, singleOK int
	for run := 0; run < runs; run++ {
		in := w.Input(r, units, folds)
		out, err := policy.Learn(in)
		if err != nil || out.Error != "" {
			t.Fatalf("run %d: %v %s", run, err, out.Error)
		}
		ok := true
		for c := range w.Cells {
			arm, gap := w.Best(c)
			if gap > policysim.StandardMargin && ruleOf(t, out, w, c) != w.Arms[arm] {
				ok = false
			}
		}
		if ok {
			rulesOK++
		}
		if out.Value.CI[0] <= planted && planted <= out.Value.CI[1] {
			bestCovered++
		}
		folds := crossFitted(t, w, in)
		if out.Value.CI[0] <= folds && folds <= out.Value.CI[1] {
			covered++
		}
		if g := planted - bsValue; out.GainOverBestSingle.CI[0] <= g && g <= out.GainOverBestSingle.CI[1] {
			gainPlanted++
		}
		if g := folds - bsValue; out.GainOverBestSingle.CI[0] <= g && g <= out.GainOverBestSingle.CI[1] {
			gainCovered++
		}
		if out.BestSingle.Variant == w.Arms[bestSingle] {
			singleOK++
		}
	}
	t.Logf("%d runs: rules right %d, value CI covers %d (the planted best policy's value: %d), gain CI covers %d (the planted best policy's gain: %d), best single right %d (planted value %.1f, gain %.1f)",
		runs, rulesOK, covered, bestCovered, gainCovered, gainPlanted, singleOK, planted, planted-bsValue)
	if f := float64(rulesOK) / float64(runs); f < 0.95 {
		t.Errorf("rules right in %.3f of the runs, want ≥ 0.95", f)
	}
	lo, hi := coverageBand(runs)
	for _, c := range []struct {
		name string
		n    int
	}{{"value", covered}, {"gain", gainCovered}} {
		if f := float64(c.n) / float64(runs); f < lo || f > hi {
			t.Errorf("%s CI coverage %.3f, want in [%.3f, %.3f]", c.name, f, lo, hi)
		}
	}
}

// coverageBand is the accepted coverage of a 95% CI over runs: 93–97%,
// widened to 95% ± 3.5 binomial standard errors when that is wider (few
// runs).
func coverageBand(runs int) (float64, float64) {
	se := math.Sqrt(0.95 * 0.05 / float64(runs))
	return math.Min(0.93, 0.95-3.5*se), math.Max(0.97, 0.95+3.5*se)
}

func ruleOf(t *testing.T, out *policy.Output, w *policysim.World, c int) string {
	t.Helper()
	seg := w.Segment(c)
	for _, r := range out.Rules {
		match := true
		for k, v := range seg {
			if r.Segment[k] != v {
				match = false
			}
		}
		if match {
			return r.Variant
		}
	}
	t.Fatalf("no rule for %v", seg)
	return ""
}

// TestMonteCarloBudget: under a budget that binds (half the planted best
// policy's spend), the learned policy's planted spend per unit stays within
// the budget plus one cell's switch (the Lagrangian policy is integral),
// and the value and gain CIs (with the bootstrap's SE) cover the planted
// value and gain of what they estimate, Σ_k share_k·V(π_k) of the fold
// policies (and minus Σ_k share_k·V(b_k) of the fold best single
// promotions), in 95% ± 3 binomial SE of the runs (92.9–97.1% for the
// 1000 runs of make test, 93.5–96.5% for make test-policy-sim's 2000).
// With the fixed-policy SE the value CI covered 90.9% (4,000 runs) and
// this test failed.
func TestMonteCarloBudget(t *testing.T) {
	w := policysim.Standard()
	const units, folds = 8000, 5
	best := make([]int, len(w.Cells))
	var unconstrained float64
	for c := range w.Cells {
		best[c], _ = w.Best(c)
		unconstrained += w.Cells[c].Share * w.Spend(c, best[c])
	}
	budgetPerUnit := unconstrained / 2
	// One cell's switch: the largest spend per unit of a cell's arm times
	// its share.
	var slack float64
	for c := range w.Cells {
		for a := range w.Arms {
			slack = math.Max(slack, w.Cells[c].Share*w.Spend(c, a))
		}
	}
	runs := mcRuns(t)
	r := rand.New(rand.NewPCG(13, 17))
	var over, covered, gainCovered, boot int
	for run := 0; run < runs; run++ {
		in := w.Input(r, units, folds)
		b := budgetPerUnit * units
		in.Budget = &b
		out, err := policy.Learn(in)
		if err != nil || out.Error != "" {
			t.Fatalf("run %d: %v %s", run, err, out.Error)
		}
		arm := make([]int, len(w.Cells))
		var spend float64
		for c := range w.Cells {
			v := ruleOf(t, out, w, c)
			for a, k := range w.Arms {
				if k == v {
					arm[c] = a
				}
			}
			spend += w.Cells[c].Share * w.Spend(c, arm[c])
		}
		if spend > budgetPerUnit+slack {
			over++
		}
		if out.SpendPerUnit > budgetPerUnit*(1+1e-12) && !contains(out.Warnings, policy.WarnBudgetInfeas) {
			t.Fatalf("run %d: estimated spend %.2f over the budget %.2f", run, out.SpendPerUnit, budgetPerUnit)
		}
		if v := crossFitted(t, w, in); out.Value.CI[0] <= v && v <= out.Value.CI[1] {
			covered++
		}
		if g := crossFittedGain(t, w, in); out.GainOverBestSingle.CI[0] <= g && g <= out.GainOverBestSingle.CI[1] {
			gainCovered++
		}
		if out.Bootstrap > 0 {
			boot++
		}
	}
	t.Logf("%d runs: planted spend over budget+one cell %d, bootstrap SE in %d, value CI covers the fold policies' planted value %d, gain CI their planted gain %d",
		runs, over, boot, covered, gainCovered)
	if over > 0 {
		t.Errorf("the planted spend exceeded the budget by more than one cell's switch in %d runs", over)
	}
	se := math.Sqrt(0.95 * 0.05 / float64(runs))
	lo, hi := 0.95-3*se, 0.95+3*se
	for _, c := range []struct {
		name string
		n    int
	}{{"value", covered}, {"gain", gainCovered}} {
		if f := float64(c.n) / float64(runs); f < lo || f > hi {
			t.Errorf("%s CI coverage %.3f, want in [%.3f, %.3f] (95%% ± 3 binomial SE)", c.name, f, lo, hi)
		}
	}
}

// TestMonteCarloWithheld: ten_off's budget ran out after a fifth of the
// units had arrived, and its later units are missing from the data (they
// got control with reason budget_exhausted and no exposure). The value CI
// still covers the planted value of the fold policies in 93–97% of the
// runs (the band widened for few runs, as everywhere here), because the estimator weighs by the arms' shares of the units
// analysed; with the design weights it covered about 86.5% (4,000 runs at
// 12,000 units), its augmentation no longer cancelling the outcome
// model's error. Every run warns that the shares differ from the design.
// A quarter of the Monte Carlo runs (250; make test-policy-sim: 500).
func TestMonteCarloWithheld(t *testing.T) {
	w := policysim.Standard()
	const units, folds, after = 12000, 5, 0.2
	runs := mcRuns(t) / 4
	r := rand.New(rand.NewPCG(19, 23))
	var covered int
	for run := 0; run < runs; run++ {
		in := w.InputWithheld(r, units, folds, 1, after)
		out, err := policy.Learn(in)
		if err != nil || out.Error != "" {
			t.Fatalf("run %d: %v %s", run, err, out.Error)
		}
		if !contains(out.Warnings, policy.WarnArmShares) {
			t.Fatalf("run %d: warnings %v, want %s", run, out.Warnings, policy.WarnArmShares)
		}
		if v := crossFitted(t, w, in); out.Value.CI[0] <= v && v <= out.Value.CI[1] {
			covered++
		}
	}
	t.Logf("%d runs: value CI covers the fold policies' planted value in %d", runs, covered)
	lo, hi := coverageBand(runs)
	if f := float64(covered) / float64(runs); f < lo || f > hi {
		t.Errorf("value CI coverage %.3f, want in [%.3f, %.3f]", f, lo, hi)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// crossFittedGain is the planted gain of the fold policies of in over the
// fold best single promotions, Σ_k share_k·(V(π_k) − V(b_k)).
func crossFittedGain(t *testing.T, w *policysim.World, in policy.Input) float64 {
	t.Helper()
	shares, _, single := policy.FoldPolicies(in)
	var s float64
	for k, key := range single {
		all := make([]int, len(w.Cells))
		for a, name := range w.Arms {
			if name == key {
				for c := range all {
					all[c] = a
				}
			}
		}
		s += shares[k] * w.Value(all)
	}
	return crossFitted(t, w, in) - s
}

// crossFitted is the planted value of the fold policies of in,
// Σ_k share_k·V(π_k).
func crossFitted(t *testing.T, w *policysim.World, in policy.Input) float64 {
	t.Helper()
	shares, rules, _ := policy.FoldPolicies(in)
	var v float64
	for k, rs := range rules {
		out := &policy.Output{Rules: rs}
		arm := make([]int, len(w.Cells))
		for c := range w.Cells {
			name := ruleOf(t, out, w, c)
			for a, key := range w.Arms {
				if key == name {
					arm[c] = a
				}
			}
		}
		v += shares[k] * w.Value(arm)
	}
	return v
}
