package browsertest_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/browsertest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

const scriptRoom = "!scripts:example.org"

// The script room's days: a short one, a long one (a permalink on it must
// scroll), an empty day between, and a short one after it.
var (
	scriptDay1 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	scriptDay2 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	scriptDay4 = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
)

// scripts is an archive of one room built for the script tests.
type scripts struct {
	*archive
	first   string // event ID of the first message of day 1 (12:00:0x UTC)
	middle  string // event ID of the middle message of the long day
	lastDay string // today's last message, for the live test
}

func newScripts(t *testing.T) *scripts {
	t.Helper()
	n := newNDJSON(t, "scripts", scriptDay1.Add(-10*time.Second).UnixMilli())
	n.openRoom(scriptRoom, moderator, "Script room")
	s := &scripts{}
	n.ts = scriptDay1.UnixMilli() - 1000
	for i := range 3 {
		id := n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("day one, message %d", i)})
		if i == 0 {
			s.first = id
		}
	}
	n.ts = scriptDay2.UnixMilli()
	for i := range 200 {
		n.ts = scriptDay2.Add(time.Duration(i) * 5 * time.Minute).UnixMilli()
		id := n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("long day, message %d", i)})
		if i == 100 {
			s.middle = id
		}
	}
	n.ts = scriptDay4.UnixMilli()
	for i := range 3 {
		n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("day four, message %d", i)})
	}
	// Today, a minute ago (or at midnight), so the day page is the live one.
	now := time.Now().UTC()
	n.ts = max(now.Add(-time.Minute).UnixMilli(), now.Truncate(24*time.Hour).UnixMilli())
	s.lastDay = n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "today, before the page loaded"})
	s.archive = newArchive(t, storetest.Open(t, "sqlite"), n.close())
	return s
}

func (s *scripts) dayPath(d time.Time) string {
	return "/room/" + scriptRoom + "/" + d.Format(time.DateOnly)
}

// fastTimers makes the page's 30 s live poll come after 300 ms, so the test
// does not wait out the real interval; shorter timers are left alone.
const fastTimers = `(() => { const st = window.setTimeout; window.setTimeout = function (f, ms, ...a) { return st.call(window, f, ms >= 30000 ? 300 : ms, ...a); }; })();`

