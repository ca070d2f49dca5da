package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// Media the archive has no copy of is said to be so on the page, in the
// text log and in the API, in place of a broken image or a dead link: not
// archived yet (queued), or not available (refused for good, encrypted).
// When the copy arrives, the page's ETag changes and it shows the image,
// with the render cache on too (a cached label must not outlive it).
func TestMediaUnavailableOnPages(t *testing.T) {
	for _, cache := range []struct {
		name string
		opts web.Options
	}{{"uncached", web.Options{}}, {"cached", cacheOn}} {
		t.Run(cache.name, func(t *testing.T) { testMediaUnavailableOnPages(t, cache.opts) })
	}
}

func testMediaUnavailableOnPages(t *testing.T, opts web.Options) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newMediaEnvOpts(t, st, writeRoom(t,
			msgLine("$ok", 1767225601000, `{"msgtype":"m.image","body":"shot.png","url":"mxc://example.org/ok"}`),
			msgLine("$wait", 1767225602000, `{"msgtype":"m.image","body":"wait.png","url":"mxc://example.org/wait","info":{"size":1536,"w":800,"h":600}}`),
			msgLine("$big", 1767225603000, `{"msgtype":"m.file","body":"big.bin","url":"mxc://example.org/big","info":{"size":2048}}`),
			msgLine("$full", 1767225603500, `{"msgtype":"m.image","body":"full.png","url":"mxc://example.org/full"}`),
			msgLine("$enc", 1767225604000, `{"msgtype":"m.video","body":"clip.mp4","file":{"url":"mxc://example.org/enc"},"info":{"size":4096}}`),
		), opts)
		e.fetch(t, "mxc://example.org/ok", testPNG)
		if err := st.MediaFailed(ctx, event.MXC{Server: "example.org", MediaID: "big"}, "too large", time.Now(), true); err != nil {
			t.Fatal(err)
		}
		if err := st.MediaWaitsForSpace(ctx, event.MXC{Server: "example.org", MediaID: "full"}, "full", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		const day = "/room/!x:example.org/2026-01-01"
		first := e.get(t, day)
		doc := e.page(t, day, http.StatusOK)
		if doc.Find(`img.media[src="/media/example.org/ok"]`).Length() != 1 {
			t.Error("the stored image is not shown")
		}
		if n := doc.Find(`[src*="/media/example.org/wait"], [href*="/media/example.org/wait"], [src*="/media/example.org/big"], [href*="/media/example.org/big"]`).Length(); n != 0 {
			t.Errorf("%d images or links to files the archive has no copy of", n)
		}
		labels := doc.Find(`.media.unavailable`)
		if labels.Length() != 4 {
			t.Fatalf("%d unavailable labels, want 4: %s", labels.Length(), doc.Text())
		}
		for i, want := range []string{"Image not archived yet: wait.png (1.5 KiB)", "File not available in the archive: big.bin (2.0 KiB)",
			"Image not available in the archive: full.png", "Video not available in the archive: clip.mp4 (4.0 KiB)"} {
			if got := strings.Join(strings.Fields(labels.Eq(i).Text()), " "); got != want {
				t.Errorf("label %d = %q, want %q", i, got, want)
			}
		}
		// The permalink says so too.
		if p := e.page(t, "/room/!x:example.org/event/$wait", http.StatusOK); !strings.Contains(p.Find(`.media.unavailable`).Text(), "Image not archived yet") {
			t.Errorf("permalink: %s", p.Text())
		}

		txt := e.get(t, day+".txt").Body.String()
		for _, want := range []string{"shot.png </media/example.org/ok>", "wait.png (image not archived yet)", "big.bin (file not available in the archive)", "clip.mp4 (video not available in the archive)"} {
			if !strings.Contains(txt, want) {
				t.Errorf("text log lacks %q:\n%s", want, txt)
			}
		}
		if strings.Contains(txt, "/media/example.org/wait") || strings.Contains(txt, "/media/example.org/big") {
			t.Errorf("text log links a file the archive has no copy of:\n%s", txt)
		}
		for evID, want := range map[string]string{"$ok": `"media":"stored"`, "$wait": `"media":"pending"`, "$big": `"media":"unavailable"`, "$full": `"media":"unavailable"`, "$enc": `"media":"unavailable"`} {
			if api := e.get(t, "/api/v1/events/"+evID).Body.String(); !strings.Contains(api, want) {
				t.Errorf("API %s lacks %s: %s", evID, want, api)
			}
		}

		// The copy arrives: the page changes and shows it.
		e.fetch(t, "mxc://example.org/wait", testPNG)
		second := e.get(t, day)
		if first.Header().Get("ETag") == second.Header().Get("ETag") {
			t.Error("the day page's ETag did not change when the image was fetched")
		}
		doc = e.page(t, day, http.StatusOK)
		if doc.Find(`img.media[src="/media/example.org/wait"]`).Length() != 1 || doc.Find(`.media.unavailable`).Length() != 3 {
			t.Errorf("after the fetch: %s", doc.Text())
		}
		if api := e.get(t, "/api/v1/events/$wait").Body.String(); !strings.Contains(api, `"media":"stored"`) {
			t.Errorf("API after the fetch: %s", api)
		}
	})
}
