package stats

import (
	"math"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mathext"
)

// Prior is a normal prior N(Mean, SD²) on the relative lift. The zero value
// (Proper false) is the improper flat prior.
type Prior struct {
	Proper bool
	Mean   float64
	SD     float64
}

// DefaultProperPriorSD is the standard deviation of the optional proper
// prior N(0, 0.3²) on the relative lift.
const DefaultProperPriorSD = 0.3

// Posterior summarises a Gaussian posterior N(Mean, SD²) of a lift:
// ChanceToWin = P(lift > 0), RiskControl = E[max(lift, 0)] (the expected
// loss of keeping control), RiskTreatment = E[max(−lift, 0)] (the expected
// loss of shipping the treatment) and the equal-tailed credible interval CI.
type Posterior struct {
	Mean          float64
	SD            float64
	ChanceToWin   float64
	RiskControl   float64
	RiskTreatment float64
	CI            [2]float64
}

// GaussianBayes combines an estimate L̂ with sampling variance V̂ and a prior
// N(μ0, σ0²) into the posterior
//
//	prec = 1/V̂ + 1/σ0²,  μ = (L̂/V̂ + μ0/σ0²)/prec,  sd = prec^(−½)
//
// (flat prior: μ = L̂, sd = √V̂) and returns ChanceToWin = Φ(μ/sd),
// RiskControl = sd·g(μ/sd), RiskTreatment = sd·g(−μ/sd) with
// g(z) = zΦ(z) + φ(z) (so RiskControl − RiskTreatment = μ), and
// CI = μ ± z_{1−α/2}·sd. V̂ ≤ 0 gives ChanceToWin 0.5, zero risks, CI [L̂,L̂]
// and ErrZeroVariance (GrowthBook's convention).
func GaussianBayes(est, variance float64, prior Prior, alpha float64) (Posterior, error) {
	if !(variance > 0) || !finite(variance) || !finite(est) {
		return Posterior{Mean: est, ChanceToWin: 0.5, CI: [2]float64{est, est}}, ErrZeroVariance
	}
	mu, prec := est, 1/variance
	if prior.Proper && prior.SD > 0 {
		p0 := 1 / (prior.SD * prior.SD)
		prec += p0
		mu = (est/variance + prior.Mean*p0) / prec
	}
	sd := math.Sqrt(1 / prec)
	z := mu / sd
	q := TwoSidedZ(alpha) * sd
	return Posterior{
		Mean:          mu,
		SD:            sd,
		ChanceToWin:   NormalSF(-z),
		RiskControl:   sd * expectedPositivePart(z),
		RiskTreatment: sd * expectedPositivePart(-z),
		CI:            [2]float64{mu - q, mu + q},
	}, nil
}

// expectedPositivePart returns g(z) = E[max(Z+z, 0)] = zΦ(z) + φ(z) for a
// standard normal Z, using an asymptotic series for z < −8 where the direct
// form cancels.
func expectedPositivePart(z float64) float64 {
	if z >= -8 {
		v := z*(1-NormalSF(z)) + normPDF(z)
		if z < 0 {
			v = normPDF(z) - (-z)*NormalSF(-z)
		}
		return math.Max(v, 0)
	}
	// g(−x) = φ(x)/x² · Σ_k (−1)^k (2k+1)!!/x^(2k)
	x := -z
	x2 := x * x
	term, sum := 1.0, 1.0
	for k := 1; k <= 12; k++ {
		term *= -float64(2*k+1) / x2
		sum += term
	}
	return normPDF(x) / x2 * sum
}

// BetaBinomialResult is the Beta–Binomial comparison of two conversion
// rates under independent Beta(1,1) priors: ChanceToWin = P(p_b > p_a),
// RiskControl = E[max(p_b − p_a, 0)] and RiskTreatment = E[max(p_a − p_b, 0)],
// both on the absolute rate scale.
type BetaBinomialResult struct {
	ChanceToWin   float64
	RiskControl   float64
	RiskTreatment float64
}

// BetaBinomial compares x_b conversions among n_b units (treatment) with x_a
// among n_a (control) with Beta(1,1) priors, i.e. posteriors
// Beta(x+1, n−x+1). ChanceToWin = ProbBetaGreater(α_b, β_b, α_a, β_a) and
// the expected losses are
//
//	E[max(p_a−p_b,0)] = m_a·P(Beta(α_a+1,β_a) > Beta(α_b,β_b)) − m_b·P(Beta(α_a,β_a) > Beta(α_b+1,β_b)),
//
// (and symmetrically), m = α/(α+β). n = 0 in an arm is allowed (the
// posterior is the prior). Negative or non-finite counts give ErrNoUnits.
func BetaBinomial(na, xa, nb, xb float64) (BetaBinomialResult, error) {
	if !(na >= 0) || !(nb >= 0) || !finite(na) || !finite(nb) {
		return BetaBinomialResult{ChanceToWin: 0.5}, ErrNoUnits
	}
	xa = math.Max(0, math.Min(xa, na))
	xb = math.Max(0, math.Min(xb, nb))
	aa, ba := xa+1, na-xa+1
	ab, bb := xb+1, nb-xb+1
	ma, mb := aa/(aa+ba), ab/(ab+bb)
	rt := ma*ProbBetaGreater(aa+1, ba, ab, bb) - mb*ProbBetaGreater(aa, ba, ab+1, bb)
	rc := mb*ProbBetaGreater(ab+1, bb, aa, ba) - ma*ProbBetaGreater(ab, bb, aa+1, ba)
	return BetaBinomialResult{
		ChanceToWin:   ProbBetaGreater(ab, bb, aa, ba),
		RiskControl:   math.Max(rc, 0),
		RiskTreatment: math.Max(rt, 0),
	}, nil
}

