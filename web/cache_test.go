package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// cacheOn is a render cache large enough for every test page.
var cacheOn = web.Options{CacheBytes: 8 << 20}

// cacheRoom is a room where @a says alphaword and @z, named Zorblax, zetaword.
func cacheRoom() []string {
	return []string{
		zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
		zLine("$m", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"alphaword here"}`),
		zLine("$zm", "m.room.message", 2000, zUser, nil, `{"msgtype":"m.text","body":"zetaword here"}`),
	}
}

// TestCachedPagesFollowEveryChange: with the render cache on, each kind
// of change a page shows (page before, change, page after) is on the very
// next request of every route that shows it: the day page, text log, API
// day, permalink and API event. The pages are asked for twice before the
// change, so the second answer comes from the cache.
func TestCachedPagesFollowEveryChange(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// gone must be shown before the change and by no route after it;
		// appears by none before and by some route after.
		gone, appears string
		change        func(t *testing.T, e *env)
	}{
		{"redaction", "alphaword", "", func(t *testing.T, e *env) {
			e.addEvents(t, redactionLine("$r", aUser, 1767225605000, "$m", "spam"))
		}},
		{"edit", "alphaword", "betaword", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$ed", "m.room.message", 5000, aUser, nil,
				`{"msgtype":"m.text","body":"* betaword here","m.new_content":{"msgtype":"m.text","body":"betaword here"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
		}},
		{"reaction", "", "unicornkey", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$re", "m.reaction", 5000, zUser, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":"unicornkey"}}`))
		}},
		{"thread reply", "", "threadword", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$tr", "m.room.message", 5000, zUser, nil, `{"msgtype":"m.text","body":"threadword","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}`))
		}},
		{"opt-out", "zetaword", "", func(t *testing.T, e *env) {
			if _, err := e.st.OptOut(ctx, zUser, "operator"); err != nil {
				t.Fatal(err)
			}
		}},
		{"takedown", "alphaword", "", func(t *testing.T, e *env) {
			if err := e.st.Takedown(ctx, "$m", "unlawful"); err != nil {
				t.Fatal(err)
			}
		}},
		{"expiry", "alphaword", "", func(t *testing.T, e *env) {
			// A day's lifetime: 2026-01-01 is long past.
			e.addEvents(t, zLine("$ret", "m.room.retention", 5000, aUser, sk(""), `{"max_lifetime":86400000}`))
		}},
		{"room hidden", "alphaword", "", func(t *testing.T, e *env) {
			if err := e.st.HideRoom(ctx, "!x:example.org", true, "operator"); err != nil {
				t.Fatal(err)
			}
		}},
		{"display name change", "", "Quuxley", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$zn", "m.room.member", 5000, zUser, sk(zUser), `{"membership":"join","displayname":"Quuxley"}`))
		}},
		{"member event redaction", "Zorblax", "", func(t *testing.T, e *env) {
			e.addEvents(t, redactionLine("$zr", zUser, 1767225605000, "$zj", ""))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.EachWith(t, store.Options{Retention: retention.Policy{Enabled: true}}, func(t *testing.T, st *store.Store) {
				e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
				e.everywhere(t, "$m", "$zm")
				before := e.everywhere(t, "$m", "$zm")
				all := strings.Join(mapValues(before), "\n")
				if c.gone != "" && !strings.Contains(before["day page"], c.gone) {
					t.Fatalf("before the %s the day page does not show %q:\n%.3000s", c.name, c.gone, before["day page"])
				}
				if c.appears != "" && strings.Contains(all, c.appears) {
					t.Fatalf("before the %s a route shows %q", c.name, c.appears)
				}
				c.change(t, e)
				after := e.everywhere(t, "$m", "$zm")
				for route, body := range after {
					if c.gone != "" && strings.Contains(body, c.gone) {
						t.Errorf("after the %s %s still shows %q:\n%.3000s", c.name, route, c.gone, body)
					}
				}
				if c.appears != "" && !strings.Contains(after["day page"], c.appears) {
					t.Errorf("after the %s the day page does not show %q:\n%.3000s", c.name, c.appears, after["day page"])
				}
			})
		})
	}
}

