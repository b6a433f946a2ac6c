package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func f64(x float64) *float64 { return &x }

// randomInput builds a random but valid AnalyzeInput from sufficient
// statistics of simulated data, including edge cases (tiny n, zero
// conversions, all converted, constant values).
func randomInput(r *rand.Rand) AnalyzeInput {
	k := 2 + r.Intn(3)
	in := AnalyzeInput{Alpha: f64([]float64{0.05, 0.01, 0.1, 0.2}[r.Intn(4)]), Control: "v0",
		Engine:      []string{"frequentist", "bayesian", "sequential"}[r.Intn(3)],
		Correction:  []string{"holm", "bh", "none"}[r.Intn(3)],
		Alternative: []string{"", AltTwoSided, AltGreater, AltLess}[r.Intn(4)]}
	if r.Intn(3) == 0 {
		in.Power = &PowerInput{MDERelative: []float64{0.01, 0.05, 0.3}[r.Intn(3)], ElapsedDays: f64(float64(r.Intn(30)))}
	}
	units := make([]float64, k)
	for i := range k {
		units[i] = float64([]int{0, 1, 2, 3, 10, 50, 1000, 100000, 100000000}[r.Intn(9)])
		if r.Intn(3) > 0 {
			units[i] = float64(2 + r.Intn(5000))
		}
		in.Variants = append(in.Variants, VariantInput{Key: fmt.Sprintf("v%d", i), Weight: float64(1 + r.Intn(3)),
			Units: units[i], PromotionCost: float64(r.Intn(3)) * 1000})
	}
	nm := 1 + r.Intn(4)
	for j := range nm {
		m := MetricInput{Key: fmt.Sprintf("m%d", j), Type: []string{"proportion", "mean", "ratio", "quantile"}[r.Intn(4)],
			Role: []string{"primary", "secondary", "guardrail"}[r.Intn(3)], Stats: map[string]ArmStats{},
			LowerIsBetter: r.Intn(3) == 0}
		switch {
		case m.Type == "quantile":
			m.Quantile = f64([]float64{0.5, 0.9, 0.1, 0.99}[r.Intn(4)])
		case (m.Type == "proportion" || m.Type == "ratio") && r.Intn(2) == 0:
			for i := range k {
				m.Stats[fmt.Sprintf("v%d", i)] = groupArm(r, m.Type, units[i])
			}
			in.Metrics = append(in.Metrics, m)
			continue
		case m.Type != "ratio" && r.Intn(4) == 0:
			m.Stats = nil
			m.Strata = randomStrata(r, m.Type, units)
			in.Metrics = append(in.Metrics, m)
			continue
		}
		cuped := m.Type == "mean" && r.Intn(2) == 0
		for i := range k {
			n := units[i]
			var s ArmStats
			switch m.Type {
			case "quantile":
				v := r.NormFloat64() * 50
				s.QuantileValue, s.QuantileLower, s.QuantileUpper = f64(v), f64(v-math.Abs(r.NormFloat64())*5), f64(v+math.Abs(r.NormFloat64())*5)
				if r.Intn(6) == 0 {
					s.QuantileLower, s.QuantileUpper = f64(v), f64(v)
				}
			case "proportion":
				p := r.Float64()
				switch r.Intn(5) {
				case 0:
					p = 0
				case 1:
					p = 1
				}
				s.Sum = math.Round(n * p)
			default:
				mu, sd := r.NormFloat64()*50, math.Abs(r.NormFloat64()*20)
				if r.Intn(6) == 0 {
					sd = 0
				}
				sum := n * mu
				q := n*mu*mu + math.Max(n-1, 0)*sd*sd
				s.Sum, s.SumSquares = sum, f64(q)
				if m.Type == "ratio" {
					dm := 0.5 + r.Float64()*3
					if r.Intn(8) == 0 {
						dm = 0
					}
					dsd := dm * r.Float64()
					s.DenominatorSum = f64(n * dm)
					s.DenominatorSumSquares = f64(n*dm*dm + math.Max(n-1, 0)*dsd*dsd)
					rho := r.Float64()*1.8 - 0.9
					s.CrossSum = f64(n*mu*dm + math.Max(n-1, 0)*rho*sd*dsd)
				}
				if cuped {
					xm, xsd := r.Float64()*40, r.Float64()*20
					rho := r.Float64()*1.8 - 0.9
					s.PreSum = f64(n * xm)
					s.PreSumSquares = f64(n*xm*xm + math.Max(n-1, 0)*xsd*xsd)
					s.PreCrossSum = f64(n*xm*mu + math.Max(n-1, 0)*rho*sd*xsd)
				}
			}
			if n == 0 && m.Type != "quantile" {
				s = ArmStats{SumSquares: s.SumSquares}
				if s.SumSquares != nil {
					s.SumSquares = f64(0)
				}
				if m.Type == "ratio" {
					s.DenominatorSum, s.DenominatorSumSquares, s.CrossSum = f64(0), f64(0), f64(0)
				}
				if cuped {
					s.PreSum, s.PreSumSquares, s.PreCrossSum = f64(0), f64(0), f64(0)
				}
			}
			m.Stats[fmt.Sprintf("v%d", i)] = s
		}
		in.Metrics = append(in.Metrics, m)
	}
	for j, m := range in.Metrics {
		if m.Type == "mean" && r.Intn(2) == 0 {
			in.ROIMetric = in.Metrics[j].Key
		}
	}
	if r.Intn(2) == 0 {
		in.Personalization = &PersonalizationInput{Personalized: "v1", Generic: "v0"}
	}
	if r.Intn(3) == 0 {
		in.Prior = &PriorInput{Proper: true, StdDev: 0.3}
	}
	return in
}

