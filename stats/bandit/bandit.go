// Package bandit holds the statistics of an adaptive (bandit) promotion
// test on net revenue per unit: Thompson-sampling weights with a minimum
// weight per arm, the pacing of a promotion budget over the flight, and the
// per-period weighted estimate that stays unbiased while the weights
// change. Pure: standard library and gonum only, no I/O.
//
// # Thompson sampling weights
//
// After each period, arm a's mean net revenue per unit has the (flat-prior,
// normal) posterior N(m_a, s²_a/n_a) over every unit assigned to it so far.
// Thompson sampling gives each arm the probability that it is the best,
//
//	P_a = ∫ φ((x − m_a)/σ_a)/σ_a · Π_{b≠a} Φ((x − m_b)/σ_b) dx,   σ_a = s_a/√n_a,
//
// computed by Simpson's rule on m_a ± 10σ_a (exact, not sampled, so the
// weights are reproducible). ProbBestPeriodWeighted takes the posterior
// from the per-period weighted means instead (see Per-period weighting),
// over the periods where every arm has at least 2 units, so that weights
// that moved while the baseline drifted do not bias the sampling. The next period's weights are P floored at the
// minimum weight w_min and renormalized: w_a = max(P_a, w_min) scaled so that
// the arms above the floor share 1 − (arms at the floor)·w_min. Until every
// arm has MinUnits units, the weights stay equal.
//
// # Budget pacing
//
// With a budget B over a flight of length T, the pacing line is
// L(t) = B·t/T. Before a period (t, t+Δ) with expected traffic U units and
// spend per unit κ_a, the period may spend at most L(t+Δ) − S (S spent so
// far). When Σ_a w_a κ_a · U exceeds it, the promotion arms' weights are
// scaled by f = (L(t+Δ) − S)/(U·Σ_a w_a κ_a) and control (arm 0, no spend)
// takes the rest; f is floored at 0.
//
// # Per-period weighting
//
// Weights change between periods and so may the customers, so pooling all
// units by arm is biased (an arm that got more weight in a better period
// looks better). Within a period the weights are fixed, so the arm means of
// the period are unbiased for that period; the estimate of arm a is
//
//	M_a = Σ_p (N_p/N)·ȳ_{a,p},   Var(M_a) = Σ_p (N_p/N)²·s²_{a,p}/n_{a,p},
//
// N_p the units of period p, over the periods where the arm and control
// each have at least 2 units (N = Σ N_p over them), and the effect of arm a
// is M_a − M_0 with the sum of the variances (GrowthBook's bandit analysis
// weights periods the same way). PeriodWeightedMean is M_a alone, over the
// periods where arm a has at least 2 units.
package bandit

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// MinUnits is the number of units every arm needs before Thompson
// sampling moves the weights.
const MinUnits = 30

// Arm are the sufficient statistics of one arm: units, Σy, Σy².
type Arm struct {
	N, Sum, SumSquares float64
}

func (a Arm) mean() float64 {
	if a.N == 0 {
		return 0
	}
	return a.Sum / a.N
}

func (a Arm) variance() float64 {
	if a.N < 2 {
		return 0
	}
	return math.Max((a.SumSquares-a.Sum*a.Sum/a.N)/(a.N-1), 0)
}

// ProbBest returns each arm's posterior probability of the largest mean
// (see the package documentation); equal shares until every arm has
// MinUnits units.
func ProbBest(arms []Arm) []float64 {
	k := len(arms)
	if k == 0 {
		return []float64{}
	}
	for _, a := range arms {
		if a.N < MinUnits {
			return equalShares(k)
		}
	}
	mu := make([]float64, k)
	sd := make([]float64, k)
	for i, a := range arms {
		mu[i] = a.mean()
		sd[i] = math.Sqrt(a.variance() / a.N)
	}
	return ProbBestNormal(mu, sd)
}

// ProbBestPeriodWeighted is ProbBest on the per-period weighted posterior:
// arm a's mean is N(M_a, Var(M_a)) with M_a = Σ_p (N_p/N)·ȳ_{a,p} and
// Var(M_a) = Σ_p (N_p/N)²·s²_{a,p}/n_{a,p} over the periods where every arm
// has at least 2 units (N = Σ N_p over them), so that an arm that got its
// weight in periods with a higher baseline does not look better for it.
// Equal shares until every arm has MinUnits units in those periods.
func ProbBestPeriodWeighted(periods [][]Arm) []float64 {
	if len(periods) == 0 {
		return nil
	}
	k := len(periods[0])
	var used [][]Arm
	var n float64
	total := make([]float64, k)
	for _, ps := range periods {
		ok := true
		for _, a := range ps {
			ok = ok && a.N >= 2
		}
		if ok {
			used = append(used, ps)
			n += periodUnits(ps)
			for i, a := range ps {
				total[i] += a.N
			}
		}
	}
	for _, t := range total {
		if t < MinUnits {
			return equalShares(k)
		}
	}
	mu := make([]float64, k)
	sd := make([]float64, k)
	for _, ps := range used {
		wp := periodUnits(ps) / n
		for i, a := range ps {
			mu[i] += wp * a.mean()
			sd[i] += wp * wp * a.variance() / a.N
		}
	}
	for i := range sd {
		sd[i] = math.Sqrt(sd[i])
	}
	return ProbBestNormal(mu, sd)
}

