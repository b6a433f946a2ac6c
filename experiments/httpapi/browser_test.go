package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds headless Chromium, or "" when it is not installed.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is PROMOLIFT_ARTIFACTS when set, else a test temp dir.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("PROMOLIFT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// runChromium runs headless Chromium with a fresh profile and returns its
// stdout and stderr. Chromium killed by a signal (it crashes now and then
// on a heavily loaded machine) is run once more; any other failure, and a
// second crash, fail the test.
func runChromium(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		out, errs, err := chromiumOnce(t, bin, args...)
		var exit *exec.ExitError
		if err != nil && attempt == 1 && errors.As(err, &exit) && !exit.Exited() {
			t.Logf("chromium %v: %v; running it again\nstderr:\n%s", args, err, tail(errs, 1000))
			continue
		}
		if err != nil {
			t.Fatalf("chromium %v: %v\nstderr:\n%s", args, err, tail(errs, 3000))
		}
		return out, errs
	}
}

// chromiumOnce runs headless Chromium once, with a fresh profile.
func chromiumOnce(t *testing.T, bin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err() // timed out: not a crash to run again
	}
	return out.String(), errb.String(), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// consoleErrors are the page's JavaScript or console errors in
// Chromium's log (the page has no script, so there should be none), and
// refused network loads.
var consoleErrors = regexp.MustCompile(`(?m)^.*(Uncaught|CONSOLE\(\d+\)|:CONSOLE|Refused to load|net::ERR_).*$`)

func TestReportPageInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); required because PROMOLIFT_REQUIRE_POSTGRES=1")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	e := newReportEnv(t)
	_, body := e.get(t, "/api/v1/experiments/spring-sale/report", e.analyst)
	var rep ReportResponse
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	url := e.srv.URL + "/experiments/spring-sale?token=" + e.analyst

	dom, stderr := runChromium(t, bin, "--dump-dom", url)
	if m := consoleErrors.FindAllString(stderr, -1); len(m) > 0 {
		t.Errorf("browser console errors:\n%s", strings.Join(m, "\n"))
	}
	if !strings.Contains(dom, `id="headline"`) {
		t.Fatalf("the rendered page has no headline (the token login failed?):\n%s", tail(dom, 2000))
	}
	text := html.UnescapeString(dom)
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
	if got, want := strings.Join(svgCounts(dom), " "), "bars:0:2 forest:4:0 lift:8:0"; got != want {
		t.Errorf("svg charts %q, want %q", got, want)
	}
	if n := strings.Count(dom, `class="pt"`); n != 4+len(rep.Series) {
		t.Errorf("%d points rendered, want %d", n, 4+len(rep.Series))
	}
	if n := strings.Count(dom, `class="bar"`); n != len(rep.Variants) {
		t.Errorf("%d bars rendered, want %d", n, len(rep.Variants))
	}

	dir := artifactsDir(t)
	if err := os.WriteFile(filepath.Join(dir, "report-spring-sale.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report-spring-sale.png")
	_, stderr = runChromium(t, bin, "--screenshot="+shot, "--window-size=1200,2400", "--hide-scrollbars", url)
	if m := consoleErrors.FindAllString(stderr, -1); len(m) > 0 {
		t.Errorf("browser console errors (screenshot):\n%s", strings.Join(m, "\n"))
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: %v (size %d)", shot, err, sizeOf(st))
	}
	phone := filepath.Join(dir, "report-spring-sale-phone.png")
	runChromium(t, bin, "--screenshot="+phone, "--window-size=390,1800", "--hide-scrollbars", url)
	t.Logf("screenshots: %s and %s", shot, phone)
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}