// groupArm returns consistent sufficient statistics (with the CUPED
// pre-period) of n units made of three groups of identical units: a
// proportion with a count covariate, or a ratio with its pre-period.
func groupArm(r *rand.Rand, typ string, n float64) ArmStats {
	cut1 := math.Floor(n * r.Float64())
	cut2 := cut1 + math.Floor((n-cut1)*r.Float64())
	counts := []float64{cut1, cut2 - cut1, n - cut2}
	var s [15]float64
	for _, c := range counts {
		y := float64(r.Intn(2))
		m, d := r.Float64()*100, float64(1+r.Intn(4))
		x, e := r.Float64()*80, float64(r.Intn(4))
		if typ == "proportion" {
			m, x = y, float64(r.Intn(3))
		}
		if r.Intn(5) == 0 {
			e = 1
		}
		for j, v := range []float64{m, m * m, d, d * d, m * d, x, x * x, e, e * e, m * x, d * e, x * e, m * e, x * d} {
			s[j] += c * v
		}
	}
	a := ArmStats{Sum: s[0], PreSum: f64(s[5]), PreSumSquares: f64(s[6]), PreCrossSum: f64(s[9])}
	if typ == "ratio" {
		a.SumSquares, a.DenominatorSum, a.DenominatorSumSquares, a.CrossSum = f64(s[1]), f64(s[2]), f64(s[3]), f64(s[4])
		a.PreDenominatorSum, a.PreDenominatorSumSquares = f64(s[7]), f64(s[8])
		a.DPostDPreSumOfProducts, a.MPreDPreSumOfProducts = f64(s[10]), f64(s[11])
		a.MPostDPreSumOfProducts, a.MPreDPostSumOfProducts = f64(s[12]), f64(s[13])
	}
	return a
}

// randomStrata splits every arm's units among 1–3 strata with random
// proportion or mean statistics.
func randomStrata(r *rand.Rand, typ string, units []float64) map[string]map[string]ArmStats {
	ns := 1 + r.Intn(3)
	st := map[string]map[string]ArmStats{}
	for si := 0; si < ns; si++ {
		st[fmt.Sprintf("s%d", si)] = map[string]ArmStats{}
	}
	for i, n := range units {
		left := n
		for si := 0; si < ns; si++ {
			u := math.Floor(left * r.Float64())
			if si == ns-1 {
				u = left
			}
			left -= u
			a := ArmStats{Units: f64(u)}
			if typ == "proportion" {
				a.Sum = math.Floor(u * r.Float64())
			} else {
				mu, sd := r.NormFloat64()*30, math.Abs(r.NormFloat64()*10)
				a.Sum, a.SumSquares = u*mu, f64(u*mu*mu+math.Max(u-1, 0)*sd*sd)
			}
			st[fmt.Sprintf("s%d", si)][fmt.Sprintf("v%d", i)] = a
		}
	}
	return st
}

