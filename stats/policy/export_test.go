package policy

// FoldPolicies returns, for each fold k, the share of the units in it and
// the arms of the policy and of the best single promotion fitted on the
// other folds (by cell, as segment maps): what the cross-fitted value
// estimates is Σ_k share_k · V(π_k).
func FoldPolicies(in Input) (shares []float64, rules [][]Rule, single []string) {
	d := newDataset(&in)
	var b *float64
	if in.Budget != nil {
		pop := in.PopulationUnits
		if pop == 0 {
			pop = d.n
		}
		v := *in.Budget / pop
		b = &v
	}
	for k := 0; k < d.folds; k++ {
		var nk float64
		for c := range d.st {
			for a := range d.st[c] {
				nk += d.st[c][a][k].n
			}
		}
		shares = append(shares, nk/d.n)
		m := d.fit(k)
		rules = append(rules, d.rules(m, m.choose(b).arm, 1.96))
		s := ""
		if bs := m.bestSingle(); bs > 0 {
			s = d.arms[bs]
		}
		single = append(single, s)
	}
	return shares, rules, single
}
