package browsertest_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/browsertest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

const (
	hostileRoom = "!hostile:example.org"
	moderator   = "@mod:example.org"
	// perDay payloads share a day: a permalink page renders its whole day,
	// so all 300 on one day made each of them slow.
	perDay = 10
)

// hostileStart is the first day of the hostile room.
var hostileStart = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// hostileDay is the day payload i's events are on.
func hostileDay(i int) string { return hostileStart.AddDate(0, 0, i/perDay).Format(time.DateOnly) }

// hostile is an archive holding every payload of the corpus in every
// place a room member controls: as a message's formatted_body and its
// plain body, as an edit's new content, as the sender's display name, as the room's name and topic
// (state lines in the timeline, and the header of a room of its own), as
// a reaction key, and quoted by a reply.
type hostile struct {
	*archive
	payloads  []browsertest.Payload
	formatted []string // event ID of payload i's formatted message
	plain     []string // event ID of payload i's plain-body message
	edited    []string // event ID of a message edited into payload i
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	ps, err := browsertest.LoadPayloads("testdata/xss/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 200 {
		t.Fatalf("the corpus has %d payloads; the issue asks for at least 200", len(ps))
	}
	h := &hostile{payloads: ps}
	start := hostileStart.UnixMilli()
	main := newNDJSON(t, "hostile", start)
	main.openRoom(hostileRoom, moderator, "Hostile corpus")
	rooms := newNDJSON(t, "rooms", start)
	for i, p := range ps {
		if i%perDay == 0 && i > 0 {
			main.ts = hostileStart.AddDate(0, 0, i/perDay).UnixMilli()
		}
		text := p.Text(i)
		user := fmt.Sprintf("@u%d:example.org", i)
		main.add(hostileRoom, user, "m.room.member", &user, map[string]any{"membership": "join", "displayname": text})
		main.add(hostileRoom, moderator, "m.room.name", ptr(""), map[string]any{"name": text})
		main.add(hostileRoom, moderator, "m.room.topic", ptr(""), map[string]any{"topic": text})
		f := main.add(hostileRoom, user, "m.room.message", nil, map[string]any{
			"msgtype": "m.text", "body": "hostile " + text,
			"format": "org.matrix.custom.html", "formatted_body": text,
		})
		h.formatted = append(h.formatted, f)
		h.plain = append(h.plain, main.add(hostileRoom, user, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": text}))
		e := main.add(hostileRoom, user, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "before the edit " + browsertest.Marker(i)})
		h.edited = append(h.edited, e)
		edit := map[string]any{"msgtype": "m.text", "body": "edited " + text, "format": "org.matrix.custom.html", "formatted_body": "edited " + text}
		main.add(hostileRoom, user, "m.room.message", nil, map[string]any{
			"msgtype": "m.text", "body": "* edited " + text, "format": "org.matrix.custom.html", "formatted_body": "* edited " + text,
			"m.new_content": edit, "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": e},
		})
		main.add(hostileRoom, moderator, "m.reaction", nil, map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": f, "key": text}})
		main.add(hostileRoom, moderator, "m.room.message", nil, map[string]any{
			"msgtype": "m.text", "body": "reply " + browsertest.Marker(i),
			"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": f}},
		})

		room := fmt.Sprintf("!hroom%d:example.org", i)
		rooms.openRoom(room, moderator, text)
		rooms.add(room, moderator, "m.room.topic", ptr(""), map[string]any{"topic": text})
		rooms.add(room, moderator, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "room " + browsertest.Marker(i)})
	}
	h.archive = newArchive(t, storetest.Open(t, "sqlite"), main.close(), rooms.close())
	return h
}

// markers lists the payload numbers whose marker word appears in s.
func markers(s string) map[int]bool {
	out := map[int]bool{}
	for _, m := range markerRe.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		out[n] = true
	}
	return out
}

var markerRe = regexp.MustCompile(`hx([0-9]+)q`)

// guarded opens path and fails the test if any payload ran, navigated,
// fetched from elsewhere or left unsafe markup.
func guarded(t *testing.T, tab *browsertest.Tab, path string) {
	t.Helper()
	tab.Open(t, path)
	tab.CheckNoScript(t, path)
	tab.CheckDOM(t, path)
}

