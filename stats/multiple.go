package stats

import (
	"math"
	"sort"
)

// Holm returns the Holm–Bonferroni adjusted p-values of p, in input order:
// with p sorted ascending, p̃_(i) = min(1, max_{j≤i} (m−j+1)·p_(j)), m the
// number of finite p-values. NaN entries are left out of m and returned as
// 1. It matches statsmodels multipletests(method="holm").
func Holm(p []float64) []float64 {
	idx, out := adjustSetup(p)
	m := float64(len(idx))
	run := 0.0
	for i, k := range idx {
		v := math.Min(1, (m-float64(i))*math.Max(p[k], 0))
		run = math.Max(run, v)
		out[k] = run
	}
	return out
}

// BenjaminiHochberg returns the Benjamini–Hochberg (FDR) adjusted p-values
// of p, in input order: with p sorted ascending and rank i = 1..m,
// p̃_(i) = min(1, min_{j≥i} m·p_(j)/j). NaN entries are left out of m and
// returned as 1. It matches statsmodels multipletests(method="fdr_bh").
func BenjaminiHochberg(p []float64) []float64 {
	idx, out := adjustSetup(p)
	m := float64(len(idx))
	run := 1.0
	for i := len(idx) - 1; i >= 0; i-- {
		k := idx[i]
		run = math.Min(run, m*math.Max(p[k], 0)/float64(i+1))
		out[k] = run
	}
	return out
}

// adjustSetup returns the indices of the finite p-values sorted by value
// (stable) and an output slice preset to 1.
func adjustSetup(p []float64) ([]int, []float64) {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = 1
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(i, j int) bool { return p[idx[i]] < p[idx[j]] })
	return idx, out
}
