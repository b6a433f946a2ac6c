package httpapi

import (
	"regexp"
	"sort"
	"strings"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// Plain-language texts for the codes the pages show: experiment
// statuses, decisions, and the error and warning codes of the analysis,
// so that no raw code ("srm: low_expected_count", "no_units") reaches a
// reader.

// statusTexts name each status and say what it means for customers.
var statusTexts = map[string][2]string{
	string(experiments.StatusDraft):    {"Draft", "not started: nobody is assigned and no promotion is shown"},
	string(experiments.StatusRunning):  {"Running", "customers are being assigned and shown their promotion"},
	string(experiments.StatusPaused):   {"Paused", "nobody new is assigned; customers already in it keep counting"},
	string(experiments.StatusStopped):  {"Stopped", "finished: nobody is assigned any more; the report stays"},
	string(experiments.StatusArchived): {"Archived", "put away: hidden from the default lists, the report stays"},
}

// StatusLabel is the name of an experiment status ("Running").
func StatusLabel(status string) string {
	if t, ok := statusTexts[status]; ok {
		return t[0]
	}
	return status
}

// StatusMeaning says what an experiment status means for customers.
func StatusMeaning(status string) string {
	if t, ok := statusTexts[status]; ok {
		return t[1]
	}
	return ""
}

// ActionLabel names a decision action ("Keep running").
func ActionLabel(action string) string {
	switch action {
	case "ship":
		return "Ship"
	case "keep_running":
		return "Keep running"
	case "stop":
		return "Stop"
	}
	return action
}

// codeTexts explain the analysis' error and warning codes.
var codeTexts = map[string]string{
	string(stats.ErrNoUnits):            "no customers in one of the variants yet",
	string(stats.ErrInsufficientSample): "too few customers yet to measure the spread (at least 2 per variant are needed)",
	string(stats.ErrZeroVariance):       "every customer behaved the same, so the uncertainty cannot be estimated",
	string(stats.ErrBaselineZero):       "control has no conversions yet, so a relative lift cannot be computed",
	string(stats.ErrNonpositiveCost):    "the promotion has cost nothing yet, so its return on cost cannot be computed",
	stats.WarnLowSample:                 "few customers or conversions so far; the result may still move a lot",
	"srm":                               "the traffic split differs from the design",
	"non_finite_clamped":                "some values were out of range and were capped",
	"low_expected_count":                "too few customers yet for a reliable check of the traffic split (fewer than 5 expected in a variant)",
	"units_in_zero_weight_arm":          "customers were counted in a variant whose weight is 0",
	experiments.ReasonOptedOut:          "the customer opted out of promotions",
	experiments.ReasonFrequencyCapped:   "the customer reached the frequency cap of the promotion's group",
	experiments.ReasonBudgetExhausted:   "the variant's promotion budget is spent",
}

// plainCode explains an error or warning code; an unknown code is
// returned as it is.
func plainCode(code string) string {
	if code == "" {
		return "not available"
	}
	if t, ok := codeTexts[code]; ok {
		return t
	}
	return strings.ReplaceAll(code, "_", " ")
}

// PlainCode explains an error or warning code of an analysis or an
// assignment in plain language.
func PlainCode(code string) string { return plainCode(code) }

// codeWord finds the codes of codeTexts inside a sentence.
var codeWord = func() *regexp.Regexp {
	codes := make([]string, 0, len(codeTexts))
	for c := range codeTexts {
		if strings.Contains(c, "_") {
			codes = append(codes, regexp.QuoteMeta(c))
		}
	}
	sort.Strings(codes)
	return regexp.MustCompile(`\(?\b(` + strings.Join(codes, "|") + `)\b\)?`)
}()

// plainSentence rewrites the codes inside a sentence of the report (a
// decision detail such as "analysis: baseline_zero") in words.
func plainSentence(s string) string {
	if code, ok := strings.CutPrefix(s, "analysis: "); ok {
		return "Not computable yet: " + plainCode(code) + "."
	}
	return codeWord.ReplaceAllStringFunc(s, func(m string) string {
		return "(" + plainCode(strings.Trim(m, "()")) + ")"
	})
}

// plainWarning rewrites a report warning: the sample-ratio warnings
// ("srm: low_expected_count") become sentences; the others already are.
func plainWarning(w string) string {
	if code, ok := strings.CutPrefix(w, "srm: "); ok {
		return "Traffic split check: " + plainCode(code) + "."
	}
	return plainSentence(w)
}
