package web_test

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// streamDays is a room whose 2026-01-01 holds a message of every kind
// the text log writes (two lines of text, an emote, a notice, an edited
// one, a redacted one, a file), twice; whose 2026-01-02 holds lines
// imported from IRC, from the log a.log first, then from b.log and
// a.log again; and whose 2026-01-03 holds only membership changes.
func streamDays(t *testing.T) string {
	const d1, d2, d3 = int64(1767225600000), int64(1767312000000), int64(1767398400000)
	var lines []string
	for k := range 2 {
		at := func(i int) int64 { return d1 + int64(k)*3600000 + int64(i)*1000 }
		id := func(s string) string { return fmt.Sprintf("$%s%d", s, k) }
		lines = append(lines,
			msgLine(id("two"), at(1), `{"msgtype":"m.text","body":"first line\nsecond line"}`),
			msgLine(id("emote"), at(2), `{"msgtype":"m.emote","body":"waves"}`),
			msgLine(id("notice"), at(3), `{"msgtype":"m.notice","body":"a notice"}`),
			msgLine(id("orig"), at(4), `{"msgtype":"m.text","body":"before the edit"}`),
			msgLine(id("edit"), at(5), fmt.Sprintf(`{"msgtype":"m.text","body":"* after the edit","m.new_content":{"msgtype":"m.text","body":"after the edit"},"m.relates_to":{"rel_type":"m.replace","event_id":%q}}`, id("orig"))),
			msgLine(id("gone"), at(6), `{"msgtype":"m.text","body":"redacted"}`),
			redactionLine(id("red"), "@a:example.org", at(7), id("gone"), "spam"),
			msgLine(id("file"), at(8), `{"msgtype":"m.file","body":"notes.txt","url":"mxc://example.org/abc"}`),
		)
	}
	irc := func(n int, file string) string {
		return fmt.Sprintf(`{"event_id":"$irc-%d","room_id":"!x:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"irc line %d","org.mxarchive.irc":{"network":"Net","channel":"#c","source":%q,"line":%d,"nick":"ann"}}}`,
			n, d2+int64(n)*1000, n, file, n)
	}
	for n := range 12 {
		file := "a.log"
		if n == 7 || n == 10 {
			file = "b.log"
		}
		lines = append(lines, irc(n, file))
	}
	for n := range 9 {
		user := fmt.Sprintf("@u%d:example.org", n)
		lines = append(lines, fmt.Sprintf(`{"event_id":"$m%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":"join"}}`,
			n, user, d3+int64(n)*1000, user))
	}
	return writeRoom(t, lines...)
}

