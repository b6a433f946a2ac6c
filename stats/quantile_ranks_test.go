package stats

import (
	"fmt"
	"testing"
)

// TestQuantileRanks checks the ranks of a quantile metric's order
// statistics against testdata/quantile_ranks.py.
func TestQuantileRanks(t *testing.T) {
	for _, c := range []struct {
		n                   int64
		q                   float64
		value, lower, upper int64
	}{
		{100, .5, 50, 41, 60},
		{41, .9, 37, 34, 41},
		{10, .9, 9, 8, 10},
		{1, .5, 1, 1, 1},
		{7, .5, 4, 1, 7},
		{1000, .9, 900, 882, 919},
		{0, .5, 0, 0, 0},
	} {
		t.Run(fmt.Sprintf("n=%d,q=%v", c.n, c.q), func(t *testing.T) {
			v, l, u := QuantileRanks(c.n, c.q)
			if v != c.value || l != c.lower || u != c.upper {
				t.Errorf("QuantileRanks = %d, %d, %d, want %d, %d, %d", v, l, u, c.value, c.lower, c.upper)
			}
		})
	}
}
