package browsertest_test

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/browsertest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

const (
	demoSlug     = "ansible-community:example.org"
	demoEdited   = "$IN-0ysezAogSjmlPL2rmdMwpMoIg7WpnD7EEYAzTcUo"
	demoThread   = "$dvqsFzsmdPqXPc_BKTWkDBJ5RwNX5ODMV0_S_MfYPT8"
	desktopWidth = 1280
	phoneWidth   = 360
)

// mainPages are the pages readers land on, by a name for the screenshots.
// Calendar and about pages join this list when they exist.
var mainPages = []struct{ name, path string }{
	{"directory", "/"},
	{"day", "/room/" + demoSlug + "/2026-03-03"},
	{"permalink", "/room/" + demoSlug + "/event/" + demoEdited},
	{"thread", "/room/" + demoSlug + "/thread/" + demoThread},
	{"edits", "/room/" + demoSlug + "/event/" + demoEdited + "/edits"},
	{"search", "/search?q=podman"},
	{"search-form", "/search"},
	{"redactions", "/room/" + demoSlug + "/redactions"},
}

// TestAccessibility runs axe-core on every main page, in light and dark
// mode, with the archive's own CSP in force, and fails on any serious or
// critical violation (the others are logged).
func TestAccessibility(t *testing.T) {
	b := browsertest.Start(t)
	browsertest.Axe(t) // skip or fail before building anything
	a := newArchive(t, storetest.Open(t, "sqlite"), demoAnsible, demoOpendev)
	tab := b.NewTab(t, a.url, browsertest.TabOptions{})
	for _, scheme := range []string{"light", "dark"} {
		tab.ColorScheme(t, scheme)
		for _, p := range mainPages {
			t.Run(scheme+"/"+p.name, func(t *testing.T) {
				tab.Open(t, p.path)
				tab.CheckNoScript(t, p.path)
				for _, v := range tab.CheckAccessibility(t) {
					if v.Impact == "serious" || v.Impact == "critical" {
						t.Errorf("%s: %v", p.path, v)
					} else {
						t.Logf("%s (not failing): %v", p.path, v)
					}
				}
			})
		}
	}
}

// TestScreenshots writes every main page at desktop and phone width (and
// dark at desktop) to the screenshot folder, and checks that nothing
// overflows a 360 px phone screen sideways.
func TestScreenshots(t *testing.T) {
	b := browsertest.Start(t)
	a := newArchive(t, storetest.Open(t, "sqlite"), demoAnsible, demoOpendev)
	dir := browsertest.ScreenshotDir(t, "../..")
	tab := b.NewTab(t, a.url, browsertest.TabOptions{})
	shots := []struct {
		suffix, scheme string
		width          int64
	}{
		{"desktop", "light", desktopWidth},
		{"phone", "light", phoneWidth},
		{"desktop-dark", "dark", desktopWidth},
	}
	for _, s := range shots {
		tab.Viewport(t, s.width, 800)
		tab.ColorScheme(t, s.scheme)
		for _, p := range mainPages {
			t.Run(p.name+"-"+s.suffix, func(t *testing.T) {
				tab.Open(t, p.path)
				if s.width == phoneWidth {
					checkPhoneWidth(t, tab, p.path)
				}
				tab.SaveScreenshot(t, dir, p.name+"-"+s.suffix)
			})
		}
	}
	t.Logf("screenshots in %s", dir)
}

// checkPhoneWidth fails if the open page (in a 360 px viewport) is wider
// than the screen, naming the innermost culprits.
func checkPhoneWidth(t *testing.T, tab *browsertest.Tab, path string) {
	t.Helper()
	w := browsertest.Eval[int](t, tab, `document.documentElement.scrollWidth`)
	if w <= phoneWidth {
		return
	}
	wide := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('body *')]
		.filter(e => e.getBoundingClientRect().right > 360.5 || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')
		.slice(-5).map(e => e.localName + (e.className ? '.' + e.className : '') + ': ' + e.outerHTML.slice(0, 120))`)
	t.Errorf("%s is %d px wide at %d px; too wide:\n%s", path, w, phoneWidth, strings.Join(wide, "\n"))
}