// millerMaxTerms bounds the number of terms of Evan Miller's sum; larger
// (or non-integer) parameters use quadrature.
const millerMaxTerms = 50_000

// ProbBetaGreater returns P(X > Y) for independent X ~ Beta(a1, b1) and
// Y ~ Beta(a2, b2), all parameters > 0 (otherwise 0.5).
//
// When a parameter is an integer it uses Evan Miller's closed form, e.g. for
// integer a1:
//
//	P = Σ_{i=0}^{a1−1} B(a2+i, b1+b2) / ((b1+i)·B(1+i, b1)·B(a2, b2)),
//
// evaluated in log space by the term ratio
// t_{i+1}/t_i = (a2+i)(b1+i)/((a2+b2+b1+i)(1+i)). Of the four equivalent
// forms (sum over a1 or b2 directly, over a2 or b1 as a complement) it
// takes the shortest direct one when it has at most 5e4 terms, else the
// shortest complement. Otherwise it integrates ∫ f_X(x)·I_x(a2, b2) dx by
// Gauss–Legendre quadrature over the mass of X.
func ProbBetaGreater(a1, b1, a2, b2 float64) float64 {
	for _, v := range []float64{a1, b1, a2, b2} {
		if !(v > 0) || !finite(v) {
			return 0.5
		}
	}
	isInt := func(v float64) bool { return v == math.Trunc(v) && v <= millerMaxTerms }
	type form struct {
		k          float64
		complement bool
		p          [4]float64
	}
	forms := []form{
		{a1, false, [4]float64{a1, b1, a2, b2}}, // sum over a1
		{b2, false, [4]float64{b2, a2, b1, a1}}, // 1−X > 1−Y ⇔ Y' > X' with Y'~Beta(b2,a2)
		{a2, true, [4]float64{a2, b2, a1, b1}},  // 1 − P(Y > X)
		{b1, true, [4]float64{b1, a1, b2, a2}},  // 1 − P(1−X > 1−Y)
	}
	best := -1
	for i, f := range forms {
		if !isInt(f.k) {
			continue
		}
		if best < 0 || (forms[best].complement && !f.complement) ||
			(forms[best].complement == f.complement && f.k < forms[best].k) {
			best = i
		}
	}
	if best >= 0 {
		f := forms[best]
		s := millerSum(f.p[0], f.p[1], f.p[2], f.p[3])
		if f.complement {
			s = 1 - s
		}
		return clip01(s)
	}
	return clip01(probBetaGreaterQuad(a1, b1, a2, b2))
}

// millerSum returns Σ_{i=0}^{a1−1} B(a2+i, b1+b2)/((b1+i)B(1+i,b1)B(a2,b2))
// = P(Beta(a1,b1) > Beta(a2,b2)) for integer a1 ≥ 1.
func millerSum(a1, b1, a2, b2 float64) float64 {
	logT := lbeta(a2, b1+b2) - math.Log(b1) - lbeta(1, b1) - lbeta(a2, b2)
	// Running log-sum-exp with rescaling: sum = exp(off)·acc.
	off, acc, cur := logT, 1.0, 1.0
	n := int(a1)
	for i := 0; i < n-1; i++ {
		fi := float64(i)
		cur *= (a2 + fi) * (b1 + fi) / ((a2 + b2 + b1 + fi) * (1 + fi))
		acc += cur
		if acc > 1e280 {
			acc /= 1e280
			cur /= 1e280
			off += 280 * math.Ln10
		}
	}
	return math.Exp(off + math.Log(acc))
}

func lbeta(a, b float64) float64 {
	x, _ := math.Lgamma(a)
	y, _ := math.Lgamma(b)
	z, _ := math.Lgamma(a + b)
	return x + y - z
}

// probBetaGreaterQuad integrates f_X(x)·F_Y(x) over μ_X ± 40 sd_X ∩ [0,1].
func probBetaGreaterQuad(a1, b1, a2, b2 float64) float64 {
	m := a1 / (a1 + b1)
	sd := math.Sqrt(a1 * b1 / ((a1 + b1) * (a1 + b1) * (a1 + b1 + 1)))
	lo, hi := math.Max(0, m-40*sd), math.Min(1, m+40*sd)
	lb := lbeta(a1, b1)
	f := func(x float64) float64 {
		if x <= 0 || x >= 1 {
			return 0
		}
		lp := (a1-1)*math.Log(x) + (b1-1)*math.Log1p(-x) - lb
		return math.Exp(lp) * mathext.RegIncBeta(a2, b2, x)
	}
	const panels = 40
	w := (hi - lo) / panels
	var s float64
	for i := 0; i < panels; i++ {
		s += quad.Fixed(f, lo+float64(i)*w, lo+float64(i+1)*w, 20, quad.Legendre{}, 0)
	}
	return s
}
