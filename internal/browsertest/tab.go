package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// bindingName is the function every hostile payload calls, through the
// __xss wrapper defined before any page script runs. A binding rather than
// a page variable: the call reaches the test over the DevTools protocol, so
// a payload cannot fake or hide it by overwriting page state.
const bindingName = "__mxarchiveXSSHit"

// guardScript runs in every frame before the page's own scripts. Bindings
// accept one string, so the wrapper converts whatever a payload passes.
const guardScript = `window.__xss = function (n) { window.` + bindingName + `(String(n)); };`

// pageTimeout bounds one navigation or script evaluation; a page of ours
// that takes longer is a failure, not something to wait out.
const pageTimeout = 30 * time.Second

// TabOptions configure a tab.
type TabOptions struct {
	// BypassCSP turns the page's Content-Security-Policy off, so a hostile
	// payload test checks the sanitizer and the templates alone: with the
	// archive's CSP (no scripts) in force, a sanitizer bug would be hidden.
	BypassCSP bool
	// InitScript, if set, runs in every document before the page's own
	// scripts (after the guard), as a test's stand-in for what a reader's
	// browser would do over time, such as a shorter timer.
	InitScript string
}

// Tab is one browser tab whose guards record what a hostile page did.
type Tab struct {
	ctx    context.Context
	origin string // scheme://host:port that the tab's pages may use

	mu          sync.Mutex
	calls       []string // arguments of __xss calls
	dialogs     []string // alert/confirm/prompt/beforeunload, dismissed
	navigations []string // main-frame navigations, in order
	offOrigin   []string // requests to anything but origin
}

// NewTab opens a tab in the shared browser for pages under base (an
// httptest server's URL); it closes when the test ends.
func (b *Browser) NewTab(t testing.TB, base string, opts TabOptions) *Tab {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("browsertest: base URL %q: %v", base, err)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tab := &Tab{ctx: ctx, origin: u.Scheme + "://" + u.Host}

	dialogs := make(chan struct{}, 64)
	if err := chromedp.Listen(ctx, func(ev any) {
		// Runs on the tab's read loop: record and return, never call back.
		tab.mu.Lock()
		defer tab.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventBindingCalled:
			if ev.Name == bindingName {
				tab.calls = append(tab.calls, ev.Payload)
			}
		case *page.EventJavascriptDialogOpening:
			tab.dialogs = append(tab.dialogs, string(ev.Type)+": "+ev.Message)
			select {
			case dialogs <- struct{}{}:
			default:
			}
		case *page.EventFrameNavigated:
			if ev.Frame != nil && ev.Frame.ParentID == "" {
				tab.navigations = append(tab.navigations, ev.Frame.URL+ev.Frame.URLFragment)
			}
		case *network.EventRequestWillBeSent:
			if ev.Request != nil && !tab.sameOrigin(ev.Request.URL) {
				tab.offOrigin = append(tab.offOrigin, ev.Request.URL)
			}
		}
	}); err != nil {
		t.Fatalf("browsertest: open tab: %v", err)
	}
	// An open dialog blocks the page and with it every later command, so
	// dismiss each as it opens; the test then reports it.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-dialogs:
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, _ = chromedp.Call(cctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
				cancel()
			}
		}
	}()

	setup := func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, runtime.AddBinding, runtime.AddBindingParams{Name: bindingName}); err != nil {
			return fmt.Errorf("add binding: %w", err)
		}
		if _, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: guardScript}); err != nil {
			return fmt.Errorf("add guard script: %w", err)
		}
		if opts.InitScript != "" {
			if _, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: opts.InitScript}); err != nil {
				return fmt.Errorf("add init script: %w", err)
			}
		}
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("enable network events: %w", err)
		}
		if opts.BypassCSP {
			if _, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
				return fmt.Errorf("bypass CSP: %w", err)
			}
		}
		return nil
	}
	tctx, tcancel := context.WithTimeout(ctx, pageTimeout)
	defer tcancel()
	if err := chromedp.Do(tctx, chromedp.Func(setup)); err != nil {
		t.Fatalf("browsertest: set up tab: %v", err)
	}
	return tab
}

