package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// envChromium names the browser binary when it is not on PATH as chromium.
const envChromium = "MXARCHIVE_CHROMIUM"

// The browser is shared by every test of a binary: starting Chromium costs
// about a second, a tab a few milliseconds. Like pgtest's cluster, it is
// started on first use and stopped by Main.
var (
	mu         sync.Mutex
	mainCalled bool
	tried      bool
	shared     *Browser
	failure    error
)

// Browser is a running headless Chromium.
type Browser struct {
	ctx    context.Context // the browser's own context; tabs derive from it
	cancel func()
}

// Main runs the tests and then stops the browser, if one was started. Call
// it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without os.Exit, for a TestMain with more to do after.
func Run(m *testing.M) int {
	mu.Lock()
	mainCalled = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.cancel()
		shared = nil
	}
	return code
}

// Start returns the shared browser, starting it on first use. A missing
// browser skips the test, or fails it when CI=true.
func Start(t testing.TB) *Browser {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !mainCalled {
		t.Fatal("browsertest: Start needs browsertest.Main(m) (or Run) in TestMain, which stops the browser")
	}
	if !tried {
		tried = true
		start := time.Now()
		shared, failure = launch()
		if failure == nil {
			t.Logf("browsertest: started Chromium in %v", time.Since(start).Round(time.Millisecond))
		}
	}
	if failure != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: %v", failure)
		}
		t.Skipf("browsertest: %v (install Debian's chromium package or set %s)", failure, envChromium)
	}
	return shared
}

var errNoChromium = errors.New("no Chromium found")

func chromiumPath() (string, error) {
	if p := os.Getenv(envChromium); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errNoChromium
}

func launch() (*Browser, error) {
	path, err := chromiumPath()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		// Tests run as root in CI, where Chromium refuses its sandbox; the
		// pages it opens are our own, served on loopback.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		// Nothing should leave loopback; a proxy that does not exist makes
		// sure a payload that reaches the network reaches nothing (loopback
		// itself bypasses proxies).
		chromedp.ProxyServer("http://127.0.0.1:9"),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Do starts the browser and binds its life to ctx, which has
	// no deadline; the start itself is bounded by a timer.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		err = errors.New("timed out after 60s")
	}
	if err != nil {
		cancel()
		allocCancel()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	return &Browser{ctx: ctx, cancel: func() { cancel(); allocCancel() }}, nil
}