// TestBusyDayTextLogStreams: the text log of a day busier than one read
// (APIDayPageSize events) is written a read at a time, and says what the
// log of the whole day read at once says: the same bytes, in gzip too,
// but for its IRC notes, which come with the lines they are about, and
// without an ETag, since its bytes are known only once written. A busy day
// without a message is not found, as a quiet one is.
func TestBusyDayTextLogStreams(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		file := streamDays(t)
		whole := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, APIDayPageSize: 1000}, file)
		streamed := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, APIDayPageSize: 4})
		const day = "/room/!x:example.org/2026-01-01.txt"

		w, s := whole.get(t, day), streamed.get(t, day)
		if w.Code != http.StatusOK || s.Code != http.StatusOK {
			t.Fatalf("text log: %d whole, %d streamed", w.Code, s.Code)
		}
		if s.Body.String() != w.Body.String() {
			t.Errorf("streamed log:\n%s\nthe whole day's:\n%s", s.Body, w.Body)
		}
		for _, want := range []string{"> first line\n    second line\n", "* Ann waves\n", "-Ann- a notice\n", "> after the edit (edited)\n", "<Ann> (message deleted)\n", "<Ann> notes.txt\n"} {
			if strings.Count(s.Body.String(), want) != 2 {
				t.Errorf("streamed log does not say %q twice:\n%s", want, s.Body)
			}
		}
		if w.Header().Get("ETag") == "" || s.Header().Get("ETag") != "" {
			t.Errorf("ETag %q whole, %q streamed; want one and none", w.Header().Get("ETag"), s.Header().Get("ETag"))
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Vary", "X-Robots-Tag", "Content-Security-Policy"} {
			if s.Header().Get(h) != w.Header().Get(h) {
				t.Errorf("%s: %q streamed, %q whole", h, s.Header().Get(h), w.Header().Get(h))
			}
		}

		// HEAD: the headers, after the first read alone.
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		before := count()
		streamed.get(t, day)
		get := count() - before
		before = count()
		head := httptest.NewRecorder()
		streamed.srv.ServeHTTP(head, httptest.NewRequest(http.MethodHead, day, nil))
		if n := count() - before; head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Type") != w.Header().Get("Content-Type") || n >= get {
			t.Errorf("HEAD: %d, %d bytes, Content-Type %q, %d queries (GET: %d)", head.Code, head.Body.Len(), head.Header().Get("Content-Type"), n, get)
		}

		req := httptest.NewRequest(http.MethodGet, day, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		z := httptest.NewRecorder()
		streamed.srv.ServeHTTP(z, req)
		if z.Code != http.StatusOK || z.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip: %d, Content-Encoding %q", z.Code, z.Header().Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(z.Body)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(zr); err != nil || string(b) != w.Body.String() {
			t.Errorf("gzipped log (%v):\n%s", err, b)
		}

		// IRC: the header names the first read's log, and b.log is named
		// once, before its first line.
		w, s = whole.get(t, "/room/!x:example.org/2026-01-02.txt"), streamed.get(t, "/room/!x:example.org/2026-01-02.txt")
		if !strings.Contains(w.Body.String(), "\n# Lines from IRC: #c on Net, logs a.log, b.log\n") {
			t.Errorf("whole log's IRC note:\n%s", w.Body)
		}
		got := s.Body.String()
		header, _, _ := strings.Cut(got, "\n[")
		if !strings.HasSuffix(header, "\n# Lines from IRC: #c on Net, logs a.log") {
			t.Errorf("streamed log's header %q", header)
		}
		note := "# Lines from IRC: #c on Net, logs b.log\n"
		if i, j := strings.Index(got, note), strings.Index(got, "irc line 7\n"); strings.Count(got, note) != 1 || i < 0 || i > j || strings.Contains(got[i+len(note):j], "irc line") {
			t.Errorf("streamed log's note of b.log:\n%s", got)
		}
		if strings.ReplaceAll(got, note, "") != strings.Replace(w.Body.String(), ", b.log", "", 1) {
			t.Errorf("streamed log's lines differ:\n%s\nthe whole day's:\n%s", got, w.Body)
		}

		if w, s := whole.get(t, "/room/!x:example.org/2026-01-03.txt"), streamed.get(t, "/room/!x:example.org/2026-01-03.txt"); w.Code != http.StatusNotFound || s.Code != http.StatusNotFound || s.Body.String() != w.Body.String() {
			t.Errorf("a day of membership changes: %d whole, %d streamed:\n%s", w.Code, s.Code, s.Body)
		}
	})
}

// TestBusyDayTextLogCutShort: once the first bytes of a streamed text log
// are out, a read that fails cuts the transfer short: a client must not
// take what it got for the whole day. Here the request's time runs out
// while the client is not reading (small socket buffers hold the server
// back in the first read's lines), so the next read fails.
func TestBusyDayTextLogCutShort(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{APIDayPageSize: 200, RequestTimeout: 500 * time.Millisecond}, longLinesDay(t))
		srv := httptest.NewUnstartedServer(e.srv)
		srv.Listener = smallBuffers{srv.Listener}
		srv.Start()
		defer srv.Close()
		resp, err := smallBufferClient().Get(srv.URL + "/room/!x:example.org/2026-01-01.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		r := bufio.NewReader(resp.Body)
		if first, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(first, "# ") {
			t.Fatalf("first line %q, %v", first, err)
		}
		time.Sleep(1500 * time.Millisecond) // past the request's time, holding the server back
		rest, err := io.ReadAll(r)
		if err == nil {
			t.Errorf("the log ended as if whole (%d bytes, last message there: %v)", len(rest), strings.Contains(string(rest), "599 x"))
		}
		if strings.Contains(string(rest), "599 x") {
			t.Errorf("the log holds the day's last message (%v)", err)
		}
	})
}

// TestSlowReaderHoldsNoTurn: a request gives its turn to read a day back
// before its answer is written (a streamed text log, before each write),
// so clients that read slowly do not keep the others waiting. With one
// turn, a text log and a JSON day whose clients stall after their first
// bytes leave it free for another request, and then read to their end.
func TestSlowReaderHoldsNoTurn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{APIDayPageSize: 200, MaxDayReads: 1, RequestTimeout: 5 * time.Second}, longLinesDay(t))
		srv := httptest.NewUnstartedServer(e.srv)
		srv.Listener = smallBuffers{srv.Listener}
		srv.Start()
		defer srv.Close()
		const txt, api = "/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"
		for _, c := range []struct{ slow, other, last string }{{txt, api, "599 x"}, {api, txt, `"truncated":true`}} {
			resp, err := smallBufferClient().Get(srv.URL + c.slow)
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(resp.Body)
			if _, err := r.Peek(100); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d, %v", c.slow, resp.StatusCode, err)
			}
			start := time.Now()
			if rec := e.get(t, c.other); rec.Code != http.StatusOK {
				t.Errorf("GET %s while a client stalls reading %s = %d after %v", c.other, c.slow, rec.Code, time.Since(start))
			}
			rest, err := io.ReadAll(r)
			resp.Body.Close()
			if err != nil || !strings.Contains(string(rest), c.last) {
				t.Errorf("GET %s, read to its end: %v, %d bytes", c.slow, err, len(rest))
			}
		}
	})
}

