package console_test

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestFormAnalysisSettings: the form's alternative (a select), planned_mde
// and lower_is_better_metrics are saved, shown again when editing, and a
// bad value is marked at its input.
func TestFormAnalysisSettings(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		b := e.signIn(t, e.admin)
		_, page := b.get(t, "/console/experiments/new")
		if !strings.Contains(page, `<select id="alternative" name="alternative">`) || !strings.Contains(page, `name="planned_mde"`) {
			t.Fatalf("the form has no alternative select or planned_mde input:\n%s", page)
		}
		bad := with(goodForm("bad-alt"), "_csrf", b.csrf(t, "/console/experiments/new"), "alternative", "bigger", "planned_mde", "-1")
		status, page := b.post(t, "/console/experiments/new", bad, nil)
		if status != 422 || !slices.Contains(errFields(page), "alternative") || !slices.Contains(errFields(page), "planned_mde") {
			t.Fatalf("bad settings: %d %v, want 422 naming alternative and planned_mde", status, errFields(page))
		}
		form := with(goodForm("one-sided"), "_csrf", b.csrf(t, "/console/experiments/new"),
			"alternative", "greater", "planned_mde", "0.02", "lower_is_better_metrics", "unsub, return_rate")
		if status, page := b.post(t, "/console/experiments/new", form, nil); status != 303 {
			t.Fatalf("create: %d\n%s", status, page)
		}
		x, err := e.svc.GetExperiment(context.Background(), "one-sided")
		if err != nil {
			t.Fatal(err)
		}
		if x.Alternative != "greater" || x.PlannedMDE != 0.02 || !slices.Equal(x.LowerIsBetterMetrics, []string{"unsub", "return_rate"}) {
			t.Fatalf("saved alternative %q, planned_mde %v, lower_is_better_metrics %v", x.Alternative, x.PlannedMDE, x.LowerIsBetterMetrics)
		}
		_, page = b.get(t, "/console/experiments/one-sided/edit")
		for _, want := range []string{`<option value="greater" selected>`, `name="planned_mde" type="number" value="0.02"`,
			`name="lower_is_better_metrics" type="text" value="unsub, return_rate"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the edit form lacks %s", want)
			}
		}
	})
}
