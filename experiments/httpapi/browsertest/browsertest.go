// Package browsertest drives headless Chromium through the DevTools
// protocol (chromedp) for the browser tests of the report pages and the
// console: open a page at a viewport width, evaluate JavaScript in it,
// check that it does not scroll sideways, collect its console errors and
// save full-page screenshots as test artifacts.
//
// It is a test helper: only _test.go files import it.
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The viewport widths the pages are checked at: a desktop and a phone.
const (
	Desktop = 1280
	Phone   = 390
)

// ChromiumPath finds headless Chromium, or "" when it is not installed.
func ChromiumPath() string {
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

// ArtifactsDir is PROMOLIFT_ARTIFACTS when set, else a test temp dir.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PROMOLIFT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	ctx context.Context
	mu  sync.Mutex
	// errs are the console errors, uncaught exceptions and error entries of
	// the browser log (refused loads, failed requests) seen so far.
	errs []string
}

// Start starts headless Chromium for the test (stopped at cleanup). It
// skips the test when Chromium is missing, unless PROMOLIFT_REQUIRE_POSTGRES
// is 1 (CI), and in -short mode. Chromium killed by a signal while starting
// (it crashes now and then on a loaded machine) is started once more.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := ChromiumPath()
	if bin == "" {
		if os.Getenv("PROMOLIFT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); required because PROMOLIFT_REQUIRE_POSTGRES=1")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for attempt := 1; ; attempt++ {
		b, err := start(t, bin)
		var exit *exec.ExitError
		if err != nil && attempt == 1 && errors.As(err, &exit) && !exit.Exited() {
			t.Logf("chromium: %v; starting it again", err)
			continue
		}
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		return b
	}
}

func start(t testing.TB, bin string) (*Browser, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{ctx: ctx}
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		return nil, err
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
	})
	return b, nil
}

// timeout bounds one step against the page.
const timeout = 60 * time.Second

// run runs the actions with a timeout, failing the test on error.
func (b *Browser) run(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// Open sets the viewport to width × 900 CSS pixels and navigates to url,
// waiting for the page to load.
func (b *Browser) Open(t testing.TB, url string, width int64) {
	t.Helper()
	b.run(t, "open "+redact(url), chromedp.EmulateViewport(width, 900), chromedp.Navigate(url))
}

// Resize sets the viewport width (height 900) of the open page.
func (b *Browser) Resize(t testing.TB, width int64) {
	t.Helper()
	b.run(t, "resize", chromedp.EmulateViewport(width, 900))
}

// Do runs actions (clicks, typing, waiting for a load) on the page.
func (b *Browser) Do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	b.run(t, what, steps...)
}

// Submit runs trigger (a click on a submit button, a form.submit()) and
// waits for the page it loads.
func (b *Browser) Submit(t testing.TB, what string, trigger chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// Eval evaluates the JavaScript expression js in the page and decodes its
// value into T.
func Eval[T any](t testing.TB, b *Browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}

// URL is the address of the page now open.
func (b *Browser) URL(t testing.TB) string {
	t.Helper()
	return Eval[string](t, b, `location.href`)
}

// CheckNoSidewaysScroll fails the test when the page is wider than the
// viewport (document.documentElement.scrollWidth > clientWidth).
func (b *Browser) CheckNoSidewaysScroll(t testing.TB, page string) {
	t.Helper()
	w := Eval[[2]int](t, b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
	if w[0] > w[1] {
		wide := Eval[[]string](t, b, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : ''))`)
		t.Errorf("%s scrolls sideways: scrollWidth %d > clientWidth %d; too wide: %v", page, w[0], w[1], wide)
	}
}

// CheckNoInnerScroll fails the test when a scrolling box of the page (a
// table's wrapper) is wider than its room, so part of it hides behind a
// sideways scroll; the desktop layout must show every table whole.
func (b *Browser) CheckNoInnerScroll(t testing.TB, page string) {
	t.Helper()
	boxes := Eval[[]string](t, b, `Array.from(document.querySelectorAll('body *')).filter(e => {
		const o = getComputedStyle(e).overflowX; return (o === 'auto' || o === 'scroll') && e.scrollWidth > e.clientWidth + 1
	}).map(e => (e.closest('section') ? 'section#' + e.closest('section').id + ' ' : '') + e.tagName + ' > ' + (e.firstElementChild ? e.firstElementChild.tagName + '.' + e.firstElementChild.className : '') + ' ' + e.scrollWidth + '>' + e.clientWidth)`)
	if len(boxes) > 0 {
		t.Errorf("%s: boxes scroll sideways: %v", page, boxes)
	}
}

// Screenshot saves a full-page PNG of the open page at width as
// ArtifactsDir/name and returns its path. It leaves the viewport at
// width × 900.
func (b *Browser) Screenshot(t testing.TB, name string, width int64) string {
	t.Helper()
	b.Resize(t, width)
	h := Eval[int64](t, b, `Math.ceil(document.documentElement.scrollHeight)`)
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, max(h, 200))); err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	b.Resize(t, width)
	if len(png) < 10000 {
		t.Errorf("screenshot %s is only %d bytes", name, len(png))
	}
	path := filepath.Join(ArtifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Errors returns the console errors seen so far and forgets them.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

// CheckNoErrors fails the test when the page logged console errors,
// threw, or the browser refused or failed a load.
func (b *Browser) CheckNoErrors(t testing.TB, page string) {
	t.Helper()
	// Console events arrive asynchronously; a round trip lets those of
	// the page reach the collector.
	Eval[int](t, b, `1`)
	time.Sleep(50 * time.Millisecond)
	if e := b.Errors(); len(e) > 0 {
		t.Errorf("%s: browser console errors:\n%s", page, strings.Join(e, "\n"))
	}
}

// redact drops the query (it may hold a token) from url for messages.
func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?…"
	}
	return url
}
