package browsertest_test

import (
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/browsertest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestHarness checks the helpers the script tests will rely on, on pages
// that exist today: a time zone the page's JavaScript sees, keys that move
// focus, waiting for a condition, and guards that do report (the archive's
// own pages never trigger them, so the guard is fed here by hand).
func TestHarness(t *testing.T) {
	b := browsertest.Start(t)
	a := newArchive(t, storetest.Open(t, "sqlite"), demoAnsible)
	tab := b.NewTab(t, a.url, browsertest.TabOptions{BypassCSP: true})
	tab.Open(t, "/")

	tab.TimeZone(t, "Asia/Kolkata")
	if off := browsertest.Eval[int](t, tab, `new Date(0).getTimezoneOffset()`); off != -330 {
		t.Errorf("offset in Asia/Kolkata = %d min, want -330", off)
	}
	tab.TimeZone(t, "")

	tab.Press(t, "\t")
	if tag := browsertest.WaitFor[string](t, tab, `document.activeElement && document.activeElement.localName === 'a' && document.activeElement.localName`, 5*time.Second); tag != "a" {
		t.Errorf("Tab focused %q, want the first link", tag)
	}

	// What a payload would do if it ran: the report must name each.
	browsertest.Eval[bool](t, tab, `__xss(7); alert('x'); true`)
	got := tab.Take()
	if len(got.Calls) != 1 || got.Calls[0] != "7" || len(got.Dialogs) != 1 {
		t.Errorf("guard report = %+v, want one __xss(7) call and one dialog", got)
	}
	browsertest.Eval[bool](t, tab, `setTimeout(() => { location.href = '/search'; }, 0); true`)
	var navs []string
	for deadline := time.Now().Add(10 * time.Second); len(navs) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		navs = append(navs, tab.Take().Navigations...)
	}
	if len(navs) != 1 || navs[0] != a.url+"/search" {
		t.Errorf("navigations = %q, want the one to /search", navs)
	}
}
