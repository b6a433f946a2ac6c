// Package policysim simulates promotion tests with planted heterogeneous
// effects, for the checks of package policy (its Monte Carlo tests, the
// API-level simulator of the policy loop) and for `promolift demo`.
//
// A World plants, per cell of the features, a purchase probability per arm
// (Base + Lift[a]); an order's revenue is lognormal (RevenueMu,
// RevenueSigma) times the arm's OrderValue factor, and the promotion costs
// CostRate[a] of it. The planted effect of arm a in cell c on net revenue
// per unit (revenue − promotion cost) is therefore
//
//	τ_{c,a} = p_{c,a}·E[R]·OV_a·(1 − CR_a) − p_{c,0}·E[R]·OV_0·(1 − CR_0),
//	E[R] = exp(μ + σ²/2),
//
// and a policy's planted value is Σ_c share_c·τ_{c,π(c)}. Pure: no I/O.
package policysim

import (
	"math"
	"math/rand/v2"

	"github.com/promolift/promolift/stats/policy"
)

// Cell is one planted cell.
type Cell struct {
	Values []string  // in the order of World.Features
	Share  float64   // its share of the units
	Base   float64   // the control purchase probability
	Lift   []float64 // per arm, added to Base (Lift[0] is 0)
}

// World is a planted promotion test.
type World struct {
	Features     []string
	Arms         []string
	Weights      []float64
	Cells        []Cell
	RevenueMu    float64
	RevenueSigma float64
	OrderValue   []float64 // per arm
	CostRate     []float64 // per arm, of the revenue
}

// MeanRevenue is E[R] of an order before the arm's factor.
func (w *World) MeanRevenue() float64 {
	return math.Exp(w.RevenueMu + w.RevenueSigma*w.RevenueSigma/2)
}

// mean is the planted net revenue per unit of arm a in cell c.
func (w *World) mean(c, a int) float64 {
	p := w.Cells[c].Base + w.Cells[c].Lift[a]
	return p * w.MeanRevenue() * w.OrderValue[a] * (1 - w.CostRate[a])
}

// Effect is τ_{c,a}, the planted effect on net revenue per unit.
func (w *World) Effect(c, a int) float64 { return w.mean(c, a) - w.mean(c, 0) }

// Spend is the planted promotion spend per unit of arm a in cell c.
func (w *World) Spend(c, a int) float64 {
	p := w.Cells[c].Base + w.Cells[c].Lift[a]
	return p * w.MeanRevenue() * w.OrderValue[a] * w.CostRate[a]
}

// Best is the planted best arm of cell c (control when no arm is better)
// and its gap over the runner-up.
func (w *World) Best(c int) (arm int, gap float64) {
	best, second := 0, math.Inf(-1)
	bv := 0.0
	for a := 1; a < len(w.Arms); a++ {
		v := w.Effect(c, a)
		switch {
		case v > bv:
			second, best, bv = bv, a, v
		case v > second:
			second = v
		}
	}
	return best, bv - second
}

// Value is the planted value per unit of the policy arm (cell → arm index)
// against control for everyone.
func (w *World) Value(arm []int) float64 {
	var v float64
	for c := range w.Cells {
		v += w.Cells[c].Share * w.Effect(c, arm[c])
	}
	return v
}

// DrawCell draws a unit's cell.
func (w *World) DrawCell(r *rand.Rand) int {
	return draw(r, len(w.Cells), func(i int) float64 { return w.Cells[i].Share })
}

// DrawArm draws an arm by the design weights.
func (w *World) DrawArm(r *rand.Rand) int {
	return draw(r, len(w.Arms), func(i int) float64 { return w.Weights[i] })
}

func draw(r *rand.Rand, n int, p func(int) float64) int {
	var tot float64
	for i := 0; i < n; i++ {
		tot += p(i)
	}
	u := r.Float64() * tot
	for i := 0; i < n; i++ {
		u -= p(i)
		if u < 0 {
			return i
		}
	}
	return n - 1
}

