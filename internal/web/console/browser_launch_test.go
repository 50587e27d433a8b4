package console_test

import (
	"context"
	"testing"

	"github.com/rabta/rabta/internal/web/webtest"
)

// launch starts headless Chromium (internal/web/webtest) and returns a 1280 × 900 tab's
// context, ended (and Chromium stopped) when the test ends.
func launch(t *testing.T) context.Context {
	t.Helper()
	return launchAsync(t)()
}

// launchAsync starts headless Chromium in the background (while the test sets up its node)
// and returns the function that waits for it and opens the tab.
func launchAsync(t *testing.T) func() context.Context {
	t.Helper()
	wait := webtest.StartAsync(t)
	return func() context.Context {
		t.Helper()
		return wait().Page(t, webtest.PageOptions{Width: 1280, Height: 900}).Ctx
	}
}

// artefacts is where the browser test writes its screenshots (webtest.ArtefactDir).
func artefacts(t *testing.T) string { return webtest.ArtefactDir(t) }
