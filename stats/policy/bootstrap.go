package policy

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// BootstrapReplicates is the number B of bootstrap replicates of the
// whole procedure behind the value's and the gain's SE when the budget
// binds (see the package documentation).
const BootstrapReplicates = 200

// bootSE are the bootstrap standard errors of the value and the gain.
type bootSE struct{ value, gain float64 }

// withSE is e with the standard error se and its CI.
func withSE(e Estimate, se, zq float64) Estimate {
	return Estimate{Estimate: e.Estimate, SE: se, CI: [2]float64{e.Estimate - zq*se, e.Estimate + zq*se}}
}

// seed is a hash of d's sufficient statistics, so that the bootstrap of
// the same data gives the same answer.
func (d *dataset) seed() (uint64, uint64) {
	h := fnv.New128a()
	var buf [8]byte
	put := func(x float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(x))
		h.Write(buf[:])
	}
	for c := range d.st {
		for a := range d.st[c] {
			for _, s := range d.st[c][a] {
				put(s.n)
				put(s.s)
				put(s.q)
				put(s.x)
				put(s.c)
			}
		}
	}
	sum := h.Sum(nil)
	return binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:])
}

// resampleSuff draws the statistics of a Poisson bootstrap resample of the
// units s summarizes: n* ~ Poisson(n); given n*, Σy* ~ Normal(n*·ȳ,
// n*·σ²) with σ² = Q/n − ȳ², and Σy²* = (Σy*)²/n* + (n*−1)·σ² (the
// resample keeps the spread); X* ~ Binomial(n*, X/n) (drawn as n* = X* +
// Y*, X* ~ Poisson(X) and Y* ~ Poisson(n − X) independent: the same law);
// the spend is X*·C/X
// (C/n per unit when no unit converted). The first two moments of n*, Σy*
// and X* are those of the unit-level Poisson bootstrap: E = (n, S, X),
// Var = (n, Q, X), Cov(n*, Σy*) = S, Cov(n*, X*) = X.
func resampleSuff(r *rand.Rand, s suff) suff {
	if s.n <= 0 {
		return suff{}
	}
	// n* = X* + (units not converted)*, the two independent Poisson
	// counts: the same law as n* ~ Poisson(n), X* | n* ~ Binomial(n*, X/n).
	x := math.Min(math.Max(s.x, 0), s.n)
	var conv, rest float64
	if x > 0 {
		conv = distuv.Poisson{Lambda: x, Src: r}.Rand()
	}
	if s.n-x > 0 {
		rest = distuv.Poisson{Lambda: s.n - x, Src: r}.Rand()
	}
	n := conv + rest
	if n == 0 {
		return suff{}
	}
	mean := s.s / s.n
	v := math.Max(s.q/s.n-mean*mean, 0)
	sum := n*mean + math.Sqrt(n*v)*r.NormFloat64()
	out := suff{n: n, s: sum, q: sum*sum/n + (n-1)*v, x: conv}
	if s.x > 0 {
		out.c = out.x * s.c / s.x
	} else {
		out.c = n * s.c / s.n
	}
	return out
}

// resample is a bootstrap replicate of d (every (cell, arm, fold) drawn
// by resampleSuff).
func (d *dataset) resample(r *rand.Rand) *dataset {
	rd := *d
	rd.st = make([][][]suff, len(d.st))
	rd.n = 0
	for c := range d.st {
		rd.st[c] = make([][]suff, len(d.st[c]))
		for a := range d.st[c] {
			rd.st[c][a] = make([]suff, len(d.st[c][a]))
			for k, s := range d.st[c][a] {
				rd.st[c][a][k] = resampleSuff(r, s)
				rd.n += rd.st[c][a][k].n
			}
		}
	}
	rd.w = rd.propensities()
	rd.objectiveOnly = true
	return &rd
}

// fixedValues are, per fold k, cell c and arm p, Σ Γ_i(p) over the units
// of fold k in cell c, with the outcome model of full (fitted on all the
// folds), and n[k] the fold's units: the doubly robust value on fold k of a
// fixed policy π is Σ_c g[k][c][π(c)] / n[k]. A replicate resamples each
// fold's own units, so this is the planted value of π in fold k of the
// bootstrap's world.
func (d *dataset) fixedValues(full *model) (g [][][]float64, n []float64) {
	g = make([][][]float64, d.folds)
	n = make([]float64, d.folds)
	mhat := make([]float64, len(d.arms))
	for k := range g {
		g[k] = make([][]float64, len(d.st))
		for c := range d.st {
			g[k][c] = make([]float64, len(d.arms))
			for a := range mhat {
				mhat[a] = full.m0[c] + full.tau(c, a)
			}
			for a := range d.arms {
				st := d.st[c][a][k]
				n[k] += st.n
				for p := range d.arms {
					al, be := d.coef(p, a, mhat)
					g[k][c][p] += st.n*al + be*(st.s-st.n*mhat[a])
				}
			}
		}
	}
	return g, n
}

// bootstrap is the SE of the error of the cross-fitted value and gain
// (estimate minus the value of the fold policies it estimates) over reps
// replicates of the whole procedure; ok is false when fewer than two
// replicates could be scored.
func (d *dataset) bootstrap(full *model, b *float64, reps int) (bootSE, bool) {
	g, nk := d.fixedValues(full)
	value := func(k int, pol func(c int) int) float64 {
		var v float64
		for c := range g[k] {
			v += g[k][c][pol(c)]
		}
		return v / nk[k]
	}
	r := rand.New(rand.NewPCG(d.seed()))
	var ev, eg []float64
	for i := 0; i < reps; i++ {
		rd := d.resample(r)
		if rd.n == 0 {
			continue
		}
		cf := rd.crossFit(b)
		var tv, tg float64
		for k, pk := range cf.policies {
			if pk == nil || nk[k] == 0 {
				continue
			}
			var share float64
			for c := range rd.st {
				for a := range rd.st[c] {
					share += rd.st[c][a][k].n / rd.n
				}
			}
			vk := value(k, func(c int) int { return pk[c] })
			bk := max(cf.singles[k], 0)
			tv += share * vk
			tg += share * (vk - value(k, func(int) int { return bk }))
		}
		ev = append(ev, cf.value.s/rd.n-tv)
		eg = append(eg, cf.gain.s/rd.n-tg)
	}
	if len(ev) < 2 {
		return bootSE{}, false
	}
	return bootSE{value: stat.StdDev(ev, nil), gain: stat.StdDev(eg, nil)}, true
}
