package httpapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments/httpapi/browsertest"
)

// TestReportPageInBrowser opens the report in headless Chromium (through
// the DevTools protocol): the sign-in by ?token= sets the cookie and
// redirects, the page shows the JSON report's headline numbers, draws its
// charts, logs no console error, and does not scroll sideways on a
// desktop or a phone. Screenshots of both are saved as artifacts.
func TestReportPageInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	e := newReportEnv(t)
	_, body := e.get(t, "/api/v1/experiments/spring-sale/report", e.analyst)
	var rep ReportResponse
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	b.Open(t, e.srv.URL+"/experiments/spring-sale?token="+e.analyst, browsertest.Desktop)
	if u := b.URL(t); strings.Contains(u, "token=") || !strings.HasSuffix(u, "/experiments/spring-sale") {
		t.Errorf("after sign-in the page is %s, want the address without the token", u)
	}
	if !browsertest.Eval[bool](t, b, `!!document.getElementById('headline')`) {
		t.Fatalf("the rendered page has no headline (the token login failed?):\n%s", browsertest.Eval[string](t, b, `document.body.innerText`))
	}
	text := browsertest.Eval[string](t, b, `document.body.innerText`)
	// The headline numbers of the JSON report are on the page.
	want := []string{
		"ten_off on purchase: " + signed(*rep.Headline.Lift),
		"[" + signed(rep.Headline.CI[0]) + ", " + signed(rep.Headline.CI[1]) + "]",
		rep.Decision.Reason,
		pct(rep.Variants[0].ConversionRate), pct(rep.Variants[1].ConversionRate),
	}
	if rep.Analysis.ROI != nil && rep.Analysis.ROI.ROI != nil {
		want = append(want, pct(*rep.Analysis.ROI.ROI))
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("rendered page lacks %q", w)
		}
	}
	dom := browsertest.Eval[string](t, b, `document.documentElement.outerHTML`)
	if got, want := strings.Join(svgCounts(dom), " "), "bars:0:2 forest:4:0 lift:8:0"; got != want {
		t.Errorf("svg charts %q, want %q", got, want)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('circle.pt').length`); n != 4+len(rep.Series) {
		t.Errorf("%d points rendered, want %d", n, 4+len(rep.Series))
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('rect.bar').length`); n != len(rep.Variants) {
		t.Errorf("%d bars rendered, want %d", n, len(rep.Variants))
	}
	b.CheckNoErrors(t, "report")
	for _, w := range []int64{browsertest.Desktop, browsertest.Phone} {
		b.Resize(t, w)
		b.CheckNoSidewaysScroll(t, "report at "+strconv.FormatInt(w, 10)+" px")
	}
	desk := b.Screenshot(t, "report-spring-sale.png", browsertest.Desktop)
	phone := b.Screenshot(t, "report-spring-sale-phone.png", browsertest.Phone)
	t.Logf("screenshots: %s and %s", desk, phone)
}
