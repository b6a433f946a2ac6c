package policy

import "math"

// suff are the sufficient statistics of some units: n, Σy, Σy², converted
// units and spend.
type suff struct{ n, s, q, x, c float64 }

func (a *suff) add(b suff) { a.n += b.n; a.s += b.s; a.q += b.q; a.x += b.x; a.c += b.c }

// objective and conversion select the y of an effect: the objective's sums
// or the converted indicator (y² = y).
func objective(s suff) (n, sum, sq float64)  { return s.n, s.s, s.q }
func conversion(s suff) (n, sum, sq float64) { return s.n, s.x, s.x }

// tree is the hierarchy of the cells: level 0 is the root, level j the
// distinct prefixes of the first j feature values, the last level the
// cells themselves.
type tree struct {
	// parent[l][i] is the index at level l−1 of node i of level l.
	parent [][]int
	// children[l][i] are the indexes at level l+1 of node i's children.
	children [][][]int
	// leaf[c] is cell c's node at the last level (leaf[c] == c).
	cells int
}

func newTree(cells [][]string) *tree {
	depth := 0
	if len(cells) > 0 {
		depth = len(cells[0])
	}
	t := &tree{parent: make([][]int, depth+1), children: make([][][]int, depth+1), cells: len(cells)}
	// index[l][prefix key] = node index
	idx := make([]map[string]int, depth+1)
	for l := range idx {
		idx[l] = map[string]int{}
	}
	t.parent[0] = []int{-1}
	t.children[0] = [][]int{nil}
	idx[0][""] = 0
	for l := 1; l <= depth; l++ {
		for _, vals := range cells {
			k := prefixKey(vals[:l])
			if _, ok := idx[l][k]; ok {
				continue
			}
			i := len(t.parent[l])
			idx[l][k] = i
			p := idx[l-1][prefixKey(vals[:l-1])]
			t.parent[l] = append(t.parent[l], p)
			t.children[l] = append(t.children[l], nil)
			t.children[l-1][p] = append(t.children[l-1][p], i)
		}
	}
	return t
}

func prefixKey(vals []string) string {
	k := ""
	for _, v := range vals {
		k += v + "\x00"
	}
	return k
}

func (t *tree) depth() int { return len(t.parent) - 1 }

// sums adds the per-arm statistics of the cells up the tree: out[l][i][a].
// Cells must be in leaf order (the order the tree was built from, which is
// unique per cell, so leaf index = cell index).
func (t *tree) sums(cell [][]suff) [][][]suff {
	d := t.depth()
	out := make([][][]suff, d+1)
	arms := 0
	if len(cell) > 0 {
		arms = len(cell[0])
	}
	for l := range out {
		out[l] = make([][]suff, len(t.parent[l]))
		for i := range out[l] {
			out[l][i] = make([]suff, arms)
		}
	}
	for c := range cell {
		copy(out[d][c], cell[c])
	}
	for l := d; l >= 1; l-- {
		for i, p := range t.parent[l] {
			for a := range out[l][i] {
				out[l-1][p][a].add(out[l][i][a])
			}
		}
	}
	return out
}

// moderatedDF is d0, the prior degrees of freedom of the moderated
// per-unit variance.
const moderatedDF = 10

// armMoments are one arm's mean and moderated per-unit variance in a node.
type armMoments struct {
	n, mean, s2 float64
}

// moments computes every node's per-arm moments top-down (the moderated
// variance needs the parent's).
func (t *tree) moments(sums [][][]suff, y func(suff) (float64, float64, float64)) [][][]armMoments {
	out := make([][][]armMoments, len(sums))
	for l := range sums {
		out[l] = make([][]armMoments, len(sums[l]))
		for i := range sums[l] {
			out[l][i] = make([]armMoments, len(sums[l][i]))
			for a, st := range sums[l][i] {
				n, s, q := y(st)
				m := armMoments{n: n}
				if n > 0 {
					m.mean = s / n
				}
				raw := 0.0
				if n >= 2 {
					raw = math.Max((q-s*s/n)/(n-1), 0)
				}
				if l == 0 {
					m.s2 = raw
				} else {
					ps2 := out[l-1][t.parent[l][i]][a].s2
					df := math.Max(n-1, 0)
					m.s2 = (df*raw + moderatedDF*ps2) / (df + moderatedDF)
				}
				out[l][i][a] = m
			}
		}
	}
	return out
}

