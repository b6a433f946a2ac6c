package assign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// casesPath is GrowthBook's cross-SDK test suite (spec 0.8.0), copied into
// testdata with its license and source (testdata/growthbook/README.md).
const casesPath = "testdata/growthbook/cases.json"

// skippedCases lists, per section, the cases we do not run, with the reason.
// Only cases that need a browser URL / query string (or encryption) may be
// listed here.
var skippedCases = map[string]map[string]string{
	"run": {
		"querystring force":               "needs the page URL (query-string override ?forced-test-qs=1); promolift has no browser context",
		"querystring force with inactive": "needs the page URL (query-string override ?my-test=1 beats active=false); promolift has no browser context",
	},
}

// requiredSections are the sections that must run.
var requiredSections = []string{
	"hash", "getBucketRange", "chooseVariation", "inNamespace", "getEqualWeights",
	"evalCondition", "run", "feature", "stickyBucket",
}

func loadCases(t *testing.T) map[string][]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(casesPath)
	if err != nil {
		t.Fatalf("GrowthBook conformance cases missing (see testdata/growthbook/README.md): %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]json.RawMessage{}
	for k, v := range raw {
		var rows []json.RawMessage
		if json.Unmarshal(v, &rows) == nil {
			out[k] = rows
		}
	}
	return out
}

type sectionCount struct{ ran, passed, skipped int }

func TestGrowthBookCases(t *testing.T) {
	cases := loadCases(t)
	counts := map[string]*sectionCount{}
	runners := map[string]func(t *testing.T, row []json.RawMessage){
		"hash":            caseHash,
		"getBucketRange":  caseBucketRange,
		"chooseVariation": caseChooseVariation,
		"inNamespace":     caseInNamespace,
		"getEqualWeights": caseEqualWeights,
		"evalCondition":   caseEvalCondition,
		"run":             caseRun,
		"feature":         caseFeature,
		"stickyBucket":    caseStickyBucket,
	}
	for _, section := range requiredSections {
		rows := cases[section]
		if len(rows) == 0 {
			t.Fatalf("section %s missing from cases.json", section)
		}
		c := &sectionCount{}
		counts[section] = c
		t.Run(section, func(t *testing.T) {
			for i, rowRaw := range rows {
				var row []json.RawMessage
				if err := json.Unmarshal(rowRaw, &row); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%d", i)
				if section != "hash" && section != "getEqualWeights" {
					_ = json.Unmarshal(row[0], &name)
				}
				if reason, ok := skippedCases[section][name]; ok {
					c.skipped++
					t.Run(name, func(t *testing.T) { t.Skip(reason) })
					continue
				}
				c.ran++
				if t.Run(name, func(t *testing.T) { runners[section](t, row) }) {
					c.passed++
				}
			}
		})
	}
	var b strings.Builder
	for _, section := range requiredSections {
		c := counts[section]
		fmt.Fprintf(&b, "\n  %-16s ran %3d  passed %3d  skipped %d", section, c.ran, c.passed, c.skipped)
		var names []string
		for n := range skippedCases[section] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "\n    skipped %q: %s", n, skippedCases[section][n])
		}
	}
	t.Logf("GrowthBook cases.json (spec 0.8.0):%s", b.String())
	if testing.Verbose() {
		fmt.Printf("GrowthBook cases.json (spec 0.8.0):%s\n", b.String())
	}
}

func mustUnmarshal(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("unmarshal %s: %v", raw, err)
	}
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

func caseHash(t *testing.T, row []json.RawMessage) {
	var seed, value string
	var version int
	var want *float64
	mustUnmarshal(t, row[0], &seed)
	mustUnmarshal(t, row[1], &value)
	mustUnmarshal(t, row[2], &version)
	mustUnmarshal(t, row[3], &want)
	got, ok := Hash(seed, value, version)
	switch {
	case want == nil && ok:
		t.Errorf("Hash(%q,%q,%d) = %v, want invalid", seed, value, version, got)
	case want != nil && (!ok || got != *want):
		t.Errorf("Hash(%q,%q,%d) = %v,%v, want %v", seed, value, version, got, ok, *want)
	}
}

