package policy_test

import (
	"math/rand/v2"
	"testing"

	"github.com/promolift/promolift/stats/policy"
	"github.com/promolift/promolift/stats/policy/policysim"
)

// BenchmarkLearn is Learn on a policysim.Standard test of 12,000 units in 5
// folds, without a budget (the fixed-policy SE) and with one that binds
// (the bootstrap of the whole procedure, BootstrapReplicates replicates).
func BenchmarkLearn(b *testing.B) {
	w := policysim.Standard()
	in := w.Input(rand.New(rand.NewPCG(1, 2)), 12000, 5)
	free, err := policy.Learn(in)
	if err != nil {
		b.Fatal(err)
	}
	budget := free.Spend / 2
	for _, bc := range []struct {
		name   string
		budget *float64
	}{{"unconstrained", nil}, {"budget", &budget}} {
		b.Run(bc.name, func(b *testing.B) {
			in.Budget = bc.budget
			if out, _ := policy.Learn(in); (out.Bootstrap > 0) != (bc.budget != nil) {
				b.Fatalf("bootstrap %d with budget %v", out.Bootstrap, bc.budget)
			}
			for b.Loop() {
				if _, err := policy.Learn(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