// TestTextLogETagFollowsItsText: where no page key stands for a page (no
// render cache, or a room whose messages expire), its ETag is made from
// its view and what its messages render, so a change that alters only a
// message's text (a second edit: the log already marks it edited, at the
// same time) still changes the ETag, and the client's copy is not
// confirmed with 304.
func TestTextLogETagFollowsItsText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, writeRoom(t, append(cacheRoom(),
			zLine("$ed1", "m.room.message", 3000, aUser, nil,
				`{"msgtype":"m.text","body":"* betaword here","m.new_content":{"msgtype":"m.text","body":"betaword here"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))...))
		const log = "/room/!x:example.org/2026-01-01.txt"
		before := e.get(t, log)
		etag := before.Header().Get("ETag")
		if before.Code != http.StatusOK || etag == "" || !strings.Contains(before.Body.String(), "betaword") {
			t.Fatalf("GET %s = %d, ETag %q:\n%s", log, before.Code, etag, before.Body.String())
		}
		e.addEvents(t, zLine("$ed2", "m.room.message", 3000, aUser, nil,
			`{"msgtype":"m.text","body":"* gammaword here","m.new_content":{"msgtype":"m.text","body":"gammaword here"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
		req := httptest.NewRequest(http.MethodGet, log, nil)
		req.Header.Set("If-None-Match", etag)
		after := httptest.NewRecorder()
		e.srv.ServeHTTP(after, req)
		if after.Code != http.StatusOK || !strings.Contains(after.Body.String(), "gammaword") {
			t.Errorf("after a second edit, GET %s with the old ETag = %d:\n%s", log, after.Code, after.Body.String())
		}
		if got := after.Header().Get("ETag"); got == etag {
			t.Errorf("after a second edit the text log's ETag is still %s", got)
		}
	})
}

// TestRenderCacheServesRepeats: with the cache on, a page asked for again
// renders no message, its body is the same, and a message shown on
// another page is not rendered again; with it off, every request renders.
func TestRenderCacheServesRepeats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var calls atomic.Int64
		e := newEnvRender(t, st, countingRenderer(&calls, nil), cacheOn, imageRoom(t, 5))
		const day = "/room/!x:example.org/2026-01-01"
		first := e.get(t, day)
		if first.Code != http.StatusOK || calls.Load() == 0 {
			t.Fatalf("GET %s = %d after rendering %d images", day, first.Code, calls.Load())
		}
		// The permalink's messages were all on the day page; the API day's
		// (the thread reply in full) after a first request of it.
		const api = "/api/v1/rooms/!x:example.org/events?date=2026-01-01"
		e.get(t, api)
		for _, p := range []string{day, "/room/!x:example.org/event/$i2", api} {
			before := calls.Load()
			rec := e.get(t, p)
			if rec.Code != http.StatusOK || calls.Load() != before {
				t.Errorf("GET %s (its images rendered before) = %d after rendering %d images, want none", p, rec.Code, calls.Load()-before)
			}
		}
		if again := e.get(t, day); again.Body.String() != first.Body.String() || again.Header().Get("ETag") != first.Header().Get("ETag") {
			t.Errorf("the cached day page differs from the first")
		}
	})
	t.Run("off", func(t *testing.T) {
		var calls atomic.Int64
		e := newEnvRender(t, storetest.Open(t, "sqlite"), countingRenderer(&calls, nil), web.Options{}, imageRoom(t, 5))
		for i := range 2 {
			before := calls.Load()
			if rec := e.get(t, "/room/!x:example.org/2026-01-01"); rec.Code != http.StatusOK || calls.Load() == before {
				t.Errorf("request %d without a cache rendered nothing", i)
			}
		}
	})
}

// TestRenderCacheIsBounded: a crawler walking many pages cannot grow the
// cache past its bound; the pages still answer in full.
func TestRenderCacheIsBounded(t *testing.T) {
	var lines []string
	for d := range 40 {
		for i := range 20 {
			lines = append(lines, msgLine(fmt.Sprintf("$d%dm%d", d, i), 1767225601000+int64(d)*86400000+int64(i),
				fmt.Sprintf(`{"msgtype":"m.text","body":"day %d message %d %s"}`, d, i, strings.Repeat("padding ", 50))))
		}
	}
	const bound = 256 << 10
	e := newEnvRender(t, storetest.Open(t, "sqlite"), render.New(render.Options{}), web.Options{CacheBytes: bound}, writeRoom(t, lines...))
	for d := range 40 {
		path := "/room/!x:example.org/2026-01-" + fmt.Sprintf("%02d", d+1)
		if d >= 31 {
			path = "/room/!x:example.org/2026-02-" + fmt.Sprintf("%02d", d-30)
		}
		rec := e.get(t, path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), fmt.Sprintf("day %d message 19", d)) {
			t.Fatalf("GET %s = %d without its last message", path, rec.Code)
		}
		if n := e.srv.CacheBytes(); n > bound || n <= 0 {
			t.Fatalf("after %s the cache holds %d bytes, bound %d", path, n, bound)
		}
	}
}