// TestHostileCorpus renders every payload everywhere a room member can put
// it, in a real browser with the page's CSP switched off (so the sanitizer
// and the templates alone must hold), and checks that nothing ran and that
// the harmless text around each payload is still shown.
func TestHostileCorpus(t *testing.T) {
	b := browsertest.Start(t)
	h := newHostile(t)
	tab := b.NewTab(t, h.url, browsertest.TabOptions{BypassCSP: true})
	n := len(h.payloads)

	t.Run("day", func(t *testing.T) {
		type item struct{ Body, Sender, Reactions string }
		items := map[string]item{}
		var state, replies []string
		for i := 0; i < n; i += perDay {
			path := "/room/" + hostileRoom + "/" + hostileDay(i)
			guarded(t, tab, path)
			for id, it := range browsertest.Eval[map[string]item](t, tab, `Object.fromEntries([...document.querySelectorAll('li.msg')].map(li => [li.id, {
				Body: li.querySelector('.body')?.innerText ?? '',
				Sender: li.querySelector('.sender')?.innerText ?? '',
				Reactions: li.querySelector('.reactions .key')?.innerText ?? '',
			}]))`) {
				items[id] = it
			}
			state = append(state, browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.state .text')].map(e => e.innerText)`)...)
			replies = append(replies, browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('.reply-excerpt')].map(e => e.innerText)`)...)
		}
		for i := range n {
			m := browsertest.Marker(i)
			f, p, e := items[h.formatted[i]], items[h.plain[i]], items[h.edited[i]]
			if !strings.Contains(f.Body, m) || !strings.Contains(p.Body, m) || !strings.Contains(e.Body, "edited "+m) {
				t.Errorf("payload %d (%s): message text lost: formatted %q, plain %q, edited %q", i, h.payloads[i].Family, f.Body, p.Body, e.Body)
			}
			if !strings.Contains(f.Sender, m) {
				t.Errorf("payload %d (%s): display name lost: %q", i, h.payloads[i].Family, f.Sender)
			}
			if !strings.Contains(f.Reactions, m) {
				t.Errorf("payload %d (%s): reaction key lost: %q", i, h.payloads[i].Family, f.Reactions)
			}
		}
		stateSeen, repliesSeen := markers(strings.Join(state, "\n")), markers(strings.Join(replies, "\n"))
		for i := range n {
			if !stateSeen[i] {
				t.Errorf("payload %d (%s): no room name or topic change shows its text", i, h.payloads[i].Family)
			}
			if !repliesSeen[i] {
				t.Errorf("payload %d (%s): no reply quotes its text", i, h.payloads[i].Family)
			}
		}
	})

	// A hostile member must not be able to widen the page past a phone's
	// screen either: long names, reaction keys and quotes must break.
	t.Run("phone-width", func(t *testing.T) {
		tab.Viewport(t, phoneWidth, 800)
		defer tab.Viewport(t, desktopWidth, 900)
		paths := []string{"/", "/search?q=hostile&size=100"}
		for i := 0; i < n; i += perDay {
			paths = append(paths, "/room/"+hostileRoom+"/"+hostileDay(i), fmt.Sprintf("/room/!hroom%d:example.org/%s", min(i+perDay/2, n-1), hostileStart.Format(time.DateOnly)))
		}
		for _, path := range paths {
			tab.Open(t, path)
			checkPhoneWidth(t, tab, path)
		}
	})

	t.Run("permalinks", func(t *testing.T) {
		for i := range n {
			// The formatted message carries the payload in its body too;
			// a plain message's permalink would render nothing new.
			path := "/room/" + hostileRoom + "/event/" + h.formatted[i]
			guarded(t, tab, path)
			if !markers(tab.VisibleText(t))[i] {
				t.Errorf("payload %d (%s): %s does not show its text", i, h.payloads[i].Family, path)
			}
		}
	})

	t.Run("edit-history", func(t *testing.T) {
		for i := range n {
			path := "/room/" + hostileRoom + "/event/" + h.edited[i] + "/edits"
			guarded(t, tab, path)
			if !strings.Contains(tab.VisibleText(t), "edited "+browsertest.Marker(i)) {
				t.Errorf("payload %d (%s): %s does not show the edit's text", i, h.payloads[i].Family, path)
			}
		}
	})

	t.Run("search", func(t *testing.T) {
		seen := map[int]bool{}
		path := "/search?q=hostile&size=100"
		for pages := 0; path != ""; pages++ {
			if pages > n/100+2 {
				t.Fatalf("search paging does not end at %s", path)
			}
			guarded(t, tab, path)
			for k := range markers(strings.Join(browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.result')].map(e => e.innerText)`), "\n")) {
				seen[k] = true
			}
			next := browsertest.Eval[string](t, tab, `document.querySelector('a[rel=next]')?.getAttribute('href') ?? ''`)
			path = next
		}
		for i := range n {
			if !seen[i] {
				t.Errorf("payload %d (%s): not among the search results", i, h.payloads[i].Family)
			}
		}
	})

	t.Run("directory", func(t *testing.T) {
		guarded(t, tab, "/")
		names := markers(strings.Join(browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.room .room-name')].map(e => e.innerText)`), "\n"))
		topics := markers(strings.Join(browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.room .topic')].map(e => e.innerText)`), "\n"))
		for i := range n {
			if !names[i] || !topics[i] {
				t.Errorf("payload %d (%s): room name or topic not shown in the directory (name %v, topic %v)", i, h.payloads[i].Family, names[i], topics[i])
			}
		}
	})

	t.Run("room-headers", func(t *testing.T) {
		for i := range n {
			room := fmt.Sprintf("!hroom%d:example.org", i)
			path := "/room/" + room + "/" + hostileStart.Format(time.DateOnly)
			guarded(t, tab, path)
			header := browsertest.Eval[string](t, tab, `document.title + '\n' + (document.querySelector('.room-header')?.innerText ?? '')`)
			if strings.Count(header, browsertest.Marker(i)) < 3 {
				t.Errorf("payload %d (%s): the title, heading and topic of its room do not all show its text: %q", i, h.payloads[i].Family, header)
			}
		}
	})
}