// Outcome draws the purchase of a unit of cell c given arm a: whether it
// bought, the order's revenue and the promotion cost, in minor units.
func (w *World) Outcome(r *rand.Rand, c, a int) (bought bool, revenue, cost int64) {
	if r.Float64() >= w.Cells[c].Base+w.Cells[c].Lift[a] {
		return false, 0, 0
	}
	rev := math.Exp(w.RevenueMu+w.RevenueSigma*r.NormFloat64()) * w.OrderValue[a]
	revenue = int64(math.Round(rev))
	cost = int64(math.Round(float64(revenue) * w.CostRate[a]))
	return true, revenue, cost
}

// Segment is cell c as a feature → value map.
func (w *World) Segment(c int) map[string]string {
	m := make(map[string]string, len(w.Features))
	for i, f := range w.Features {
		m[f] = w.Cells[c].Values[i]
	}
	return m
}

// Standard is the world of the checks: RFM segment × channel (10 cells),
// control, ten_off and free_shipping, with an average order of
// exp(8.5 + 0.5²/2) ≈ 5,541 minor units. The channel changes nothing; the
// segment decides: free_shipping wins the champions and the loyal
// customers, ten_off the customers at risk and the new ones (planted gaps
// of 480 or more minor units per unit), and among the lost customers no
// promotion pays (control is best by a gap of a few minor units, below
// StandardMargin). ten_off is the best single promotion (424 against 228
// minor units per unit).
func Standard() *World {
	w := &World{
		Features:     []string{"rfm_segment", "channel"},
		Arms:         []string{"control", "ten_off", "free_shipping"},
		Weights:      []float64{0.34, 0.33, 0.33},
		RevenueMu:    8.5,
		RevenueSigma: 0.5,
		OrderValue:   []float64{1, 1, 1},
		CostRate:     []float64{0, 0.10, 0.05},
	}
	segs := []struct {
		name            string
		base, ten, ship float64
	}{
		{"champions", 0.20, 0.005, 0.12},
		{"loyal", 0.16, 0.01, 0.10},
		{"at_risk", 0.08, 0.25, 0.01},
		{"new", 0.10, 0.22, 0.015},
		{"lost", 0.04, 0.002, 0.001},
	}
	for _, s := range segs {
		for _, ch := range []string{"email", "push"} {
			w.Cells = append(w.Cells, Cell{Values: []string{s.name, ch}, Share: 0.1, Base: s.base,
				Lift: []float64{0, s.ten, s.ship}})
		}
	}
	return w
}

// StandardMargin is the planted gap (minor units of net revenue per unit)
// beyond which the checks require the learned rule to be the planted best
// arm in Standard's cells.
const StandardMargin = 300

// Input simulates a test of n units of w (cells and arms drawn, folds
// uniform, as a hash of the unit id gives them) and returns the sufficient
// statistics policy.Learn reads.
func (w *World) Input(r *rand.Rand, n, folds int) policy.Input {
	return w.InputWithheld(r, n, folds, -1, 1)
}

// InputWithheld is Input for a test in which arm's budget ran out after
// the share after of the n units had arrived: the later units drawn into
// arm got control and no exposure was logged, so they are missing from the
// statistics (the other arms keep all their units).
func (w *World) InputWithheld(r *rand.Rand, n, folds, arm int, after float64) policy.Input {
	type key struct{ c, a, k int }
	acc := map[key]*policy.CellStats{}
	for i := 0; i < n; i++ {
		c, a, k := w.DrawCell(r), w.DrawArm(r), r.IntN(folds)
		if a == arm && float64(i) >= after*float64(n) {
			continue
		}
		s := acc[key{c, a, k}]
		if s == nil {
			s = &policy.CellStats{Segment: w.Segment(c), Variant: w.Arms[a], Fold: k}
			acc[key{c, a, k}] = s
		}
		s.Units++
		if bought, rev, cost := w.Outcome(r, c, a); bought {
			y := float64(rev - cost)
			s.Sum += y
			s.SumSquares += y * y
			s.Converted++
			s.Cost += float64(cost)
		}
	}
	in := policy.Input{Metric: "net_revenue", Features: w.Features, Folds: folds}
	for a, k := range w.Arms {
		in.Arms = append(in.Arms, policy.Arm{Key: k, Weight: w.Weights[a]})
	}
	for c := range w.Cells {
		for a := range w.Arms {
			for k := 0; k < folds; k++ {
				if s := acc[key{c, a, k}]; s != nil {
					in.Cells = append(in.Cells, *s)
				}
			}
		}
	}
	return in
}