// TestScripts checks archive.js in a real browser with the archive's own
// CSP in force (so a script the CSP would block fails here too).
func TestScripts(t *testing.T) {
	b := browsertest.Start(t)
	s := newScripts(t)
	tab := b.NewTab(t, s.url, browsertest.TabOptions{InitScript: fastTimers})
	tab.Viewport(t, desktopWidth, 800)

	t.Run("local-times", func(t *testing.T) {
		defer tab.TimeZone(t, "")
		path := s.dayPath(scriptDay1)
		sel := fmt.Sprintf(`document.getElementById(%q).querySelector('time[data-ts]')`, s.first)
		texts := map[string]string{}
		for _, zone := range []string{"Asia/Kolkata", "America/New_York"} {
			tab.TimeZone(t, zone)
			tab.Open(t, path)
			tab.CheckNoScript(t, path)
			got := browsertest.Eval[struct{ Text, Title string }](t, tab, `(() => { const e = `+sel+`; return {Text: e.textContent, Title: e.title}; })()`)
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			at := scriptDay1 // the first message is at noon UTC
			want := at.In(loc).Format("15:04")
			if got.Text != want {
				t.Errorf("%s: time reads %q, want %q (local time)", zone, got.Text, want)
			}
			if !strings.Contains(got.Title, at.Format("2006-01-02 15:04")) || !strings.HasSuffix(got.Title, "UTC") {
				t.Errorf("%s: title %q does not keep the UTC time %s", zone, got.Title, at.Format("2006-01-02 15:04"))
			}
			texts[zone] = got.Text
		}
		if texts["Asia/Kolkata"] == texts["America/New_York"] {
			t.Errorf("the time reads %q in both zones", texts["Asia/Kolkata"])
		}
	})

	t.Run("copy", func(t *testing.T) {
		// The real clipboard, with the permission a reader grants.
		ctx, cancel := context.WithTimeout(tab.Context(), 30*time.Second)
		defer cancel()
		u, _ := url.Parse(s.url)
		// This cdproto has the types but no command for it: sent as is, to
		// the browser (permissions are the browser's, not the page's).
		grant := map[string]any{
			"origin":      u.Scheme + "://" + u.Host,
			"permissions": []browser.PermissionType{browser.PermissionTypeClipboardReadWrite, browser.PermissionTypeClipboardSanitizedWrite},
		}
		if err := chromedp.FromContext(ctx).Browser.Call(ctx, "Browser.grantPermissions", grant, nil); err != nil {
			t.Fatalf("grant clipboard: %v", err)
		}
		path := "/room/" + scriptRoom + "/event/" + s.first
		tab.Open(t, path)
		for _, id := range []string{"url", "wiki", "plain", "markdown"} {
			want := browsertest.Eval[string](t, tab, `document.getElementById('cite-`+id+`').value`)
			if want == "" {
				t.Fatalf("#cite-%s is empty", id)
			}
			if browsertest.Eval[bool](t, tab, `document.getElementById('copy-`+id+`').hidden`) {
				t.Fatalf("#copy-%s is still hidden: the script did not set it up", id)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#copy-"+id))); err != nil {
				t.Fatalf("click #copy-%s: %v", id, err)
			}
			browsertest.WaitFor[bool](t, tab, `document.getElementById('copy-`+id+`').dataset.copied === 'true'`, 5*time.Second)
			if got := browsertest.Eval[string](t, tab, `navigator.clipboard.readText()`); got != want {
				t.Errorf("#copy-%s put %q on the clipboard, want %q", id, got, want)
			}
		}
		tab.CheckNoScript(t, path)
	})

	t.Run("centre", func(t *testing.T) {
		path := "/room/" + scriptRoom + "/event/" + s.middle
		tab.Open(t, path)
		got := browsertest.Eval[struct {
			Top, Bottom, Height, ScrollY float64
			N                            int
		}](t, tab, `(() => { const l = document.querySelectorAll('ol.timeline li.highlight'); const r = l[0].getBoundingClientRect();
			return {Top: r.top, Bottom: r.bottom, Height: innerHeight, ScrollY: scrollY, N: l.length}; })()`)
		if got.N != 1 {
			t.Fatalf("%d highlighted messages, want 1", got.N)
		}
		if got.ScrollY < 100 {
			t.Errorf("the page did not scroll (scrollY %v): the message is not centred on a long day", got.ScrollY)
		}
		if got.Top < 0 || got.Bottom > got.Height {
			t.Errorf("the highlighted message (%v..%v) is not in the %v px viewport", got.Top, got.Bottom, got.Height)
		}
		if c := (got.Top + got.Bottom) / 2; math.Abs(c-got.Height/2) > 40 {
			t.Errorf("the highlighted message's centre is at %v px, the viewport's at %v", c, got.Height/2)
		}
	})

	// A day page's #fragment naming a message that is not on it (a link
	// made before the day was split into pages, or to the wrong day) goes
	// to the message's permalink; one that is on it, or names no event,
	// stays.
	t.Run("fragment elsewhere", func(t *testing.T) {
		path := s.dayPath(scriptDay1) + "#" + url.PathEscape(s.middle)
		tab.Open(t, path)
		want := s.url + "/room/" + scriptRoom + "/event/" + s.middle
		if got := waitLocation(t, tab, want); got != want {
			t.Fatalf("%s: at %s, want the permalink %s", path, got, want)
		}
		if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('ol.timeline li.highlight').length`); n != 1 {
			t.Errorf("the permalink highlights %d messages, want 1", n)
		}
		for _, frag := range []string{"#" + url.PathEscape(s.first), "#top", "#%24nosuch%ZZ"} {
			tab.Open(t, s.dayPath(scriptDay4)) // a new document each time, not a hash change
			tab.Open(t, s.dayPath(scriptDay1)+frag)
			time.Sleep(300 * time.Millisecond)
			if got := browsertest.Eval[string](t, tab, `location.pathname`); got != s.dayPath(scriptDay1) {
				t.Errorf("%s: went to %s", frag, got)
			}
		}
	})

	t.Run("keys", func(t *testing.T) {
		tab.Open(t, s.dayPath(scriptDay2))
		for _, step := range []struct {
			key  string
			want time.Time
		}{
			{"]", scriptDay4}, // over the empty day between
			{"[", scriptDay2},
			{"[", scriptDay1},
		} {
			tab.Press(t, step.key)
			want := s.url + s.dayPath(step.want)
			if got := waitLocation(t, tab, want); got != want {
				t.Fatalf("after %q: at %s, want %s", step.key, got, want)
			}
			if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('ol.timeline li.msg').length`); n == 0 {
				t.Errorf("after %q: %s shows no messages", step.key, want)
			}
		}
		// Typing in the search field is not navigating.
		tab.Open(t, s.dayPath(scriptDay2))
		browsertest.Eval[bool](t, tab, `document.querySelector('input[type=search]').focus(), true`)
		tab.Press(t, "]")
		time.Sleep(300 * time.Millisecond)
		if got := browsertest.Eval[string](t, tab, `location.href`); got != s.url+s.dayPath(scriptDay2) {
			t.Errorf("typing ] in the search field went to %s", got)
		}
	})

	t.Run("live", func(t *testing.T) {
		path := s.dayPath(time.Now().UTC())
		tab.Open(t, path)
		if !browsertest.Eval[bool](t, tab, `!!document.getElementById('live') && !!document.getElementById(`+fmt.Sprintf("%q", s.lastDay)+`)`) {
			t.Fatalf("%s is not a live page with today's message", path)
		}
		n := newNDJSON(t, "later", time.Now().UnixMilli())
		later := n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "sent after the page loaded"})
		in := ingest.New(s.st, storetest.Logger(t), "")
		if _, err := in.ImportFile(context.Background(), n.close(), ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
			t.Fatal(err)
		}
		text := browsertest.WaitFor[string](t, tab, fmt.Sprintf(`document.getElementById(%q)?.querySelector('.body')?.innerText`, later), 20*time.Second)
		if !strings.Contains(text, "sent after the page loaded") {
			t.Errorf("the new message reads %q", text)
		}
		// Once, in order, with its time made local like the rest.
		got := browsertest.Eval[struct {
			N     int
			Last  string
			Local bool
		}](t, tab, fmt.Sprintf(`(() => { const l = [...document.querySelectorAll('ol.timeline > li')]; const e = document.getElementById(%q);
			return {N: l.filter(x => x.id === %q).length, Last: l[l.length-1].id, Local: e.querySelector('time[data-ts]')?.dataset.local === 'true'}; })()`, later, later))
		if got.N != 1 || got.Last != later || !got.Local {
			t.Errorf("new message: %d copies, last item %s, local time %v; want 1, %s, true", got.N, got.Last, got.Local, later)
		}
		// After a message whose ID is not ASCII (room versions 1 and 2 let
		// the homeserver choose it), which X-Live-Since carries escaped:
		// read raw, the next poll named no event and the page stopped.
		for _, name := range []string{"caf\u00e9\u4e2d", "after"} {
			n := newNDJSON(t, name, time.Now().UnixMilli())
			id := n.add(scriptRoom, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "sent by " + name})
			if _, err := in.ImportFile(context.Background(), n.close(), ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
				t.Fatal(err)
			}
			if text := browsertest.WaitFor[string](t, tab, fmt.Sprintf(`document.getElementById(%q)?.querySelector('.body')?.innerText`, id), 20*time.Second); !strings.Contains(text, "sent by "+name) {
				t.Errorf("the message %s reads %q", id, text)
			}
		}
		if href := browsertest.Eval[string](t, tab, `location.href`); href != s.url+path {
			t.Errorf("the page reloaded or moved: %s", href)
		}
		tab.CheckNoScript(t, path)
	})
}

