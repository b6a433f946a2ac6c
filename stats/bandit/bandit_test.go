package bandit

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

type checks struct {
	ProbBest []struct {
		Arms []struct {
			N          float64 `json:"n"`
			Sum        float64 `json:"sum"`
			SumSquares float64 `json:"sum_squares"`
		} `json:"arms"`
		ProbBest []float64 `json:"prob_best"`
	} `json:"prob_best"`
	PeriodWeighted struct {
		Periods [][]struct {
			N          float64 `json:"n"`
			Sum        float64 `json:"sum"`
			SumSquares float64 `json:"sum_squares"`
		} `json:"periods"`
		Estimate float64 `json:"estimate"`
		SE       float64 `json:"se"`
		Means    []struct {
			Estimate float64 `json:"estimate"`
			SE       float64 `json:"se"`
		} `json:"means"`
	} `json:"period_weighted"`
	ProbBestPeriodWeighted struct {
		Periods [][]struct {
			N          float64 `json:"n"`
			Sum        float64 `json:"sum"`
			SumSquares float64 `json:"sum_squares"`
		} `json:"periods"`
		ProbBest []float64 `json:"prob_best"`
	} `json:"prob_best_period_weighted"`
}

// TestChecks compares ProbBest and PeriodWeighted with the independent
// values of testdata/gen_checks.py (scipy quadrature; unit-level numpy).
func TestChecks(t *testing.T) {
	data, err := os.ReadFile("testdata/checks.json")
	if err != nil {
		t.Fatal(err)
	}
	var c checks
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	for i, pc := range c.ProbBest {
		arms := make([]Arm, len(pc.Arms))
		for j, a := range pc.Arms {
			arms[j] = Arm{a.N, a.Sum, a.SumSquares}
		}
		got := ProbBest(arms)
		for j, want := range pc.ProbBest {
			if math.Abs(got[j]-want) > 1e-9 {
				t.Errorf("case %d arm %d: P(best) %.12g, want %.12g", i, j, got[j], want)
			}
		}
	}
	var periods [][]Arm
	for _, p := range c.PeriodWeighted.Periods {
		var ps []Arm
		for _, a := range p {
			ps = append(ps, Arm{a.N, a.Sum, a.SumSquares})
		}
		periods = append(periods, ps)
	}
	e := PeriodWeighted(periods, 1, 1.96)
	if math.Abs(e.Estimate-c.PeriodWeighted.Estimate) > 1e-9 || math.Abs(e.SE-c.PeriodWeighted.SE) > 1e-9 || e.Periods != 3 {
		t.Errorf("period weighted %+v, want %.12g ± %.12g", e, c.PeriodWeighted.Estimate, c.PeriodWeighted.SE)
	}
	if len(c.PeriodWeighted.Means) != 2 {
		t.Fatalf("checks.json has %d means, want 2", len(c.PeriodWeighted.Means))
	}
	var pw [][]Arm
	for _, p := range c.ProbBestPeriodWeighted.Periods {
		var ps []Arm
		for _, a := range p {
			ps = append(ps, Arm{a.N, a.Sum, a.SumSquares})
		}
		pw = append(pw, ps)
	}
	got := ProbBestPeriodWeighted(pw)
	if len(got) != 3 || len(c.ProbBestPeriodWeighted.ProbBest) != 3 {
		t.Fatalf("ProbBestPeriodWeighted: %v, checks %v", got, c.ProbBestPeriodWeighted.ProbBest)
	}
	for a, want := range c.ProbBestPeriodWeighted.ProbBest {
		if math.Abs(got[a]-want) > 1e-9 {
			t.Errorf("per-period weighted P(best) of arm %d: %.12g, want %.12g", a, got[a], want)
		}
	}
	for a, want := range c.PeriodWeighted.Means {
		m := PeriodWeightedMean(periods, a, 1.96)
		if math.Abs(m.Estimate-want.Estimate) > 1e-9 || math.Abs(m.SE-want.SE) > 1e-9 || m.Periods != 3 {
			t.Errorf("arm %d: period weighted mean %+v, want %.12g ± %.12g", a, m, want.Estimate, want.SE)
		}
	}
}

func TestFloorAndPace(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []float64
		min  float64
		want []float64
	}{
		{"none below", []float64{0.5, 0.3, 0.2}, 0.1, []float64{0.5, 0.3, 0.2}},
		{"one floored", []float64{0.98, 0.02, 0}, 0.05, []float64{0.9, 0.05, 0.05}},
		{"cascade", []float64{0.9, 0.06, 0.04}, 0.1, []float64{0.8, 0.1, 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Floor(tc.p, tc.min)
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Fatalf("Floor(%v, %g) = %v, want %v", tc.p, tc.min, got, tc.want)
				}
			}
		})
	}
	// 1000 units at Σ w κ = 0.2·10 + 0.6·30 = 20 would spend 20000; 10000
	// are allowed: promotion weights halve, control takes the rest.
	w, f := Pace([]float64{0.2, 0.2, 0.6}, []float64{0, 10, 30}, 1000, 10000)
	if f != 0.5 || math.Abs(w[0]-0.6) > 1e-12 || w[1] != 0.1 || w[2] != 0.3 {
		t.Errorf("Pace: %v, %g", w, f)
	}
	if w, f := Pace([]float64{0.5, 0.5}, []float64{0, 10}, 100, 1000); f != 1 || w[1] != 0.5 {
		t.Errorf("Pace within budget: %v %g", w, f)
	}
}