func (tab *Tab) sameOrigin(raw string) bool {
	if strings.HasPrefix(raw, "data:") || strings.HasPrefix(raw, "about:") {
		// Not a request to anyone; the DOM check reports data: URLs.
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && u.Scheme+"://"+u.Host == tab.origin
}

// Context is the tab's chromedp context, for actions the helpers lack.
// Bound each use with a timeout.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Open loads path (relative to the tab's origin) and waits until the page
// has loaded and settled, so handlers that fire on load (onerror, ontoggle,
// meta refresh) have had their chance to run.
func (tab *Tab) Open(t testing.TB, path string) {
	t.Helper()
	// What an earlier page did was reported (or its test failed already).
	tab.Take()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(tab.origin+path))
	if err != nil {
		t.Fatalf("browsertest: open %s: %v", path, err)
	}
	if resp == nil || resp.Status != 200 {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("browsertest: open %s: status %d", path, status)
	}
	// Two animation frames and a timer turn: toggle events and load
	// errors are queued as tasks after the load event.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(true), 50))))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("browsertest: settle %s: %v", path, err)
	}
}

// Eval evaluates a script in the page and decodes its JSON value into T.
// Promises are awaited.
func Eval[T any](t testing.TB, tab *Tab, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browsertest: evaluate %.80q: %v", script, err)
	}
	return v
}

// Viewport sets the tab's width and height in CSS pixels, as a phone or a
// desktop would; the page is laid out again.
func (tab *Tab) Viewport(t testing.TB, width, height int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	mobile := width < 600
	set := func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
		})
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Func(set)); err != nil {
		t.Fatalf("browsertest: viewport %dx%d: %v", width, height, err)
	}
}

// Screenshot captures the whole page (beyond the viewport) as PNG.
func (tab *Tab) Screenshot(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	return png
}

// Report is what the guards saw since the tab opened or was last reset.
type Report struct {
	Calls       []string // __xss arguments: a payload ran
	Dialogs     []string // a dialog opened: a payload ran
	Navigations []string // main-frame navigations
	OffOrigin   []string // requests that left the archive's origin
}

// Take returns what the guards recorded and clears it.
func (tab *Tab) Take() Report {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	r := Report{Calls: tab.calls, Dialogs: tab.dialogs, Navigations: tab.navigations, OffOrigin: tab.offOrigin}
	tab.calls, tab.dialogs, tab.navigations, tab.offOrigin = nil, nil, nil, nil
	return r
}

// CheckNoScript fails the test if anything on the page just opened at path
// ran script, opened a dialog, navigated away or fetched from elsewhere,
// and clears the record for the next page. Call it after Open.
func (tab *Tab) CheckNoScript(t testing.TB, path string) {
	t.Helper()
	r := tab.Take()
	for _, c := range r.Calls {
		t.Errorf("%s: a payload ran script: __xss(%s)", path, c)
	}
	for _, d := range r.Dialogs {
		t.Errorf("%s: a payload opened a dialog: %s", path, d)
	}
	want := tab.origin + path
	for _, n := range r.Navigations {
		if n != want {
			t.Errorf("%s: the page navigated to %q", path, n)
		}
	}
	for _, u := range r.OffOrigin {
		t.Errorf("%s: the page requested %q, outside the archive", path, u)
	}
	if href := Eval[string](t, tab, `location.href`); href != want {
		t.Errorf("%s: the page ended at %q", path, href)
	}
}

// ColorScheme emulates the reader's light or dark preference
// (prefers-color-scheme); "" returns to the browser's default.
func (tab *Tab) ColorScheme(t testing.TB, scheme string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, pageTimeout)
	defer cancel()
	var features []*emulation.MediaFeature
	if scheme != "" {
		features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	set := func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Func(set)); err != nil {
		t.Fatalf("browsertest: color scheme %q: %v", scheme, err)
	}
}
