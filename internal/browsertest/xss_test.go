package browsertest_test

import (
	"fmt"
	"net/url"
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
// a reaction key, quoted by a reply, and as a poll's question and answer.
type hostile struct {
	*archive
	payloads  []browsertest.Payload
	formatted []string // event ID of payload i's formatted message
	plain     []string // event ID of payload i's plain-body message
	edited    []string // event ID of a message edited into payload i
	polls     []string // event ID of a poll asking payload i, answered by it
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
		poll := main.add(hostileRoom, user, "org.matrix.msc3381.poll.start", nil, map[string]any{
			"org.matrix.msc3381.poll.start": map[string]any{
				"question": map[string]any{"org.matrix.msc1767.text": text}, "kind": "org.matrix.msc3381.poll.disclosed", "max_selections": 1,
				"answers": []map[string]any{{"id": "a", "org.matrix.msc1767.text": text}, {"id": "b", "org.matrix.msc1767.text": "answer " + browsertest.Marker(i)}},
			},
			"org.matrix.msc1767.text": text,
		})
		h.polls = append(h.polls, poll)
		main.add(hostileRoom, moderator, "org.matrix.msc3381.poll.response", nil, map[string]any{
			"m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": poll}, "org.matrix.msc3381.poll.response": map[string]any{"answers": []string{"a"}},
		})
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
		type item struct{ Body, Sender, Reactions, Question, Answers string }
		items := map[string]item{}
		var state, replies []string
		for i := 0; i < n; i += perDay {
			path := "/room/" + hostileRoom + "/" + hostileDay(i)
			guarded(t, tab, path)
			for id, it := range browsertest.Eval[map[string]item](t, tab, `Object.fromEntries([...document.querySelectorAll('li.msg')].map(li => [li.id, {
				Body: li.querySelector('.body')?.innerText ?? '',
				Sender: li.querySelector('.sender')?.innerText ?? '',
				Reactions: li.querySelector('.reactions .key')?.innerText ?? '',
				Question: li.querySelector('.question')?.innerText ?? '',
				Answers: li.querySelector('.answers')?.innerText ?? '',
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
			if q := items[h.polls[i]]; !strings.Contains(q.Question, m) || strings.Count(q.Answers, m) != 2 || !strings.Contains(q.Answers, "1 vote") {
				t.Errorf("payload %d (%s): poll lost its question, answers or vote: %q, %q", i, h.payloads[i].Family, q.Question, q.Answers)
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
			// The citations quote the message: as the text areas' text,
			// never as markup inside them.
			cite := browsertest.Eval[struct {
				Values   []string
				Children int
			}](t, tab, `(() => { const l = [...document.querySelectorAll('section.cite .cite-text')];
				return {Values: l.map(e => e.value), Children: l.reduce((n, e) => n + e.children.length, 0)}; })()`)
			if len(cite.Values) != 4 || cite.Children != 0 {
				t.Errorf("payload %d (%s): %d citation fields with %d elements inside; want 4 with none", i, h.payloads[i].Family, len(cite.Values), cite.Children)
			}
			for k, v := range cite.Values[1:] {
				if !strings.Contains(v, browsertest.Marker(i)) {
					t.Errorf("payload %d (%s): citation %d does not quote the message: %q", i, h.payloads[i].Family, k+1, v)
				}
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

	// Every payload's poll, whose question and first answer are the
	// payload and whose second answer is "answer" and its marker, is
	// found by that word, and its result shows that answer.
	t.Run("search polls", func(t *testing.T) {
		shown := map[string]string{} // a result's event ID (its permalink's last part): its text
		path := "/search?q=answer&size=100"
		for pages := 0; path != ""; pages++ {
			if pages > n/100+2 {
				t.Fatalf("search paging does not end at %s", path)
			}
			guarded(t, tab, path)
			for _, r := range browsertest.Eval[[][]string](t, tab, `[...document.querySelectorAll('li.result')].map(e => [e.querySelector('a.time')?.getAttribute('href') ?? '', e.innerText])`) {
				shown[r[0][strings.LastIndex(r[0], "/")+1:]] = r[1]
			}
			path = browsertest.Eval[string](t, tab, `document.querySelector('a[rel=next]')?.getAttribute('href') ?? ''`)
		}
		for i := range n {
			text, found := shown[h.polls[i]]
			if !found || !strings.Contains(text, "answer "+browsertest.Marker(i)) {
				t.Errorf("payload %d (%s): its poll is not found by its answer (found %v): %q", i, h.payloads[i].Family, found, text)
			}
		}
	})

	t.Run("directory", func(t *testing.T) {
		// The directory is paged; every page is checked.
		names, topics := map[int]bool{}, map[int]bool{}
		path := "/"
		for pages := 0; path != ""; pages++ {
			if pages > n/50+2 {
				t.Fatalf("directory paging does not end at %s", path)
			}
			guarded(t, tab, path)
			for k := range markers(strings.Join(browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.room .room-name')].map(e => e.innerText)`), "\n")) {
				names[k] = true
			}
			for k := range markers(strings.Join(browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('li.room .topic')].map(e => e.innerText)`), "\n")) {
				topics[k] = true
			}
			path = browsertest.Eval[string](t, tab, `document.querySelector('a[rel=next]')?.getAttribute('href') ?? ''`)
		}
		for i := range n {
			if !names[i] || !topics[i] {
				t.Errorf("payload %d (%s): room name or topic not shown in the directory (name %v, topic %v)", i, h.payloads[i].Family, names[i], topics[i])
			}
		}
	})

	// The directory's filter echoes what the reader typed: a payload as
	// the filter, finding the room named by it.
	t.Run("directory-filter", func(t *testing.T) {
		for i := 0; i < n; i += 7 {
			q := h.payloads[i].Text(i)
			if strings.ContainsRune(q, 0) {
				// The stored name lost its NUL, so the filter cannot
				// match it whole; its marker alone must.
				q = browsertest.Marker(i)
			}
			path := "/?sort=name&q=" + url.QueryEscape(q)
			guarded(t, tab, path)
			if !markers(browsertest.Eval[string](t, tab, `[...document.querySelectorAll('li.room .room-name')].map(e => e.innerText).join(' ')`))[i] {
				t.Errorf("payload %d (%s): filtering by it does not find its room", i, h.payloads[i].Family)
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

// TestHostileReaderPages puts the corpus through the reader pages added
// with the calendar: each room's about page and calendars (which show the
// hostile name and topic), and the Atom feeds, rendered by Chromium as a
// document and their entries' HTML put into a page as a feed reader
// would. The page's CSP is off, as in TestHostileCorpus.
func TestHostileReaderPages(t *testing.T) {
	b := browsertest.Start(t)
	h := newHostile(t)
	tab := b.NewTab(t, h.url, browsertest.TabOptions{BypassCSP: true})
	n := len(h.payloads)
	room := func(i int) string { return fmt.Sprintf("/room/!hroom%d:example.org", i) }

	t.Run("about", func(t *testing.T) {
		for i := range n {
			path := room(i) + "/about"
			guarded(t, tab, path)
			if got := strings.Count(tab.VisibleText(t), browsertest.Marker(i)); got < 2 {
				t.Errorf("payload %d (%s): %s shows its name and topic %d times, want 2", i, h.payloads[i].Family, path, got)
			}
		}
	})

	t.Run("calendar", func(t *testing.T) {
		for i := range n {
			periods := []string{hostileStart.Format("2006")}
			if i%perDay == 0 {
				// The month view has the same header; a sample keeps
				// the test short.
				periods = append(periods, hostileStart.Format("2006-01"))
			}
			for _, period := range periods {
				path := room(i) + "/calendar/" + period
				guarded(t, tab, path)
				if !markers(browsertest.Eval[string](t, tab, `document.querySelector('h1').innerText`))[i] {
					t.Errorf("payload %d (%s): %s does not show the room's name", i, h.payloads[i].Family, path)
				}
			}
		}
		for _, period := range []string{hostileStart.Format("2006"), hostileStart.Format("2006-01")} {
			guarded(t, tab, "/room/"+hostileRoom+"/calendar/"+period)
		}
	})

	// Chromium shows a feed as a document of its own: nothing in it may
	// run there either.
	t.Run("feed-documents", func(t *testing.T) {
		for _, path := range []string{"/room/" + hostileRoom + "/feed.atom", "/search/feed.atom?q=hostile", room(n-1) + "/feed.atom"} {
			tab.Open(t, path)
			tab.CheckNoScript(t, path)
		}
	})

	// A feed reader puts each entry's HTML into its page: every payload
	// (found by its marker through a search feed) and every hostile room
	// name (in its room's feed) goes into this page, which must then have
	// run nothing and hold no unsafe markup.
	t.Run("feed-entries", func(t *testing.T) {
		type entry struct{ Title, Author, Text string }
		type feed struct {
			Err     string
			Title   string
			Entries []entry
		}
		const host = "/search"
		read := func(path string) feed {
			return browsertest.Eval[feed](t, tab, fmt.Sprintf(`(async () => {
				const r = await fetch(%q);
				if (!r.ok || !/^application\/atom\+xml/.test(r.headers.get('Content-Type'))) return {Err: r.status + ' ' + r.headers.get('Content-Type')};
				const x = new DOMParser().parseFromString(await r.text(), 'application/xml');
				if (x.querySelector('parsererror')) return {Err: 'not well-formed: ' + x.querySelector('parsererror').textContent};
				const entries = [...x.querySelectorAll('entry')].map(e => {
					const c = e.querySelector('content');
					if (c.getAttribute('type') !== 'html') return {Title: 'content type ' + c.getAttribute('type')};
					const d = document.createElement('div');
					d.className = 'feed-entry';
					d.innerHTML = c.textContent;
					document.querySelector('main').append(d);
					return {Title: e.querySelector('title').textContent, Author: e.querySelector('author > name').textContent, Text: d.innerText};
				});
				// Load errors and toggles fire after a turn.
				await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))));
				return {Title: x.querySelector('feed > title').textContent, Entries: entries};
			})()`, path))
		}
		check := func(path string) {
			t.Helper()
			r := tab.Take()
			for _, c := range r.Calls {
				t.Errorf("%s: an entry ran script: __xss(%s)", path, c)
			}
			for _, d := range r.Dialogs {
				t.Errorf("%s: an entry opened a dialog: %s", path, d)
			}
			for _, u := range r.OffOrigin {
				t.Errorf("%s: an entry requested %q, outside the archive", path, u)
			}
			tab.CheckDOM(t, path)
		}
		for i := range n {
			if i%25 == 0 {
				guarded(t, tab, host) // a fresh page now and then
			}
			m := browsertest.Marker(i)
			path := "/search/feed.atom?q=" + m
			f := read(path)
			check(path)
			if f.Err != "" {
				t.Fatalf("%s: %s", path, f.Err)
			}
			var text, authors bool
			for _, e := range f.Entries {
				text = text || strings.Contains(e.Text, m) && strings.Contains(e.Title, m)
				authors = authors || strings.Contains(e.Author, m)
			}
			if !text || !authors {
				t.Errorf("payload %d (%s): %s: message text shown %v, display name shown %v: %+v", i, h.payloads[i].Family, path, text, authors, f.Entries)
			}
			path = room(i) + "/feed.atom"
			f = read(path)
			check(path)
			if f.Err != "" {
				t.Fatalf("%s: %s", path, f.Err)
			}
			if !strings.Contains(f.Title, m) || len(f.Entries) != 1 || !strings.Contains(f.Entries[0].Title, m) {
				t.Errorf("payload %d (%s): %s: the room's name is not in the feed's and the entry's titles: %q, %+v", i, h.payloads[i].Family, path, f.Title, f.Entries)
			}
		}
	})
}
