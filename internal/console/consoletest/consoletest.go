// Package consoletest drives the web console in a real browser for tests:
// headless Chromium from Debian (/usr/bin/chromium, or $CACHALOT_CHROMIUM)
// through the DevTools protocol (chromedp), and screenshots kept as test
// artefacts under $CACHALOT_ARTIFACTS (a temporary directory when unset).
// Without Chromium a test is skipped, except in CI (CI=true), where a
// missing browser fails it. Only tests import it.
package consoletest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the browser's path, skipping the test (failing it in
// CI) when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	path := os.Getenv("CACHALOT_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s: CI installs Debian's chromium (.ci/run)", path)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium)", path)
	}
	return path
}

// Browser starts a headless Chromium for the test and returns a tab's
// context, closed in t.Cleanup. Every action in it is bounded by timeout.
func Browser(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	if err := chromedp.Do(ctx); err != nil {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

// Artifacts is the directory screenshots go to.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CACHALOT_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot writes a full-page PNG of the tab as dir/name.png.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// Do runs browser steps, failing the test with what was being done and
// what the page said.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("browser: %s (%v)", what, time.Since(start).Round(time.Millisecond)) }()
	if err := chromedp.Do(ctx, steps...); err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v (at %s; page says: %.800s)", what, err, url, text)
	}
}

// Text is the text of the first element matching the CSS selector.
func Text(t testing.TB, ctx context.Context, css string) string {
	t.Helper()
	// A page a form post replaces can drop the node between finding it
	// and reading it ("No node with given id found"): read it again from
	// the new page, for a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		if err == nil {
			return s
		}
		if !strings.Contains(err.Error(), "No node with given id") || time.Now().After(deadline) {
			t.Fatalf("text of %s: %v", css, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Contains waits until the first element matching the CSS selector shows
// substr in its text: the result of a form post, not an alert left from the
// page before it.
func Contains(css, substr string) chromedp.Action[chromedp.Void] {
	return waitFor(`(function(){var e=document.querySelector(` + quote(css) +
		`);return !!(e&&e.innerText.includes(` + quote(substr) + `))})()`)
}

// Lacks waits until no element matching the CSS selector shows substr in
// its text (or none matches).
func Lacks(css, substr string) chromedp.Action[chromedp.Void] {
	return waitFor(`(function(){var e=document.querySelector(` + quote(css) +
		`);return !e||!e.innerText.includes(` + quote(substr) + `)})()`)
}

// waitFor evaluates a boolean expression until it is true. Unlike
// chromedp.Poll it outlives navigations: a form post that replaces the page
// while the expression runs is retried on the new page.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	eval := chromedp.Evaluate[bool](expr)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			if ok, err := eval(ctx, t); err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Choose sets a select's value and fires its change event, as a user's
// choice does.
func Choose(css, value string) chromedp.Action[chromedp.Void] {
	return Eval(`(function(){var e=document.querySelector(` + quote(css) + `);e.value=` + quote(value) +
		`;e.dispatchEvent(new Event("change",{bubbles:true}));return true})()`)
}

// Eval evaluates a script in the page, dropping its value.
func Eval(expr string) chromedp.Action[chromedp.Void] {
	a := chromedp.Evaluate[any](expr)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
