package policysim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestStandardPlantsWhatItSays checks the planted facts Standard's doc
// comment promises, recomputed here by hand from the planted rates: the
// best arm per segment, the gaps against StandardMargin, and the best
// single promotion.
func TestStandardPlantsWhatItSays(t *testing.T) {
	w := Standard()
	order := math.Exp(8.5 + 0.5*0.5/2) // E[revenue] of a lognormal order
	net := func(p, costRate float64) float64 { return p * order * (1 - costRate) }
	want := map[string]string{"champions": "free_shipping", "loyal": "free_shipping",
		"at_risk": "ten_off", "new": "ten_off", "lost": "control"}
	for c, cell := range w.Cells {
		t.Run(cell.Values[0]+"/"+cell.Values[1], func(t *testing.T) {
			arm, gap := w.Best(c)
			if got := w.Arms[arm]; got != want[cell.Values[0]] {
				t.Fatalf("best arm %s, want %s", got, want[cell.Values[0]])
			}
			if cell.Values[0] == "lost" {
				if gap >= StandardMargin {
					t.Errorf("lost: gap %.1f, want below the margin %d", gap, StandardMargin)
				}
				return
			}
			if gap < 480 {
				t.Errorf("gap %.1f, want at least 480", gap)
			}
			// The effect of each arm, by hand.
			for a := 1; a < len(w.Arms); a++ {
				hand := net(cell.Base+cell.Lift[a], w.CostRate[a]) - net(cell.Base, 0)
				if math.Abs(w.Effect(c, a)-hand) > 1e-9*math.Abs(hand) {
					t.Errorf("Effect(%s) = %v, by hand %v", w.Arms[a], w.Effect(c, a), hand)
				}
			}
		})
	}
	everyone := func(a int) []int {
		arms := make([]int, len(w.Cells))
		for i := range arms {
			arms[i] = a
		}
		return arms
	}
	ten, ship := w.Value(everyone(1)), w.Value(everyone(2))
	if math.Round(ten) != 424 || math.Round(ship) != 228 {
		t.Errorf("single promotions: ten_off %.1f, free_shipping %.1f; want 424 and 228", ten, ship)
	}
}

// TestInputDrawsThePlantedWorld: a simulated test has the units asked
// for, is the same for the same seed, and its net revenue per unit of an
// arm in a cell is within 5 standard errors of the planted mean.
func TestInputDrawsThePlantedWorld(t *testing.T) {
	w := Standard()
	const n, folds = 200_000, 5
	in := w.Input(rand.New(rand.NewPCG(1, 2)), n, folds)
	again := w.Input(rand.New(rand.NewPCG(1, 2)), n, folds)
	var units float64
	for i, s := range in.Cells {
		units += s.Units
		if s.Units != again.Cells[i].Units || s.Sum != again.Cells[i].Sum {
			t.Fatalf("cell %d differs between two draws of one seed", i)
		}
		if s.Fold < 0 || s.Fold >= folds {
			t.Fatalf("fold %d out of range", s.Fold)
		}
	}
	if units != n {
		t.Fatalf("%v units, want %d", units, n)
	}
	// Cell 4 (at_risk, email), arm ten_off, pooled over the folds.
	var u, sum, sq float64
	for _, s := range in.Cells {
		if s.Segment["rfm_segment"] == "at_risk" && s.Segment["channel"] == "email" && s.Variant == "ten_off" {
			u, sum, sq = u+s.Units, sum+s.Sum, sq+s.SumSquares
		}
	}
	mean := sum / u
	se := math.Sqrt((sq/u - mean*mean) / u)
	if planted := w.mean(4, 1); math.Abs(mean-planted) > 5*se {
		t.Errorf("net revenue per unit %.1f ± %.1f, planted %.1f", mean, se, planted)
	}
}
