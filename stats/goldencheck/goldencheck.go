package goldencheck

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
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
	// Text holds, by path, the numbers written inside a JSON string
	// (TextProblems).
	Text map[string][]float64 `json:"text"`
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
	doc, err := decode(golden)
	if err != nil {
		return nil, err
	}
	leaves := map[string]float64{}
	err = visit(doc, "", func(path string, leaf any) error {
		n, ok := leaf.(json.Number)
		if !ok {
			return nil
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		leaves[path] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return compare("number", leaves, checks), nil
}

// TextProblems checks the numbers written inside the strings of the JSON
// document golden (a decision's reason, a date, a slice named by an hour):
// every string leaf with a digit must have, at its path in text, the
// numbers it shows in order, and each shown number must be its value
// rounded to the digits shown (within half a unit of its last digit). A
// sign counts only after a space, a bracket or a parenthesis, so the
// hyphens of 2026-03-01 are no minus signs. Check values whose string is
// missing are problems too.
func TextProblems(golden []byte, text map[string][]float64) ([]string, error) {
	doc, err := decode(golden)
	if err != nil {
		return nil, err
	}
	strs := map[string]string{}
	_ = visit(doc, "", func(path string, leaf any) error {
		if s, ok := leaf.(string); ok {
			strs[path] = s
		}
		return nil
	})
	var out []string
	for path, s := range strs {
		shown := numbersIn(s)
		if len(shown) == 0 {
			continue
		}
		want, ok := text[path]
		if !ok {
			out = append(out, fmt.Sprintf("%s: string %q shows numbers without independent check values", path, s))
			continue
		}
		if len(want) != len(shown) {
			out = append(out, fmt.Sprintf("%s: string %q shows %d numbers, the check values are %v", path, s, len(shown), want))
			continue
		}
		for i, n := range shown {
			if !n.rounds(want[i]) {
				out = append(out, fmt.Sprintf("%s: string %q shows %s, independent check value %v", path, s, n.text, want[i]))
			}
		}
	}
	for path, want := range text {
		if _, ok := strs[path]; !ok || len(numbersIn(strs[path])) == 0 {
			out = append(out, fmt.Sprintf("%s: check values %v have no string with numbers in the golden", path, want))
		}
	}
	sort.Strings(out)
	return out, nil
}

// shownNumber is a number written in a string, with its decimals.
type shownNumber struct {
	text     string
	value    float64
	decimals int
}

// rounds reports whether the shown number is v rounded to its decimals.
func (n shownNumber) rounds(v float64) bool {
	half := 0.5 * math.Pow(10, -float64(n.decimals))
	return math.Abs(n.value-v) <= half*(1+1e-9)
}

var numberRe = regexp.MustCompile(`[-+]?\d+(?:\.\d+)?`)

func numbersIn(s string) []shownNumber {
	var out []shownNumber
	for _, loc := range numberRe.FindAllStringIndex(s, -1) {
		t := s[loc[0]:loc[1]]
		if (t[0] == '-' || t[0] == '+') && loc[0] > 0 && !strings.ContainsRune(" [(", rune(s[loc[0]-1])) {
			t = t[1:] // a hyphen inside a word or a date
		}
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			continue
		}
		d := 0
		if i := strings.IndexByte(t, '.'); i >= 0 {
			d = len(t) - i - 1
		}
		out = append(out, shownNumber{text: t, value: v, decimals: d})
	}
	return out
}

// visit calls f with the path and value of every leaf of the decoded
// JSON v (object keys and array indices joined with ".").
func visit(v any, path string, f func(path string, leaf any) error) error {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := visit(e, join(k), f); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := visit(e, join(strconv.Itoa(i)), f); err != nil {
				return err
			}
		}
	default:
		return f(path, v)
	}
	return nil
}

// decode reads a JSON document with its numbers as json.Number.
func decode(golden []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.UseNumber()
	var doc any
	err := dec.Decode(&doc)
	return doc, err
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