// longLinesDay is a room whose 2026-01-01 holds 600 messages of some 400
// bytes, "0 xxx…" to "599 xxx…": its text log is some 250 KB.
func longLinesDay(t *testing.T) string {
	var lines []string
	body := strings.Repeat("x", 400)
	for i := range 600 {
		lines = append(lines, msgLine(fmt.Sprintf("$b%d", i), 1767225601000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"%d %s"}`, i, body)))
	}
	return writeRoom(t, lines...)
}

// smallBufferClient is an HTTP client whose connections have small
// receive buffers: a server writing more than they hold waits for it to
// read.
func smallBufferClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}).DialContext, DisableCompression: true}}
}

// smallBuffers is a listener whose connections have small send buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestTextLogShowsPolls: a poll is a line of the text log, its question,
// answers and status as the page shows them (votes once shown, the winner
// once ended), whether the day is written whole or streamed a read at a
// time; before, the log left polls out.
func TestTextLogShowsPolls(t *testing.T) {
	poll := func(evID, sender string, ts int64, kind, question string) string {
		return pollLine(evID, "m.poll.start", sender, ts, `{"m.poll.start":{"question":{"m.text":`+strconv.Quote(question)+`},"kind":"`+kind+`","max_selections":1,"answers":[{"id":"y","m.text":"Yes"},{"id":"n","m.text":"No"}]}}`)
	}
	ref := func(evID, typ, sender string, ts int64, target, sel string) string {
		return pollLine(evID, typ, sender, ts, `{"m.relates_to":{"rel_type":"m.reference","event_id":"`+target+`"},"m.selections":["`+sel+`"]}`)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		file := writeRoom(t,
			pollLine("$m1", "m.room.message", "@a:example.org", 1767225601000, `{"msgtype":"m.text","body":"before"}`),
			poll("$p1", "@b:example.org", 1767225602000, "m.poll.disclosed", "Ship it?"),
			ref("$v1", "m.poll.response", "@c:example.org", 1767225603000, "$p1", "y"),
			ref("$v2", "m.poll.response", "@d:example.org", 1767225604000, "$p1", "y"),
			ref("$v3", "m.poll.response", "@e:example.org", 1767225605000, "$p1", "n"),
			ref("$e1", "m.poll.end", "@b:example.org", 1767225606000, "$p1", ""),
			poll("$p2", "@b:example.org", 1767225607000, "m.poll.undisclosed", "Lunch?\nNow?"),
			ref("$v4", "m.poll.response", "@c:example.org", 1767225608000, "$p2", "n"),
			pollLine("$m2", "m.room.message", "@a:example.org", 1767225609000, `{"msgtype":"m.text","body":"after"}`),
			poll("$p3", "@b:example.org", 1767312000000, "m.poll.disclosed", "Alone?"),
		)
		whole := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, APIDayPageSize: 1000}, file)
		streamed := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, APIDayPageSize: 3})
		const day = "/room/!x:example.org/2026-01-01.txt"
		w, s := whole.get(t, day), streamed.get(t, day)
		if w.Code != http.StatusOK || s.Code != http.StatusOK || s.Body.String() != w.Body.String() {
			t.Fatalf("text log: %d whole, %d streamed:\n%s\nwhole:\n%s", w.Code, s.Code, s.Body, w.Body)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(w.Body.String()), "\n")[1:] {
			if !strings.HasPrefix(l, "# ") {
				got = append(got, l)
			}
		}
		want := []string{
			"[00:00:01] <Ann> before",
			"[00:00:02] <@b:example.org> Poll: Ship it? [Yes: 2 votes (66%) ✓ chosen | No: 1 vote (33%)] (ended at 2026-01-01 00:00:06 UTC · 3 voters)",
			"[00:00:07] <@b:example.org> Poll: Lunch?␊Now? [Yes | No] (open · results are shown when the poll ends)",
			"[00:00:09] <Ann> after",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("text log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// A day whose one line is a poll has a log.
		if rec := whole.get(t, "/room/!x:example.org/2026-01-02.txt"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<@b:example.org> Poll: Alone? [Yes: 0 votes (0%) | No: 0 votes (0%)] (open · 0 voters so far)\n") {
			t.Errorf("a day of one poll: %d\n%s", rec.Code, rec.Body)
		}
	})
}
