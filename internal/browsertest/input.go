package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Helpers for the tests of the pages' scripts (local times, keyboard
// navigation between days, live today): they act as a reader would.

// TimeZone makes the tab's JavaScript see the reader's IANA time zone
// ("Asia/Kolkata"); "" returns to the host's.
func (tab *Tab) TimeZone(t testing.TB, zone string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	set := func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Func(set)); err != nil {
		t.Fatalf("browsertest: time zone %q: %v", zone, err)
	}
}

// Press types keys into the focused element (or the page), as key events:
// "]" or "\t"; chromedp's kb package names the special keys.
func (tab *Tab) Press(t testing.TB, keys string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(keys)); err != nil {
		t.Fatalf("browsertest: press %q: %v", keys, err)
	}
}

// WaitFor waits until the JavaScript expression is truthy and returns its
// value, failing the test after timeout (for what a script does later: a
// navigation by key, a message arriving on a live page).
func WaitFor[T any](t testing.TB, tab *Tab, expr string, timeout time.Duration) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, timeout+5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		t.Fatalf("browsertest: waiting for %.80q: %v", expr, err)
	}
	return v
}