// checkOutput verifies the invariants of one AnalyzeOutput.
func checkOutput(t *testing.T, out AnalyzeOutput) {
	t.Helper()
	raw, err := json.Marshal(out)
	if err != nil { // encoding/json rejects NaN and ±Inf
		t.Fatalf("marshal: %v", err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("%s = %v", path, x)
			}
		}
	}
	var generic any
	_ = json.Unmarshal(raw, &generic)
	walk("", generic)
	inP := func(what string, p float64) {
		if !(p >= 0 && p <= 1) {
			t.Errorf("%s = %v not in [0,1]", what, p)
		}
	}
	inCI := func(what string, est float64, ci [2]float64) {
		tol := 1e-12 * (1 + math.Abs(est))
		if !(ci[0] <= est+tol && est <= ci[1]+tol) {
			t.Errorf("%s: CI %v does not contain %v", what, ci, est)
		}
	}
	inP("srm.p_value", out.SRM.PValue)
	for _, m := range out.Metrics {
		for _, c := range m.Comparisons {
			w := m.Key + "/" + c.Variant
			inP(w+" p", c.Absolute.PValue)
			inP(w+" adjusted", c.AdjustedPValue)
			if c.Error == nil {
				inCI(w+" absolute", c.Absolute.Estimate, c.Absolute.CI)
			}
			if c.Relative != nil {
				inP(w+" relative p", c.Relative.PValue)
				inCI(w+" relative", c.Relative.Estimate, c.Relative.CI)
				inCI(w+" relative normal", c.Relative.Estimate, c.Relative.CINormal)
			}
			if b := c.Bayesian; b != nil {
				inP(w+" chance", b.ChanceToWin)
				if b.Error == nil {
					inCI(w+" credible", b.Mean, b.CI)
				}
				if b.BetaBinomial != nil {
					inP(w+" bb chance", b.BetaBinomial.ChanceToWin)
				}
			}
			if s := c.Sequential; s != nil {
				inP(w+" seq p", s.PValue)
				inCI(w+" seq", c.Absolute.Estimate, s.CI)
				if s.RelativePValue != nil {
					inP(w+" seq relative p", *s.RelativePValue)
				}
				if s.CIOneSided != nil {
					inCI(w+" seq one-sided", c.Absolute.Estimate, oneSidedBounds(s.CIOneSided))
				}
			}
			if c.Absolute.CIOneSided != nil {
				inCI(w+" one-sided", c.Absolute.Estimate, oneSidedBounds(c.Absolute.CIOneSided))
			}
			if b := c.Bayesian; b != nil && b.Absolute != nil {
				inP(w+" absolute chance", b.Absolute.ChanceToWin)
			}
			if pw := c.Power; pw != nil {
				inP(w+" power", pw.Power)
				if pw.AdditionalUnits != nil && !(*pw.AdditionalUnits >= 0) {
					t.Errorf("%s: additional units %v", w, *pw.AdditionalUnits)
				}
			}
			switch c.Direction {
			case "better", "worse":
				if !c.Significant {
					t.Errorf("%s: direction %s without significance", w, c.Direction)
				}
			case "none":
			default:
				t.Errorf("%s: direction %q", w, c.Direction)
			}
		}
	}
}

// oneSidedBounds returns a one-sided interval with ±MaxFloat64 at the
// open end.
func oneSidedBounds(ci *OneSidedCI) [2]float64 {
	b := [2]float64{-math.MaxFloat64, math.MaxFloat64}
	for i, v := range ci {
		if v != nil {
			b[i] = *v
		}
	}
	return b
}

// TestProperties runs seeded random sufficient statistics through Analyze
// and checks: no NaN/Inf anywhere, p-values in [0,1], CIs contain their
// estimates, Holm ≥ BH ≥ raw, and swapping the arms flips the sign of the
// absolute lift.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewSource(20261123))
	seen := map[string]int{}
	defer func() {
		for _, k := range []string{"z_cuped", "welch_t_ratio_cuped", "post_stratified_z", "power"} {
			if seen[k] == 0 {
				t.Errorf("no comparison by %s among the random inputs", k)
			}
		}
		t.Logf("methods: %v", seen)
	}()
	for iter := 0; iter < 600; iter++ {
		in := randomInput(r)
		out, err := Analyze(in)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		checkOutput(t, out)
		for _, m := range out.Metrics {
			for _, c := range m.Comparisons {
				seen[c.Absolute.Method]++
				if c.Power != nil {
					seen["power"]++
				}
			}
		}

		// Holm ≥ BH ≥ raw on the same family.
		in.Correction = "holm"
		oh, _ := Analyze(in)
		in.Correction = "bh"
		ob, _ := Analyze(in)
		in.Correction = "none"
		on, _ := Analyze(in)
		for mi := range oh.Metrics {
			for ci := range oh.Metrics[mi].Comparisons {
				h, b, n := oh.Metrics[mi].Comparisons[ci].AdjustedPValue, ob.Metrics[mi].Comparisons[ci].AdjustedPValue, on.Metrics[mi].Comparisons[ci].AdjustedPValue
				if !(h >= b-1e-15 && b >= n-1e-15) {
					t.Errorf("iter %d: holm %v, bh %v, raw %v", iter, h, b, n)
				}
			}
		}

		// Swap control and v1.
		sw := in
		sw.Control = "v1"
		switch in.Alternative { // the alternative is stated on treatment − control
		case AltGreater:
			sw.Alternative = AltLess
		case AltLess:
			sw.Alternative = AltGreater
		}
		swo, err := Analyze(sw)
		if err != nil {
			t.Fatalf("iter %d swap: %v", iter, err)
		}
		for mi := range on.Metrics {
			a := on.Metrics[mi].Comparisons[0] // v1 vs v0
			var b *ComparisonOutput
			for i := range swo.Metrics[mi].Comparisons {
				if swo.Metrics[mi].Comparisons[i].Variant == "v0" {
					b = &swo.Metrics[mi].Comparisons[i]
				}
			}
			if a.Error != nil || b.Error != nil {
				continue
			}
			x, y := a.Absolute.Estimate, b.Absolute.Estimate
			if math.Abs(x+y) > 1e-9*(math.Abs(x)+1e-300) && math.Abs(x+y) > 1e-12 {
				t.Errorf("iter %d metric %d: swap gives %v and %v", iter, mi, x, y)
			}
			if math.Abs(a.Absolute.PValue-b.Absolute.PValue) > 1e-9 {
				t.Errorf("iter %d metric %d: swap changes p %v -> %v", iter, mi, a.Absolute.PValue, b.Absolute.PValue)
			}
		}
	}
}