func caseBucketRange(t *testing.T, row []json.RawMessage) {
	var args []json.RawMessage
	mustUnmarshal(t, row[1], &args)
	var n int
	var cov *float64
	var w []float64
	var want [][2]float64
	mustUnmarshal(t, args[0], &n)
	mustUnmarshal(t, args[1], &cov)
	mustUnmarshal(t, args[2], &w)
	mustUnmarshal(t, row[2], &want)
	c := 1.0
	if cov != nil {
		c = *cov
	}
	got := BucketRanges(n, c, w)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if round6(got[i].Start) != round6(want[i][0]) || round6(got[i].End) != round6(want[i][1]) {
			t.Errorf("range %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func caseChooseVariation(t *testing.T, row []json.RawMessage) {
	var n float64
	var ranges []Range
	var want int
	mustUnmarshal(t, row[1], &n)
	mustUnmarshal(t, row[2], &ranges)
	mustUnmarshal(t, row[3], &want)
	if got := ChooseVariation(n, ranges); got != want {
		t.Errorf("ChooseVariation(%v, %v) = %d, want %d", n, ranges, got, want)
	}
}

func caseInNamespace(t *testing.T, row []json.RawMessage) {
	var id string
	var ns Namespace
	var want bool
	mustUnmarshal(t, row[1], &id)
	mustUnmarshal(t, row[2], &ns)
	mustUnmarshal(t, row[3], &want)
	if got := InNamespace(id, ns); got != want {
		t.Errorf("InNamespace(%q, %+v) = %v, want %v", id, ns, got, want)
	}
}

func caseEqualWeights(t *testing.T, row []json.RawMessage) {
	var n int
	var want []float64
	mustUnmarshal(t, row[0], &n)
	mustUnmarshal(t, row[1], &want)
	got := EqualWeights(n)
	if len(got) != len(want) {
		t.Fatalf("EqualWeights(%d) = %v, want %v", n, got, want)
	}
	for i := range got {
		if round6(got[i]) != round6(want[i]) {
			t.Errorf("EqualWeights(%d)[%d] = %v, want %v", n, i, got[i], want[i])
		}
	}
}

func caseEvalCondition(t *testing.T, row []json.RawMessage) {
	var attrs Attributes
	var want bool
	var groups SavedGroups
	mustUnmarshal(t, row[2], &attrs)
	mustUnmarshal(t, row[3], &want)
	if len(row) > 4 {
		mustUnmarshal(t, row[4], &groups)
	}
	c, err := ParseConditionLax(row[1])
	if err != nil {
		t.Fatalf("ParseConditionLax(%s): %v", row[1], err)
	}
	if got := c.Eval(attrs, groups); got != want {
		t.Errorf("Eval(%s, %s) = %v, want %v", row[1], row[2], got, want)
	}
}

// gbContext is the context object of run/feature/stickyBucket cases.
type gbContext struct {
	Attributes        Attributes                 `json:"attributes"`
	Features          map[string]json.RawMessage `json:"features"`
	ForcedVariations  map[string]int             `json:"forcedVariations"`
	SavedGroups       json.RawMessage            `json:"savedGroups"`
	ContextualBandits json.RawMessage            `json:"contextualBandits"`
	Enabled           *bool                      `json:"enabled"`
	QAMode            bool                       `json:"qaMode"`
	URL               string                     `json:"url"`
}

func (c *gbContext) spec(t *testing.T, experiments ...json.RawMessage) *Spec {
	t.Helper()
	doc := map[string]any{"features": c.Features, "experiments": experiments}
	if len(c.SavedGroups) > 0 {
		doc["savedGroups"] = c.SavedGroups
	}
	if len(c.ContextualBandits) > 0 {
		doc["contextualBandits"] = c.ContextualBandits
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSpecLax(data)
	if err != nil {
		t.Fatalf("DecodeSpecLax: %v", err)
	}
	return s
}

func (c *gbContext) eval() *Eval {
	return &Eval{
		Attributes:       c.Attributes,
		ForcedVariations: c.ForcedVariations,
		Disabled:         c.Enabled != nil && !*c.Enabled,
		QAMode:           c.QAMode,
	}
}

func jsonEq(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if len(a) == 0 {
		a = json.RawMessage("null")
	}
	if len(b) == 0 {
		b = json.RawMessage("null")
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return deepEqual(x, y)
}

func caseRun(t *testing.T, row []json.RawMessage) {
	var ctx gbContext
	mustUnmarshal(t, row[1], &ctx)
	var exp struct {
		Key string `json:"key"`
	}
	mustUnmarshal(t, row[2], &exp)
	var inExp, hashUsed bool
	mustUnmarshal(t, row[4], &inExp)
	mustUnmarshal(t, row[5], &hashUsed)
	s := ctx.spec(t, row[2])
	res, err := s.RunWith(ctx.eval(), exp.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEq(t, res.Value, row[3]) || res.InExperiment != inExp || res.HashUsed != hashUsed {
		t.Errorf("got value=%s in=%v hashUsed=%v (reason %s), want value=%s in=%v hashUsed=%v",
			res.Value, res.InExperiment, res.HashUsed, res.Reason, row[3], inExp, hashUsed)
	}
}

// checkExperimentResult compares our Result with GrowthBook's experimentResult.
func checkExperimentResult(t *testing.T, got *Result, wantRaw json.RawMessage) {
	t.Helper()
	if string(bytes.TrimSpace(wantRaw)) == "null" || len(wantRaw) == 0 {
		if got != nil {
			t.Errorf("experimentResult = %+v, want null", *got)
		}
		return
	}
	if got == nil {
		t.Errorf("experimentResult = nil, want %s", wantRaw)
		return
	}
	var want map[string]json.RawMessage
	mustUnmarshal(t, wantRaw, &want)
	str := func(k string) string {
		var v any
		_ = json.Unmarshal(want[k], &v)
		if f, ok := v.(float64); ok {
			return string(appendJSNumber(nil, f))
		}
		s, _ := v.(string)
		return s
	}
	boolv := func(k string) bool {
		var b bool
		_ = json.Unmarshal(want[k], &b)
		return b
	}
	var errs []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			errs = append(errs, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	for k, raw := range want {
		switch k {
		case "key":
			check(k, got.VariantKey == str(k), got.VariantKey, str(k))
		case "featureId":
			check(k, got.FeatureID == str(k), got.FeatureID, str(k))
		case "inExperiment":
			check(k, got.InExperiment == boolv(k), got.InExperiment, boolv(k))
		case "hashUsed":
			check(k, got.HashUsed == boolv(k), got.HashUsed, boolv(k))
		case "stickyBucketUsed":
			check(k, got.StickyBucketUsed == boolv(k), got.StickyBucketUsed, boolv(k))
		case "passthrough":
			check(k, got.Passthrough == boolv(k), got.Passthrough, boolv(k))
		case "variationId":
			var w int
			mustUnmarshal(t, raw, &w)
			check(k, got.VariationIndex == w, got.VariationIndex, w)
		case "value":
			check(k, jsonEq(t, got.Value, raw), string(got.Value), string(raw))
		case "hashAttribute":
			check(k, got.HashAttribute == str(k), got.HashAttribute, str(k))
		case "hashValue":
			check(k, got.HashValue == str(k), got.HashValue, str(k))
		case "name":
			check(k, got.VariantName == str(k), got.VariantName, str(k))
		case "bucket":
			var w float64
			mustUnmarshal(t, raw, &w)
			check(k, got.HashUsed && got.Bucket == w, got.Bucket, w)
		case "leafId", "variationWeights", "banditVersion":
			if got.Bandit == nil {
				errs = append(errs, k+": no bandit data")
				continue
			}
			b, _ := json.Marshal(got.Bandit)
			var m map[string]json.RawMessage
			_ = json.Unmarshal(b, &m)
			check(k, jsonEq(t, m[k], raw), string(m[k]), string(raw))
		default:
			errs = append(errs, "unchecked field "+k)
		}
	}
	if _, ok := want["bucket"]; !ok && got.HashUsed {
		errs = append(errs, "bucket present but not expected")
	}
	if _, ok := want["leafId"]; !ok && got.Bandit != nil {
		errs = append(errs, "bandit data present but not expected")
	}
	sort.Strings(errs)
	for _, e := range errs {
		t.Errorf("experimentResult.%s", e)
	}
}

func caseFeature(t *testing.T, row []json.RawMessage) {
	var ctx gbContext
	mustUnmarshal(t, row[1], &ctx)
	var key string
	mustUnmarshal(t, row[2], &key)
	var want struct {
		Value            json.RawMessage `json:"value"`
		On               bool            `json:"on"`
		Off              bool            `json:"off"`
		Source           Source          `json:"source"`
		RuleID           *string         `json:"ruleId"`
		Experiment       json.RawMessage `json:"experiment"`
		ExperimentResult json.RawMessage `json:"experimentResult"`
	}
	mustUnmarshal(t, row[3], &want)
	s := ctx.spec(t)
	got := s.EvalFeatureWith(ctx.eval(), key)
	if !jsonEq(t, got.Value, want.Value) || got.On != want.On || got.Off != want.Off || got.Source != want.Source {
		t.Errorf("got value=%s on=%v off=%v source=%s, want value=%s on=%v off=%v source=%s",
			got.Value, got.On, got.Off, got.Source, want.Value, want.On, want.Off, want.Source)
	}
	if want.RuleID != nil && got.RuleID != *want.RuleID {
		t.Errorf("ruleId = %q, want %q", got.RuleID, *want.RuleID)
	}
	if len(want.Experiment) == 0 {
		if got.Experiment != nil {
			t.Errorf("experiment = %s, want none", got.Experiment.Key)
		}
	} else {
		var we struct {
			Key              string            `json:"key"`
			Variations       []json.RawMessage `json:"variations"`
			ContextualBandit json.RawMessage   `json:"contextualBandit"`
		}
		mustUnmarshal(t, want.Experiment, &we)
		if got.Experiment == nil {
			t.Fatalf("experiment = nil, want %s", want.Experiment)
		}
		if got.Experiment.Key != we.Key || len(got.Experiment.Variations) != len(we.Variations) {
			t.Errorf("experiment = %s (%d variations), want %s (%d)", got.Experiment.Key, len(got.Experiment.Variations), we.Key, len(we.Variations))
		}
		for i := range we.Variations {
			if i < len(got.Experiment.Variations) && !jsonEq(t, got.Experiment.Variations[i], we.Variations[i]) {
				t.Errorf("experiment.variations[%d] = %s, want %s", i, got.Experiment.Variations[i], we.Variations[i])
			}
		}
	}
	if len(want.ExperimentResult) > 0 || got.ExperimentResult != nil {
		checkExperimentResult(t, got.ExperimentResult, want.ExperimentResult)
	}
}

func caseStickyBucket(t *testing.T, row []json.RawMessage) {
	var ctx gbContext
	mustUnmarshal(t, row[1], &ctx)
	var docs []StickyDoc
	mustUnmarshal(t, row[2], &docs)
	var key string
	mustUnmarshal(t, row[3], &key)
	var wantDocs map[string]StickyDoc
	mustUnmarshal(t, row[5], &wantDocs)
	s := ctx.spec(t)
	// Load the unit's docs, as a GrowthBook SDK does before evaluating.
	all := NewStickyDocs(docs...)
	store := NewStickyDocs()
	for _, k := range s.StickyBucketKeys(ctx.Attributes) {
		if d, ok := all.Docs[k]; ok {
			store.Docs[k] = d
		}
	}
	ev := ctx.eval()
	ev.Sticky = store
	got := s.EvalFeatureWith(ev, key)
	checkExperimentResult(t, got.ExperimentResult, row[4])
	gotDocs, _ := json.Marshal(store.Docs)
	wantJSON, _ := json.Marshal(wantDocs)
	if !jsonEq(t, gotDocs, wantJSON) {
		t.Errorf("docs = %s\nwant %s", gotDocs, wantJSON)
	}
}

// TestStrictParseOfCases checks ParseCondition (strict) accepts every
// evalCondition case except the deliberately malformed ones, which it must
// reject (ParseConditionLax makes them evaluate to false instead).
func TestStrictParseOfCases(t *testing.T) {
	malformed := map[string]bool{
		"$in - not array": true, "$nin - not array": true, "$ini - not array": true, "$nini - not array": true,
		"unknown operator - pass": true, "$regex invalid - pass": true, "$regex invalid - fail": true,
	}
	for _, raw := range loadCases(t)["evalCondition"] {
		var row []json.RawMessage
		mustUnmarshal(t, raw, &row)
		var name string
		mustUnmarshal(t, row[0], &name)
		_, err := ParseCondition(row[1])
		if malformed[name] != (err != nil) {
			t.Errorf("%s: ParseCondition error = %v, want error: %v", name, err, malformed[name])
		}
	}
}
