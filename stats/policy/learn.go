package policy

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/promolift/promolift/stats"
)

// Limits of an input.
const (
	MaxFolds    = 20
	MaxFeatures = 8
	MaxCells    = 200000
	// MaxCurvePoints bounds the uplift curve (groups are merged beyond).
	MaxCurvePoints = 101
)

// ValidationErrors are every problem of an input, each naming its field.
type ValidationErrors []*stats.ValidationError

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (v *ValidationErrors) add(field, format string, args ...any) {
	*v = append(*v, &stats.ValidationError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// validate returns every problem of in (nil when none).
func validate(in *Input) error {
	var errs ValidationErrors
	if in.Alpha != nil && !(*in.Alpha > 0 && *in.Alpha < 1) {
		errs.add("alpha", "must be in (0, 1)")
	}
	if len(in.Features) > MaxFeatures {
		errs.add("features", "at most %d features", MaxFeatures)
	}
	seenF := map[string]bool{}
	for i, f := range in.Features {
		if f == "" {
			errs.add(fmt.Sprintf("features[%d]", i), "must not be empty")
		} else if seenF[f] {
			errs.add(fmt.Sprintf("features[%d]", i), "repeats feature %q", f)
		}
		seenF[f] = true
	}
	if len(in.Arms) < 2 {
		errs.add("arms", "at least 2 arms (the first is control)")
	}
	arms := map[string]bool{}
	for i, a := range in.Arms {
		if a.Key == "" {
			errs.add(fmt.Sprintf("arms[%d].key", i), "must not be empty")
		} else if arms[a.Key] {
			errs.add(fmt.Sprintf("arms[%d].key", i), "repeats arm %q", a.Key)
		}
		arms[a.Key] = true
		if !(a.Weight > 0) || !finite(a.Weight) {
			errs.add(fmt.Sprintf("arms[%d].weight", i), "must be positive")
		}
	}
	if in.Folds < 2 || in.Folds > MaxFolds {
		errs.add("folds", "must be between 2 and %d", MaxFolds)
	}
	if in.Budget != nil && !(*in.Budget >= 0 && finite(*in.Budget)) {
		errs.add("budget", "must be a non-negative number")
	}
	if !(in.PopulationUnits >= 0) || !finite(in.PopulationUnits) {
		errs.add("population_units", "must be a non-negative number")
	}
	if len(in.Cells) > MaxCells {
		errs.add("cells", "at most %d cells", MaxCells)
	}
	for i, c := range in.Cells {
		if len(errs) >= 50 {
			break
		}
		f := fmt.Sprintf("cells[%d]", i)
		if !arms[c.Variant] {
			errs.add(f+".variant", "unknown arm %q", c.Variant)
		}
		if c.Fold < 0 || c.Fold >= in.Folds {
			errs.add(f+".fold", "must be between 0 and folds−1")
		}
		for _, feat := range in.Features {
			if _, ok := c.Segment[feat]; !ok {
				errs.add(f+".segment."+feat, "is missing")
			}
		}
		for k := range c.Segment {
			if !seenF[k] {
				errs.add(f+".segment."+k, "is not a feature")
			}
		}
		if !(c.Units >= 0) || !finite(c.Units) || c.Units != math.Trunc(c.Units) {
			errs.add(f+".units", "must be a non-negative whole number")
		}
		for _, v := range []struct {
			name string
			x    float64
		}{{"sum", c.Sum}, {"cost", c.Cost}} {
			if !finite(v.x) {
				errs.add(f+"."+v.name, "must be a finite number")
			}
		}
		if !(c.SumSquares >= 0) || !finite(c.SumSquares) {
			errs.add(f+".sum_squares", "must be a non-negative number")
		}
		if !(c.Converted >= 0 && c.Converted <= c.Units) {
			errs.add(f+".converted", "must be between 0 and units")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// dataset is the input indexed: st[c][a][k].
type dataset struct {
	features []string
	arms     []string
	design   []float64 // the design weights, normalized
	w        []float64 // the propensities: the arms' shares of the units
	folds    int
	values   [][]string // per cell, in feature order
	st       [][][]suff
	tree     *tree
	n        float64
	// objectiveOnly skips the conversion effects in fit (a bootstrap
	// replicate needs only the objective's).
	objectiveOnly bool
}

func newDataset(in *Input) *dataset {
	d := &dataset{features: in.Features, folds: in.Folds}
	var wsum float64
	armIdx := map[string]int{}
	for i, a := range in.Arms {
		d.arms = append(d.arms, a.Key)
		armIdx[a.Key] = i
		wsum += a.Weight
	}
	for _, a := range in.Arms {
		d.design = append(d.design, a.Weight/wsum)
	}
	cellIdx := map[string]int{}
	type row struct {
		vals []string
		key  string
	}
	var rows []row
	for _, c := range in.Cells {
		vals := make([]string, len(in.Features))
		for j, f := range in.Features {
			vals[j] = c.Segment[f]
		}
		k := prefixKey(vals)
		if _, ok := cellIdx[k]; !ok {
			cellIdx[k] = len(rows)
			rows = append(rows, row{vals, k})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].vals, rows[j].vals
		for x := range a {
			if a[x] != b[x] {
				return a[x] < b[x]
			}
		}
		return false
	})
	for i, r := range rows {
		cellIdx[r.key] = i
		d.values = append(d.values, r.vals)
	}
	d.st = make([][][]suff, len(rows))
	for c := range d.st {
		d.st[c] = make([][]suff, len(d.arms))
		for a := range d.st[c] {
			d.st[c][a] = make([]suff, d.folds)
		}
	}
	for _, c := range in.Cells {
		vals := make([]string, len(in.Features))
		for j, f := range in.Features {
			vals[j] = c.Segment[f]
		}
		ci := cellIdx[prefixKey(vals)]
		d.st[ci][armIdx[c.Variant]][c.Fold].add(suff{n: c.Units, s: c.Sum, q: c.SumSquares, x: c.Converted, c: c.Cost})
		d.n += c.Units
	}
	d.tree = newTree(d.values)
	d.w = d.propensities()
	return d
}

// propensities are the arms' shares of the units, n_a/N (the design
// weights when there is no unit): see the package documentation.
func (d *dataset) propensities() []float64 {
	if d.n <= 0 {
		return d.design
	}
	w := make([]float64, len(d.arms))
	for c := range d.st {
		for a := range d.st[c] {
			for _, s := range d.st[c][a] {
				w[a] += s.n / d.n
			}
		}
	}
	return w
}

// srmAlpha is the level of the check of the arms' shares against the
// design weights (sample ratio mismatch).
const srmAlpha = 0.001

// sharesDiffer reports whether the arms' shares of the units differ from
// the design weights beyond chance: Pearson's χ² = Σ_a (n_a − N·w_a)²/(N·w_a)
// on A−1 degrees of freedom, p < srmAlpha.
func (d *dataset) sharesDiffer() bool {
	if d.n <= 0 || len(d.arms) < 2 {
		return false
	}
	var chi2 float64
	for a := range d.arms {
		e := d.n * d.design[a]
		o := d.n * d.w[a]
		chi2 += (o - e) * (o - e) / e
	}
	return distuv.ChiSquared{K: float64(len(d.arms) - 1)}.Survival(chi2) < srmAlpha
}

// training sums the folds other than exclude (all folds when exclude < 0):
// out[c][a].
func (d *dataset) training(exclude int) [][]suff {
	out := make([][]suff, len(d.st))
	for c := range d.st {
		out[c] = make([]suff, len(d.arms))
		for a := range d.st[c] {
			for k, s := range d.st[c][a] {
				if k != exclude {
					out[c][a].add(s)
				}
			}
		}
	}
	return out
}

// model is what one fit (on some folds) gives.
type model struct {
	sums  [][][]suff
	eff   [][]effect // per cell and arm, objective
	conv  [][]effect // per cell and arm, conversion
	root  []effect   // per arm, objective
	kappa [][]float64
	m0    []float64 // per cell, control mean of the objective
	share []float64 // per cell, share of the units
	units []float64 // per cell
	total float64
}

func (d *dataset) fit(exclude int) *model {
	train := d.training(exclude)
	t := d.tree
	m := &model{sums: t.sums(train)}
	leaves := t.depth()
	eff := t.effects(t.moments(m.sums, objective))
	m.eff, m.root = eff[leaves], eff[0][0]
	if !d.objectiveOnly {
		m.conv = t.effects(t.moments(m.sums, conversion))[leaves]
	}
	m.kappa = make([][]float64, len(train))
	m.m0 = make([]float64, len(train))
	m.share = make([]float64, len(train))
	m.units = make([]float64, len(train))
	for c := range train {
		m.kappa[c] = make([]float64, len(d.arms))
		for a := range d.arms {
			m.kappa[c][a] = t.deepest(m.sums, c, a, func(s suff) float64 { return s.c / s.n })
			m.units[c] += train[c][a].n
		}
		m.m0[c] = t.deepest(m.sums, c, 0, func(s suff) float64 { return s.s / s.n })
		m.total += m.units[c]
	}
	if m.total > 0 {
		for c := range m.share {
			m.share[c] = m.units[c] / m.total
		}
	}
	return m
}

// tau is the shrunk effect of arm a in cell c (0 for control).
func (m *model) tau(c, a int) float64 {
	if a == 0 {
		return 0
	}
	return m.eff[c][a].shrunk
}

// policyFit is a policy with its budget multiplier.
type policyFit struct {
	arm        []int
	lambda     float64
	spend      float64 // per unit
	infeasible bool
}

// choose learns the policy of m under the per-unit budget b (nil: none).
func (m *model) choose(b *float64) policyFit {
	pick := func(lambda float64) []int {
		out := make([]int, len(m.eff))
		for c := range m.eff {
			best, bv := 0, -lambda*m.kappa[c][0]
			for a := 1; a < len(m.eff[c]); a++ {
				if !m.eff[c][a].usable {
					continue
				}
				v := m.tau(c, a) - lambda*m.kappa[c][a]
				if v > bv || v == bv && m.kappa[c][a] < m.kappa[c][best] {
					best, bv = a, v
				}
			}
			out[c] = best
		}
		return out
	}
	spend := func(arm []int) float64 {
		var s float64
		for c, a := range arm {
			s += m.share[c] * m.kappa[c][a]
		}
		return s
	}
	p := policyFit{arm: pick(0)}
	p.spend = spend(p.arm)
	if b == nil || p.spend <= *b {
		return p
	}
	// The breakpoints λ > 0 where a cell's choice can change.
	var bps []float64
	for c := range m.eff {
		for a := 0; a < len(m.eff[c]); a++ {
			for o := a + 1; o < len(m.eff[c]); o++ {
				dk := m.kappa[c][a] - m.kappa[c][o]
				if dk == 0 {
					continue
				}
				if l := (m.tau(c, a) - m.tau(c, o)) / dk; l > 0 && finite(l) {
					bps = append(bps, l)
				}
			}
		}
	}
	sort.Float64s(bps)
	bps = dedupe(bps)
	// interval j is (bps[j], bps[j+1]); the policy is constant on it and
	// equals the tie-to-cheaper choice at bps[j].
	at := func(j int) float64 {
		if j+1 < len(bps) {
			return (bps[j] + bps[j+1]) / 2
		}
		return 2*bps[j] + 1
	}
	j := sort.Search(len(bps), func(j int) bool { return spend(pick(at(j))) <= *b })
	if j == len(bps) {
		p.infeasible = true
		if len(bps) == 0 {
			return p
		}
		j = len(bps) - 1
	}
	p.arm = pick(at(j))
	p.lambda = bps[j]
	p.spend = spend(p.arm)
	return p
}

func dedupe(xs []float64) []float64 {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// bestSingle is the non-control arm with the largest pooled effect (-1
// when none is usable).
func (m *model) bestSingle() int {
	best := -1
	for a := 1; a < len(m.root); a++ {
		if m.root[a].usable && (best < 0 || m.root[a].raw > m.root[best].raw) {
			best = a
		}
	}
	return best
}

// scoreSums accumulates Σ Γ and Σ Γ² of a per-unit score.
type scoreSums struct{ s, q float64 }

// add adds the units st of one (cell, arm, fold), whose score is
// Γ = alpha + beta·(y − mhat).
func (z *scoreSums) add(st suff, alpha, beta, mhat float64) {
	r := st.s - st.n*mhat                                                // Σ (y − m̂)
	r2 := st.q - 2*mhat*st.s + st.n*mhat*mhat                            // Σ (y − m̂)²
	z.s += st.n*alpha + beta*r                                           // Σ Γ
	z.q += st.n*alpha*alpha + 2*alpha*beta*r + beta*beta*math.Max(r2, 0) // Σ Γ²
}

// estimate is the mean of the scores over n units with its CI.
func (z scoreSums) estimate(n, zq float64) Estimate {
	if n <= 0 {
		return Estimate{}
	}
	mean := z.s / n
	se := 0.0
	if n > 1 {
		se = math.Sqrt(math.Max(z.q-z.s*z.s/n, 0) / (n - 1) / n)
	}
	return Estimate{Estimate: mean, SE: se, CI: [2]float64{mean - zq*se, mean + zq*se}}
}

// coef is the (alpha, beta) of the score of assigning arm p in a cell
// whose outcome model is mhat (per arm), for a unit in arm a.
func (d *dataset) coef(p, a int, mhat []float64) (alpha, beta float64) {
	if p == 0 {
		return 0, 0
	}
	alpha = mhat[p] - mhat[0]
	if a == p {
		beta += 1 / d.w[p]
	}
	if a == 0 {
		beta -= 1 / d.w[0]
	}
	return alpha, beta
}

type curveGroup struct {
	pred, n, score float64
	order          int
}

// Learn learns the policy and values it (see the package documentation).
// Bad input gives ValidationErrors; degenerate data an output with Error
// set.
func Learn(in Input) (*Output, error) { return learn(in, BootstrapReplicates) }

// learn is Learn with reps bootstrap replicates (0: the fixed-policy SE
// only, as the independent checks compute it).
func learn(in Input, reps int) (*Output, error) {
	if err := validate(&in); err != nil {
		return nil, err
	}
	alpha := 0.05
	if in.Alpha != nil {
		alpha = *in.Alpha
	}
	zq := distuv.UnitNormal.Quantile(1 - alpha/2)
	d := newDataset(&in)
	out := &Output{Metric: in.Metric, Features: in.Features, Folds: in.Folds, Alpha: alpha, Units: d.n,
		Budget: in.Budget, PopulationUnits: in.PopulationUnits, Rules: []Rule{}, Curve: []CurvePoint{}, Warnings: []string{}}
	if out.Features == nil {
		out.Features = []string{}
	}
	if out.PopulationUnits == 0 {
		out.PopulationUnits = d.n
	}
	if d.n == 0 {
		out.Error = ErrNoUnits
		return out, nil
	}
	if d.sharesDiffer() {
		out.Warnings = append(out.Warnings, WarnArmShares)
	}
	full := d.fit(-1)
	if full.sums[0][0][0].n == 0 {
		out.Error = ErrNoControl
		return out, nil
	}
	var b *float64
	if in.Budget != nil {
		v := *in.Budget / out.PopulationUnits
		if out.PopulationUnits == 0 {
			v = 0
		}
		b = &v
	}
	pol := full.choose(b)
	if pol.infeasible {
		out.Warnings = append(out.Warnings, WarnBudgetInfeas)
	}
	out.Lambda, out.SpendPerUnit = pol.lambda, pol.spend
	out.Spend = pol.spend * out.PopulationUnits
	out.Rules = d.rules(full, pol.arm, zq)
	if bs := full.bestSingle(); bs > 0 {
		out.BestSingle.Variant = d.arms[bs]
		for c := range full.share {
			out.BestSingle.SpendPerUnit += full.share[c] * full.kappa[c][bs]
		}
	}

	cf := d.crossFit(b)
	for _, k := range cf.skipped {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: fold %d's training folds have no control unit", WarnFewUnitsInFold, k))
	}
	out.Value = cf.value.estimate(d.n, zq)
	out.BestSingle.Value = cf.single.estimate(d.n, zq)
	out.GainOverBestSingle = cf.gain.estimate(d.n, zq)
	out.Curve = curve(cf.groups, d.n)
	if reps > 0 && (pol.lambda > 0 || cf.binds) {
		if se, ok := d.bootstrap(full, b, reps); ok {
			out.Bootstrap = reps
			out.Value = withSE(out.Value, se.value, zq)
			out.GainOverBestSingle = withSE(out.GainOverBestSingle, se.gain, zq)
		}
	}
	return out, nil
}

// crossFitted is what cross-fitting d gives: the sums of the scores of the
// fold policies, of the fold best single promotions and of their
// difference, the curve's groups, the folds skipped (no control unit in
// their training folds) and, per fold, the policy and the best single
// promotion (nil and -1 for a skipped fold).
type crossFitted struct {
	value, single, gain scoreSums
	groups              []curveGroup
	skipped             []int
	policies            [][]int
	singles             []int
	binds               bool // some fold policy's budget binds (λ > 0)
}

// crossFit fits the policy of every fold on the other folds under the
// per-unit budget b and scores the fold's units with it.
func (d *dataset) crossFit(b *float64) *crossFitted {
	cf := &crossFitted{policies: make([][]int, d.folds), singles: make([]int, d.folds)}
	for k := 0; k < d.folds; k++ {
		cf.singles[k] = -1
		m := d.fit(k)
		if m.sums[0][0][0].n == 0 {
			cf.skipped = append(cf.skipped, k)
			continue
		}
		pf := m.choose(b)
		pk := pf.arm
		cf.binds = cf.binds || pf.lambda > 0
		bk := m.bestSingle()
		cf.policies[k], cf.singles[k] = pk, bk
		for c := range d.st {
			mhat := make([]float64, len(d.arms))
			for a := range mhat {
				mhat[a] = m.m0[c] + m.tau(c, a)
			}
			g := curveGroup{pred: m.tau(c, pk[c]), order: c*d.folds + k}
			for a := range d.arms {
				st := d.st[c][a][k]
				if st.n == 0 {
					continue
				}
				ap, bp := d.coef(pk[c], a, mhat)
				cf.value.add(st, ap, bp, mhat[a])
				g.n += st.n
				g.score += st.n*ap + bp*(st.s-st.n*mhat[a])
				ab, bb := 0.0, 0.0
				if bk > 0 {
					ab, bb = d.coef(bk, a, mhat)
				}
				cf.single.add(st, ab, bb, mhat[a])
				cf.gain.add(st, ap-ab, bp-bb, mhat[a])
			}
			if g.n > 0 {
				if pk[c] == 0 {
					g.pred = math.Inf(-1)
				}
				cf.groups = append(cf.groups, g)
			}
		}
	}
	return cf
}

// rules lists every cell with its arm and effects under model m.
func (d *dataset) rules(m *model, arm []int, zq float64) []Rule {
	rules := make([]Rule, 0, len(d.values))
	for c, vals := range d.values {
		seg := make(map[string]string, len(vals))
		for j, f := range d.features {
			seg[f] = vals[j]
		}
		r := Rule{Segment: seg, Variant: d.arms[arm[c]], Units: m.units[c], SpendPerUnit: m.kappa[c][arm[c]], Arms: []ArmEffect{}}
		if arm[c] > 0 {
			r.Effect = interval(m.eff[c][arm[c]].shrunk, m.eff[c][arm[c]].shrV, zq)
		}
		for a := 1; a < len(d.arms); a++ {
			e := m.eff[c][a]
			ae := ArmEffect{Variant: d.arms[a], Units: m.sums[d.tree.depth()][c][a].n,
				Effect:       interval(e.shrunk, e.shrV, zq),
				Conversion:   interval(m.conv[c][a].shrunk, m.conv[c][a].shrV, zq),
				SpendPerUnit: m.kappa[c][a]}
			if e.ok {
				raw := interval(e.raw, e.rawV, zq)
				ae.Raw = &raw
			}
			r.Arms = append(r.Arms, ae)
		}
		rules = append(rules, r)
	}
	return rules
}

func interval(est, v, zq float64) Estimate {
	se := math.Sqrt(math.Max(v, 0))
	return Estimate{Estimate: est, SE: se, CI: [2]float64{est - zq*se, est + zq*se}}
}

// curve is the uplift curve of the groups over n units.
func curve(groups []curveGroup, n float64) []CurvePoint {
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].pred != groups[j].pred {
			return groups[i].pred > groups[j].pred
		}
		return groups[i].order < groups[j].order
	})
	pts := []CurvePoint{{0, 0}}
	var cn, cs float64
	for _, g := range groups {
		cn += g.n
		cs += g.score
		pts = append(pts, CurvePoint{Share: cn / n, Incremental: cs / n})
	}
	if len(pts) <= MaxCurvePoints {
		return pts
	}
	// Keep MaxCurvePoints points, evenly spaced in the group order, and
	// the last one.
	out := make([]CurvePoint, 0, MaxCurvePoints)
	for i := 0; i < MaxCurvePoints; i++ {
		out = append(out, pts[i*(len(pts)-1)/(MaxCurvePoints-1)])
	}
	return out
}