// ProbBestNormal returns, for independent normal posteriors N(mu_a,
// sd_a²), each arm's probability of the largest value (see the package
// documentation), by Simpson's rule.
func ProbBestNormal(mu, sd []float64) []float64 {
	k := len(mu)
	out := make([]float64, k)
	sd = append([]float64{}, sd...)
	for i := range sd {
		if sd[i] == 0 {
			sd[i] = 1e-9 * (math.Abs(mu[i]) + 1)
		}
	}
	const steps = 4000 // even
	var total float64
	for i := range mu {
		lo, hi := mu[i]-10*sd[i], mu[i]+10*sd[i]
		h := (hi - lo) / steps
		f := func(x float64) float64 {
			v := distuv.UnitNormal.Prob((x-mu[i])/sd[i]) / sd[i]
			for j := range mu {
				if j != i {
					v *= distuv.UnitNormal.CDF((x - mu[j]) / sd[j])
				}
			}
			return v
		}
		s := f(lo) + f(hi)
		for n := 1; n < steps; n++ {
			w := 2.0
			if n%2 == 1 {
				w = 4
			}
			s += w * f(lo+float64(n)*h)
		}
		out[i] = s * h / 3
		total += out[i]
	}
	if total > 0 {
		for i := range out {
			out[i] /= total
		}
	}
	return out
}

// Floor returns p with every weight at least min (0 ≤ min ≤ 1/len(p)),
// renormalized to sum to 1 (see the package documentation).
func Floor(p []float64, min float64) []float64 {
	w := append([]float64{}, p...)
	floored := make([]bool, len(w))
	for {
		var fixed, rest float64
		nf := 0
		for i := range w {
			if floored[i] {
				nf++
			} else {
				rest += w[i]
			}
		}
		fixed = float64(nf) * min
		changed := false
		for i := range w {
			if floored[i] {
				w[i] = min
				continue
			}
			if rest > 0 {
				w[i] = w[i] / rest * (1 - fixed)
			} else {
				w[i] = (1 - fixed) / float64(len(w)-nf)
			}
			if w[i] < min {
				floored[i], changed = true, true
			}
		}
		if !changed {
			return w
		}
	}
}

// Pace scales the promotion arms' weights w (arm 0 is control, no spend)
// so that the expected spend of the next period, units × Σ w_a·kappa_a,
// stays within allowed = L(t+Δ) − spent (see the package documentation).
// It returns the new weights and the factor f applied (1: unchanged).
func Pace(w, kappa []float64, units, allowed float64) ([]float64, float64) {
	var per float64
	for a := 1; a < len(w); a++ {
		per += w[a] * kappa[a]
	}
	out := append([]float64{}, w...)
	if per*units <= allowed || per <= 0 || units <= 0 {
		return out, 1
	}
	f := math.Max(allowed, 0) / (per * units)
	var promo float64
	for a := 1; a < len(out); a++ {
		out[a] *= f
		promo += out[a]
	}
	out[0] = 1 - promo
	return out, f
}

// Effect is an arm's per-period weighted effect against control.
type Effect struct {
	Estimate, SE float64
	CI           [2]float64
	// Periods counts the periods used.
	Periods int
}

// PeriodWeighted returns the per-period weighted effect of arm a against
// arm 0; periods[p][arm] are the statistics of one period. z is the
// normal quantile of the CI (1.96 for 95%).
func PeriodWeighted(periods [][]Arm, a int, z float64) Effect {
	var n float64
	var used []int
	for p, ps := range periods {
		if ps[a].N >= 2 && ps[0].N >= 2 {
			used = append(used, p)
			n += periodUnits(ps)
		}
	}
	var e Effect
	if n == 0 {
		return e
	}
	var v float64
	for _, p := range used {
		wp := periodUnits(periods[p]) / n
		t, c := periods[p][a], periods[p][0]
		e.Estimate += wp * (t.mean() - c.mean())
		v += wp * wp * (t.variance()/t.N + c.variance()/c.N)
	}
	e.SE = math.Sqrt(v)
	e.CI = [2]float64{e.Estimate - z*e.SE, e.Estimate + z*e.SE}
	e.Periods = len(used)
	return e
}

// PeriodWeightedMean returns the per-period weighted mean of arm a,
// M_a = Σ_p (N_p/N)·ȳ_{a,p} with Var = Σ_p (N_p/N)²·s²_{a,p}/n_{a,p}, over
// the periods where the arm has at least 2 units (N = Σ N_p over them).
func PeriodWeightedMean(periods [][]Arm, a int, z float64) Effect {
	var e Effect
	var n float64
	for _, ps := range periods {
		if ps[a].N >= 2 {
			n += periodUnits(ps)
		}
	}
	if n == 0 {
		return e
	}
	var v float64
	for _, ps := range periods {
		if ps[a].N < 2 {
			continue
		}
		wp := periodUnits(ps) / n
		e.Estimate += wp * ps[a].mean()
		v += wp * wp * ps[a].variance() / ps[a].N
		e.Periods++
	}
	e.SE = math.Sqrt(v)
	e.CI = [2]float64{e.Estimate - z*e.SE, e.Estimate + z*e.SE}
	return e
}

func periodUnits(ps []Arm) float64 {
	var n float64
	for _, s := range ps {
		n += s.N
	}
	return n
}

// equalShares is 1/k for each of k arms: the answer before the data say
// anything.
func equalShares(k int) []float64 {
	out := make([]float64, k)
	for i := range out {
		out[i] = 1 / float64(k)
	}
	return out
}
