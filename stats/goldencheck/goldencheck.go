package goldencheck

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Check is an independent value and the relative tolerance it is compared
// at; in a check file it is the pair [value, tolerance].
type Check struct {
	Value, Tol float64
}

// UnmarshalJSON reads the pair [value, tolerance].
func (c *Check) UnmarshalJSON(b []byte) error {
	var pair [2]float64
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("check value %s: want [value, tolerance]: %w", b, err)
	}
	if !(pair[1] >= 0) || pair[1] >= 1 {
		return fmt.Errorf("check value %s: tolerance must be in [0, 1)", b)
	}
	c.Value, c.Tol = pair[0], pair[1]
	return nil
}

// File is a check file: the check values of a JSON golden by path and of a
// CSV golden by key.
type File struct {
	Source string           `json:"source"`
	JSON   map[string]Check `json:"json"`
	CSV    map[string]Check `json:"csv"`
}

// Load reads the check file at path.
func Load(path string) (File, error) {
	var f File
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// match reports whether got is within c.Tol of c.Value, relative to the
// larger magnitude.
func (c Check) match(got float64) bool {
	if got == c.Value {
		return true
	}
	return math.Abs(got-c.Value) <= c.Tol*math.Max(math.Abs(got), math.Abs(c.Value))
}

// JSONProblems walks every numeric leaf of the JSON document golden and
// returns one line per problem: a number without a check value, a number
// off its check value, or a check value whose number is missing. Sorted by
// path.
func JSONProblems(golden []byte, checks map[string]Check) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	leaves := map[string]float64{}
	if err := walk(doc, "", leaves); err != nil {
		return nil, err
	}
	return compare("number", leaves, checks), nil
}

func walk(v any, path string, leaves map[string]float64) error {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := walk(e, join(k), leaves); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := walk(e, join(strconv.Itoa(i)), leaves); err != nil {
				return err
			}
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		leaves[path] = f
	}
	return nil
}

// CSVProblems is JSONProblems for a CSV golden with a header row: every
// cell outside the key columns that parses as a number is checked under
// the key "k1|k2|…|column" (the row's cells of keyColumns, then the
// column's name).
func CSVProblems(golden []byte, keyColumns []string, checks map[string]Check) ([]string, error) {
	rows, err := csv.NewReader(bytes.NewReader(golden)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no header row")
	}
	index := map[string]int{}
	for i, c := range rows[0] {
		index[c] = i
	}
	var keyIdx []int
	isKey := map[int]bool{}
	for _, k := range keyColumns {
		i, ok := index[k]
		if !ok {
			return nil, fmt.Errorf("no key column %q", k)
		}
		keyIdx = append(keyIdx, i)
		isKey[i] = true
	}
	cells := map[string]float64{}
	for n, r := range rows[1:] {
		key := make([]string, 0, len(keyIdx)+1)
		for _, i := range keyIdx {
			key = append(key, r[i])
		}
		for i, cell := range r {
			if isKey[i] {
				continue
			}
			f, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				continue // empty, text or boolean
			}
			k := strings.Join(append(key, rows[0][i]), "|")
			if _, dup := cells[k]; dup {
				return nil, fmt.Errorf("line %d: key %q is not unique", n+2, k)
			}
			cells[k] = f
		}
	}
	return compare("cell", cells, checks), nil
}

func compare(what string, got map[string]float64, checks map[string]Check) []string {
	var out []string
	for k, v := range got {
		c, ok := checks[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: %s %v has no independent check value", k, what, v))
		case !c.match(v):
			out = append(out, fmt.Sprintf("%s: %s %v, independent check value %v (relative difference %.3g, tolerance %g)",
				k, what, v, c.Value, math.Abs(v-c.Value)/math.Max(math.Abs(v), math.Abs(c.Value)), c.Tol))
		}
	}
	for k := range checks {
		if _, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("%s: check value %v has no %s in the golden", k, checks[k].Value, what))
		}
	}
	sort.Strings(out)
	return out
}

// maxReported is how many problems Expect lists before it only counts.
const maxReported = 40

// Expect fails t with the problems of golden (JSONProblems or
// CSVProblems), listing the first maxReported, or with err.
func Expect(t testing.TB, golden string, problems []string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	for i, p := range problems {
		if i == maxReported {
			t.Errorf("%s: … %d problems in all", golden, len(problems))
			break
		}
		t.Errorf("%s: %s", golden, p)
	}
}
