package console_test

// A minimal headless Chromium launcher for the console's browser test. The lead switches it to
// the shared harness (internal/web/webtest) at merge; until then it does what that harness
// does: Debian's /usr/bin/chromium, headless, a temporary profile, no network of its own; a
// missing Chromium skips the test, except under CI (CI=true), where it fails.

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// launch starts headless Chromium and returns a browser context, ended (and Chromium stopped)
// when the test ends.
func launch(t *testing.T) context.Context {
	t.Helper()
	return launchAsync(t)()
}

// launchAsync starts headless Chromium in the background (while the test sets up its node)
// and returns the function that waits for it.
func launchAsync(t *testing.T) func() context.Context {
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium); under CI the browser tests must run")
		} else {
			t.Skip("chromium is not installed (apt-get install chromium): browser test skipped")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }() // starts the browser
	return func() context.Context {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatalf("start chromium: %v", err)
		}
		return ctx
	}
}