// world is the bandit simulation: net revenue per unit of arm a in period
// p is base_p + tau_a + N(0, sd²); a unit of arm a costs kappa_a·E, E
// uniform on [0.5, 1.5].
type world struct {
	tau, kappa []float64
	base       []float64
	sd         float64
}

// simulate runs one flight of periods × units: Thompson weights (floored
// at minW) when bandit, else equal; with a budget, paced. It returns the
// total net revenue, the per-period statistics, and the worst relative gap
// between the spend and the pacing line after each period.
func (w *world) simulate(r *rand.Rand, units int, bandit bool, budget float64, minW float64) (float64, [][]Arm, float64) {
	k := len(w.tau)
	periods := len(w.base)
	cum := make([]Arm, k)
	var total, spent, worst float64
	var stats [][]Arm
	for p := 0; p < periods; p++ {
		wts := make([]float64, k)
		for a := range wts {
			wts[a] = 1 / float64(k)
		}
		if bandit {
			wts = Floor(ProbBest(cum), minW)
		}
		if budget > 0 {
			line := budget * float64(p+1) / float64(periods)
			wts, _ = Pace(wts, w.kappa, float64(units), line-spent)
		}
		ps := make([]Arm, k)
		for i := 0; i < units; i++ {
			u, a := r.Float64(), 0
			for a < k-1 && u >= wts[a] {
				u -= wts[a]
				a++
			}
			y := w.base[p] + w.tau[a] + w.sd*r.NormFloat64()
			ps[a].N++
			ps[a].Sum += y
			ps[a].SumSquares += y * y
			total += y
			spent += w.kappa[a] * (0.5 + r.Float64())
		}
		for a := range cum {
			cum[a].N += ps[a].N
			cum[a].Sum += ps[a].Sum
			cum[a].SumSquares += ps[a].SumSquares
		}
		stats = append(stats, ps)
		if budget > 0 {
			line := budget * float64(p+1) / float64(periods)
			worst = math.Max(worst, math.Abs(spent-line)/line)
		}
	}
	return total, stats, worst
}

// TestBanditSimulation: with the planted best arm clearly best, the
// bandit's cumulative net revenue beats a fixed equal split over the same
// traffic in every run; with a budget that binds, the spend stays within
// ±10% of the pacing line after every period; and the per-period weighted
// effect of the best arm is unbiased (mean error within 2 standard errors
// over the runs) while the naive pooled one, which ignores that the weights
// moved while the baseline drifted, is not.
func TestBanditSimulation(t *testing.T) {
	// The baseline rises over the flight while the bandit moves weight to
	// the best arm: pooling all its units by arm over-states its effect.
	base := make([]float64, 20)
	for p := range base {
		base[p] = 100 + 15*float64(p)
	}
	w := &world{tau: []float64{0, 20, 50}, kappa: []float64{0, 20, 40}, base: base, sd: 150}
	runs := 150
	if testing.Short() {
		runs = 50
	}
	r := rand.New(rand.NewPCG(3, 5))
	var wins int
	var worst float64
	var errW, errW2, errN, errN2 float64
	for run := 0; run < runs; run++ {
		banditTotal, stats, _ := w.simulate(r, 1000, true, 0, 0.05)
		equalTotal, _, _ := w.simulate(r, 1000, false, 0, 0)
		if banditTotal > equalTotal {
			wins++
		}
		e := PeriodWeighted(stats, 2, 1.96).Estimate - (w.tau[2] - w.tau[0])
		errW += e
		errW2 += e * e
		var pooled [3]Arm
		for _, ps := range stats {
			for a := range pooled {
				pooled[a].N += ps[a].N
				pooled[a].Sum += ps[a].Sum
			}
		}
		n := pooled[2].mean() - pooled[0].mean() - (w.tau[2] - w.tau[0])
		errN += n
		errN2 += n * n
	}
	// Pacing: unpaced demand is about (0+20+40)/3 = 20 per unit at first
	// and 40 once the bandit settles; the budget allows 12 per unit. The
	// periods have 4000 units, so that the assignment's own noise (a
	// multinomial count) stays well inside the ±10% band.
	for run := 0; run < runs/3; run++ {
		_, _, gap := w.simulate(r, 4000, true, 12*4000*float64(len(base)), 0.05)
		worst = math.Max(worst, gap)
	}
	fr := float64(runs)
	meanW, meanN := errW/fr, errN/fr
	seW := math.Sqrt((errW2/fr - meanW*meanW) / (fr - 1))
	seN := math.Sqrt((errN2/fr - meanN*meanN) / (fr - 1))
	t.Logf("%d runs: bandit beat the equal split %d times; per-period weighted error %.2f ± %.2f, pooled %.2f ± %.2f; worst gap to the pacing line %.3f",
		runs, wins, meanW, seW, meanN, seN, worst)
	if wins != runs {
		t.Errorf("the bandit beat the equal split in %d of %d runs", wins, runs)
	}
	if math.Abs(meanW) > 2*seW {
		t.Errorf("per-period weighted estimate biased: mean error %.3f, SE %.3f", meanW, seW)
	}
	if meanN < 2*seN {
		t.Errorf("the pooled estimate shows no bias (%.3f ± %.3f): the world does not test the weighting", meanN, seN)
	}
	if worst > 0.10 {
		t.Errorf("spend strayed %.1f%% from the pacing line", 100*worst)
	}
}