// effect is a node's raw and shrunk effect of one arm against control.
type effect struct {
	raw, rawV    float64
	ok           bool // raw is defined (units in the arm and in control)
	shrunk, shrV float64
	usable       bool // the root's effect of the arm is defined
	n, controlN  float64
}

// effects computes the raw and shrunk effects of every arm against arm 0
// in every node: out[l][i][a] (arm 0 is left zero).
func (t *tree) effects(mo [][][]armMoments) [][][]effect {
	out := make([][][]effect, len(mo))
	for l := range mo {
		out[l] = make([][]effect, len(mo[l]))
		for i := range mo[l] {
			out[l][i] = make([]effect, len(mo[l][i]))
			for a := 1; a < len(mo[l][i]); a++ {
				ma, m0 := mo[l][i][a], mo[l][i][0]
				e := effect{n: ma.n, controlN: m0.n}
				if ma.n > 0 && m0.n > 0 {
					e.ok = true
					e.raw = ma.mean - m0.mean
					e.rawV = ma.s2/ma.n + m0.s2/m0.n
				}
				out[l][i][a] = e
			}
		}
	}
	if len(out) == 0 || len(out[0]) == 0 {
		return out
	}
	root := out[0][0]
	for a := 1; a < len(root); a++ {
		if root[a].ok {
			root[a].shrunk, root[a].shrV, root[a].usable = root[a].raw, root[a].rawV, true
		}
	}
	for l := 0; l < len(out)-1; l++ {
		for p := range out[l] {
			kids := t.children[l][p]
			for a := 1; a < len(root); a++ {
				pe := out[l][p][a]
				A := betweenVariance(out[l+1], kids, a)
				for _, j := range kids {
					e := &out[l+1][j][a]
					e.usable = pe.usable
					if !e.ok {
						e.shrunk, e.shrV = pe.shrunk, pe.shrV
						continue
					}
					B := 0.0
					if e.rawV > 0 {
						B = e.rawV / (e.rawV + A)
					}
					e.shrunk = pe.shrunk + (1-B)*(e.raw-pe.shrunk)
					e.shrV = (1-B)*e.rawV + B*B*pe.shrV
				}
			}
		}
	}
	return out
}

// betweenVariance is the DerSimonian–Laird estimate A of the variance of
// the true effects of arm a among the nodes kids of one level (those with a
// defined effect of positive variance); 0 with fewer than two.
func betweenVariance(level [][]effect, kids []int, a int) float64 {
	var sw, sw2, swt float64
	j := 0
	for _, k := range kids {
		e := level[k][a]
		if !e.ok || e.rawV <= 0 {
			continue
		}
		w := 1 / e.rawV
		sw += w
		sw2 += w * w
		swt += w * e.raw
		j++
	}
	if j < 2 {
		return 0
	}
	mean := swt / sw
	var q float64
	for _, k := range kids {
		e := level[k][a]
		if !e.ok || e.rawV <= 0 {
			continue
		}
		d := e.raw - mean
		q += d * d / e.rawV
	}
	den := sw - sw2/sw
	if den <= 0 {
		return 0
	}
	return math.Max(0, (q-float64(j-1))/den)
}

// deepest returns, for cell c and arm a, the value f of the deepest node on
// the cell's path (leaf first) whose arm a has units; 0 when none has.
func (t *tree) deepest(sums [][][]suff, c, a int, f func(suff) float64) float64 {
	i := c
	for l := t.depth(); l >= 0; l-- {
		if st := sums[l][i][a]; st.n > 0 {
			return f(st)
		}
		if l > 0 {
			i = t.parent[l][i]
		}
	}
	return 0
}
