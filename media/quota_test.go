package media_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// With media.max_total set, a fetch that would pass it is refused as
// "quota": nothing stored is deleted to make room, the fetch waits (not a
// failure, never given up) and shows as unavailable, and it is fetched as
// soon as space frees up.
func TestFetcherQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		hs := &homeserver{v1: true, files: map[string]string{
			"example.org/a": strings.Repeat("a", 60), "example.org/b": strings.Repeat("b", 60),
		}}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		st.PutEvents(ctx, []store.Event{
			ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			ev(t, "$a", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"a","url":"mxc://example.org/a"}`),
		})
		dir, _ := media.OpenDir(t.TempDir())
		f, _ := media.NewFetcher(st, dir, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		f.MaxTotal = 100
		if _, err := f.Drain(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		st.PutEvents(ctx, []store.Event{
			ev(t, "$b", "m.room.message", "@bob:example.org", 3000, nil, `{"msgtype":"m.file","body":"b","url":"mxc://example.org/b"}`),
		})
		for range 3 { // however often it is tried
			if _, err := f.Drain(ctx, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		a := event.MXC{Server: "example.org", MediaID: "a"}
		b := event.MXC{Server: "example.org", MediaID: "b"}
		ma, _ := st.MediaFor(ctx, a)
		if ma.State != store.MediaReady {
			t.Fatalf("a: %+v", ma)
		}
		if _, err := os.Stat(dir.Path(ma.SHA256)); err != nil {
			t.Fatalf("a's bytes deleted to make room: %v", err)
		}
		copies, err := st.MediaCopies(ctx, []event.MXC{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if c := copies[b]; c.Stored || !c.Queued || !c.Quota || c.GaveUp {
			t.Fatalf("b over the quota: %+v; want queued, waiting for space, not given up", c)
		}
		if mb, _ := st.MediaFor(ctx, b); mb.State != store.MediaPending || !strings.Contains(mb.Error, "media.max_total") {
			t.Fatalf("b: %+v; want pending with the quota named", mb)
		}
		s, err := st.MediaStats(ctx)
		if err != nil || s.Bytes != 60 || s.Quota != 1 {
			t.Fatalf("stats %+v, %v; want 60 bytes, 1 waiting for space", s, err)
		}

		// $a is redacted: its bytes go, and b comes in at the next round
		// (Run's, not an operator's catch-up).
		st.PutEvents(ctx, []store.Event{ev(t, "$r", "m.room.redaction", "@bob:example.org", 4000, nil, `{"redacts":"$a"}`)})
		if _, err := f.Collect(ctx); err != nil {
			t.Fatal(err)
		}
		jobs, err := st.DueMedia(ctx, "", time.Now(), 10)
		if err != nil || len(jobs) != 1 || jobs[0].MXC != b {
			t.Fatalf("due after space freed: %+v, %v; want b", jobs, err)
		}
		if _, err := f.Drain(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		if mb, _ := st.MediaFor(ctx, b); mb.State != store.MediaReady {
			t.Fatalf("b once space freed: %+v", mb)
		}
	})
}
