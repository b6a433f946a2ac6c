package assign

import (
	"strconv"
	"testing"
)

// chi2Crit001 are upper critical values of the chi-square distribution at
// significance 0.001 (the test passes when chi2 < crit, i.e. p > 0.001).
// Source: NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.4,
// "Critical Values of the Chi-Square Distribution", column 0.001.
var chi2Crit001 = map[int]float64{1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458, 8: 26.124}

const statSpec = `{
  "experiments": [
    {"key": "five", "hashVersion": 2, "variations": [0,1,2,3,4],
     "meta": [{"key":"a"},{"key":"b"},{"key":"c"},{"key":"d"},{"key":"e"}],
     "weights": [0.1, 0.2, 0.3, 0.2, 0.2]},
    {"key": "two", "hashVersion": 2, "seed": "other-seed", "variations": [0,1],
     "meta": [{"key":"control"},{"key":"treat"}], "weights": [0.5, 0.5]},
    {"key": "legacy", "hashVersion": 1, "variations": [0,1,2,3],
     "meta": [{"key":"a"},{"key":"b"},{"key":"c"},{"key":"d"}]}
  ]
}`

func chiSquare(observed []int, expected []float64) float64 {
	chi := 0.0
	for i, o := range observed {
		d := float64(o) - expected[i]
		chi += d * d / expected[i]
	}
	return chi
}

func TestDistribution(t *testing.T) {
	const units = 1_000_000
	s, err := DecodeSpec([]byte(statSpec))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string][]int{"five": make([]int, 5), "two": make([]int, 2), "legacy": make([]int, 4)}
	var joint [5][2]int
	attrs := Attributes{}
	buf := make([]byte, 0, 32)
	for i := range units {
		buf = strconv.AppendInt(append(buf[:0], "unit-"...), int64(i), 10)
		attrs["id"] = string(buf)
		var idx [2]int
		for j, key := range []string{"five", "two", "legacy"} {
			r, err := s.Run(key, attrs)
			if err != nil || !r.InExperiment {
				t.Fatalf("Run(%s): %v %+v", key, err, r)
			}
			counts[key][r.VariationIndex]++
			if j < 2 {
				idx[j] = r.VariationIndex
			}
		}
		joint[idx[0]][idx[1]]++
	}
	weights := map[string][]float64{"five": {0.1, 0.2, 0.3, 0.2, 0.2}, "two": {0.5, 0.5}, "legacy": {0.25, 0.25, 0.25, 0.25}}
	for _, key := range []string{"five", "two", "legacy"} {
		t.Run("fit/"+key, func(t *testing.T) {
			exp := make([]float64, len(weights[key]))
			for i, w := range weights[key] {
				exp[i] = w * units
			}
			chi, df := chiSquare(counts[key], exp), len(exp)-1
			t.Logf("%s: counts %v, chi2 %.3f, df %d, critical(0.001) %.3f", key, counts[key], chi, df, chi2Crit001[df])
			if chi >= chi2Crit001[df] {
				t.Errorf("goodness of fit rejected at p=0.001: chi2 %.3f >= %.3f", chi, chi2Crit001[df])
			}
		})
	}
	t.Run("independence/five-x-two", func(t *testing.T) {
		var rows [5]int
		var cols [2]int
		for i := range joint {
			for j := range joint[i] {
				rows[i] += joint[i][j]
				cols[j] += joint[i][j]
			}
		}
		var obs []int
		var exp []float64
		for i := range joint {
			for j := range joint[i] {
				obs = append(obs, joint[i][j])
				exp = append(exp, float64(rows[i])*float64(cols[j])/units)
			}
		}
		chi, df := chiSquare(obs, exp), (5-1)*(2-1)
		t.Logf("joint %v, chi2 %.3f, df %d, critical(0.001) %.3f", joint, chi, df, chi2Crit001[df])
		if chi >= chi2Crit001[df] {
			t.Errorf("independence rejected at p=0.001: chi2 %.3f >= %.3f", chi, chi2Crit001[df])
		}
	})
}
