package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Two fetchers (`archiver run` and `archiver media fetch`) share the
// queue: a claimed fetch is nobody else's until it ends, is released, or
// its claim lapses (a killed process); a blob whose bytes a deletion pass
// removed is not recorded as stored.
func TestMediaClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if _, err := st.PutEvents(ctx, []store.Event{
			mk(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			mediaMsg(t, "$a", "@bob:example.org", 2000, "m.file", "mxc://example.org/a", ""),
			mediaMsg(t, "$b", "@bob:example.org", 2001, "m.file", "mxc://example.org/b", ""),
		}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claim := func(owner string, at time.Time) []string {
			t.Helper()
			jobs, err := st.ClaimMedia(ctx, owner, "", at, time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, j := range jobs {
				out = append(out, j.MediaID)
			}
			return out
		}
		if got := claim("A", now); len(got) != 2 {
			t.Fatalf("A claimed %v; want both", got)
		}
		if got := claim("B", now); len(got) != 0 {
			t.Fatalf("B claimed %v while A holds them", got)
		}
		// A renews; B still gets nothing past the first lease.
		if err := st.RenewMedia(ctx, "A", now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := claim("B", now.Add(90*time.Second)); len(got) != 0 {
			t.Fatalf("B claimed %v while A's renewed claim holds", got)
		}
		// A fails on a: the claim ends with it, and a waits for its retry.
		a := event.MXC{Server: "example.org", MediaID: "a"}
		if err := st.MediaFailed(ctx, a, "boom", now.Add(time.Second), false); err != nil {
			t.Fatal(err)
		}
		if got := claim("B", now.Add(2*time.Second)); len(got) != 1 || got[0] != "a" {
			t.Fatalf("B claimed %v; want a, failed and due again", got)
		}
		// A and B are killed: their claims lapse.
		if got := claim("C", now.Add(2*time.Minute+time.Second)); len(got) != 2 {
			t.Fatalf("C claimed %v after A's and B's claims lapsed; want both", got)
		}
		if err := st.ReleaseMedia(ctx, "C"); err != nil {
			t.Fatal(err)
		}
		if got := claim("D", now.Add(2*time.Minute+time.Second)); len(got) != 2 {
			t.Fatalf("D claimed %v after C released them; want both", got)
		}
		// Bytes gone when the fetch is recorded: nothing is recorded and
		// the fetch stays queued.
		gone := errors.New("bytes gone")
		b := event.MXC{Server: "example.org", MediaID: "b"}
		if _, err := st.MediaFetched(ctx, b, "0000000000000000000000000000000000000000000000000000000000000000", 3, "text/plain", func() error { return gone }); !errors.Is(err, gone) {
			t.Fatalf("MediaFetched with the bytes gone: %v", err)
		}
		if m := wantMedia(t, st, "mxc://example.org/b", store.MediaPending); m.SHA256 != "" {
			t.Fatalf("b: %+v", m)
		}
		if got := dueURIs(t, st); len(got) != 1 || got[0] != "mxc://example.org/b" {
			t.Fatalf("queue after a refused record: %v", got)
		}
	})
}