// waitLocation waits until the tab has loaded want and returns where it is
// then. Polled from here, since a navigation destroys the page's own poll.
func waitLocation(t *testing.T, tab *browsertest.Tab, want string) string {
	t.Helper()
	var href string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(tab.Context(), 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === 'complete' ? location.href : ''`))
		cancel()
		if err != nil || v == "" {
			continue // between pages
		}
		if href = v; href == want {
			break
		}
	}
	return href
}

// TestWholeDayLinkOfAPercentID: room versions 1 and 2 let the homeserver
// choose event IDs, and '%' is a character like any other in them (web's
// TestPercentInNames covers "$p%252"). A permalink's "Show the whole day"
// link was the day's page with #<event ID> written raw, which
// html/template keeps as it is where it holds a valid escape such as
// "%25"; on the day page archive.js percent-decoded the fragment, looked
// for "$p%2", did not find it and sent the reader to /event/$p%2, a 404
// (or another event's permalink where one is so named). Now the link
// opens the day's page at the message, as for any other ID: the fragment
// is written path-escaped and the script looks for it as it is, then
// decoded, so a link made by hand with the ID raw finds it too.
func TestWholeDayLinkOfAPercentID(t *testing.T) {
	b := browsertest.Start(t)
	const room = "!pct:example.org"
	n := newNDJSON(t, "pct", time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	n.openRoom(room, moderator, "Percent room")
	n.add(room, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "before"})
	path := n.close()
	line := `{"event_id":"$p%252:example.org","room_id":"` + room + `","type":"m.room.message","sender":"` + moderator + `","origin_server_ts":` +
		strconv.FormatInt(time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC).UnixMilli(), 10) + `,"content":{"msgtype":"m.text","body":"the cited message"}}` + "\n"
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a := newArchive(t, storetest.Open(t, "sqlite"), path)
	tab := b.NewTab(t, a.url, browsertest.TabOptions{})
	tab.Open(t, "/room/"+room+"/event/$p%25252:example.org")
	href := browsertest.Eval[string](t, tab, `(document.querySelector('a.full-day') || {href: ""}).href`)
	if !strings.Contains(href, "/room/") {
		t.Fatalf("no whole-day link on the permalink page (href %q, page %q)", href, browsertest.Eval[string](t, tab, `document.title`))
	}
	tab.Open(t, strings.TrimPrefix(href, a.url))
	time.Sleep(time.Second)
	got := waitLocation(t, tab, href)
	title := browsertest.Eval[string](t, tab, `document.title`)
	if got != href {
		t.Errorf("the whole-day link %s of $p%%252's permalink ended at %s (%q): want the day's page at the message", href, got, title)
	}
	if !browsertest.Eval[bool](t, tab, `!!document.querySelector('ol.timeline li.highlight[id="$p%252:example.org"]')`) {
		t.Error("the whole-day link's message is not highlighted on the day's page")
	}
	// The ID raw in the fragment, as a link made by hand (or before) has it.
	raw := a.url + "/room/" + room + "/2026-01-01#$p%252:example.org"
	tab.Open(t, "/room/"+room+"/event/$p%25252:example.org") // a new document, not a hash change
	tab.Open(t, strings.TrimPrefix(raw, a.url))
	time.Sleep(time.Second)
	if got := waitLocation(t, tab, raw); got != raw || !browsertest.Eval[bool](t, tab, `!!document.querySelector('ol.timeline li.highlight[id="$p%252:example.org"]')`) {
		t.Errorf("the day's page with the ID raw in its fragment ended at %s without the message highlighted", got)
	}
}