// TestGzipVariant: with the cache on, a client that accepts gzip gets the
// same page gzipped, under an ETag of its own that revalidates it (and not
// the identity copy), with Vary: Accept-Encoding on both; q=0 refuses
// gzip; and a redaction leaves the gzipped page too.
func TestGzipVariant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		paths := []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"}
		get := func(path, accept, inm string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Accept-Encoding", accept)
			req.Header.Set("If-None-Match", inm)
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			return rec
		}
		for _, p := range paths {
			plain := get(p, "", "")
			for range 2 { // compressed, then from the cache
				zipped := get(p, "br, gzip;q=0.8", "")
				if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("ETag") == plain.Header().Get("ETag") ||
					!strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") || !strings.Contains(plain.Header().Get("Vary"), "Accept-Encoding") {
					t.Fatalf("%s: gzip %q, ETags %q and %q, Vary %q and %q", p, zipped.Header().Get("Content-Encoding"),
						zipped.Header().Get("ETag"), plain.Header().Get("ETag"), zipped.Header().Get("Vary"), plain.Header().Get("Vary"))
				}
				if got := gunzip(t, zipped.Body.Bytes()); got != plain.Body.String() {
					t.Errorf("%s: the gzipped body differs from the plain one", p)
				}
			}
			zipped := get(p, "gzip", "")
			if rec := get(p, "gzip", zipped.Header().Get("ETag")); rec.Code != http.StatusNotModified {
				t.Errorf("%s: revalidating the gzipped copy = %d", p, rec.Code)
			}
			if rec := get(p, "gzip", plain.Header().Get("ETag")); rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: the identity ETag revalidated the gzipped copy: %d", p, rec.Code)
			}
			if rec := get(p, "gzip;q=0, identity", ""); rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != plain.Body.String() {
				t.Errorf("%s: gzip;q=0 got Content-Encoding %q", p, rec.Header().Get("Content-Encoding"))
			}
		}
		e.addEvents(t, redactionLine("$r", aUser, 1767225605000, "$m", "spam"))
		for _, p := range paths {
			if body := gunzip(t, get(p, "gzip", "").Body.Bytes()); strings.Contains(body, "alphaword") {
				t.Errorf("after the redaction the gzipped %s still shows it", p)
			}
		}
	})
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestRenderCacheKeepsPagesPacked: a day page asked for once is kept in a
// fraction of its length (packed), one asked for again whole (unpack),
// and every later request, many at once, gets it byte for byte, as do
// the text log and the JSON day.
func TestRenderCacheKeepsPagesPacked(t *testing.T) {
	var lines []string
	for i := range 300 {
		lines = append(lines, msgLine(fmt.Sprintf("$p%d", i), 1767225601000+int64(i)*1000,
			fmt.Sprintf(`{"msgtype":"m.text","body":"message %d of a busy day, said about thing %d"}`, i, i*7)))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, lines...))
		for _, p := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt",
			"/api/v1/rooms/!x:example.org/events?date=2026-01-01"} {
			before := e.srv.CacheBytes()
			first := e.get(t, p)
			if first.Code != http.StatusOK || !strings.Contains(first.Body.String(), "message 299 of a busy day") {
				t.Fatalf("GET %s = %d without its last message", p, first.Code)
			}
			if kept := e.srv.CacheBytes() - before; kept <= 0 || kept > int64(first.Body.Len()/2) {
				t.Errorf("%s: %d bytes kept for a body of %d", p, kept, first.Body.Len())
			}
			if second := e.get(t, p); second.Body.String() != first.Body.String() {
				t.Errorf("%s: the second request's body differs from the first", p)
			}
			if kept := e.srv.CacheBytes() - before; kept < int64(first.Body.Len()) {
				t.Errorf("%s: %d bytes kept for a body of %d asked for twice: not kept whole", p, kept, first.Body.Len())
			}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 5 {
						if again := e.get(t, p); again.Code != http.StatusOK || again.Body.String() != first.Body.String() {
							t.Errorf("%s again: %d, %d bytes differing from the first %d", p, again.Code, again.Body.Len(), first.Body.Len())
							return
						}
					}
				})
			}
			wg.Wait()
		}
	})
}

// TestBodiesSentWithLength: a page's body goes with its length, not
// chunked, built or from the cache, plain or gzipped: a client has the
// whole response once its bytes are in, without waiting for what the
// server does after sending it (keeping it in the render cache).
func TestBodiesSentWithLength(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		srv := httptest.NewServer(e.srv)
		defer srv.Close()
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		for _, p := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt",
			"/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/room/!x:example.org/event/$m"} {
			for _, accept := range []string{"", "gzip"} {
				for _, when := range []string{"built", "cached"} {
					req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Accept-Encoding", accept)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s (%s, %q) = %d, %v", p, when, accept, resp.StatusCode, err)
					}
					if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
						t.Errorf("GET %s (%s, %q): Content-Length %d, Transfer-Encoding %q, for a body of %d bytes",
							p, when, accept, resp.ContentLength, resp.TransferEncoding, len(body))
					}
				}
			}
		}
	})
}

// TestIfMatch: a request whose If-Match names none of the representation's
// ETags fails (412, RFC 9110 13.1.1: compared strongly), on the pages of
// messages and the other validated answers alike.
func TestIfMatch(t *testing.T) {
	e := newEnvRender(t, storetest.Open(t, "sqlite"), render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
	for _, p := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt",
		"/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/api/v1/rooms", "/room/!x:example.org/calendar/2026"} {
		etag := e.get(t, p).Header().Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", p)
		}
		for im, want := range map[string]int{etag: http.StatusOK, "*": http.StatusOK, `"nope", ` + etag: http.StatusOK,
			`"nope"`: http.StatusPreconditionFailed, "W/" + etag: http.StatusPreconditionFailed} {
			if rec := e.do(t, http.MethodGet, p, map[string]string{"If-Match": im}); rec.Code != want {
				t.Errorf("%s, If-Match %s = %d, want %d", p, im, rec.Code, want)
			}
		}
	}
}
