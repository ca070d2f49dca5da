package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

func mediaMsg(t *testing.T, evID, sender string, ts int64, msgtype, url, thumb string) store.Event {
	info := ""
	if thumb != "" {
		info = fmt.Sprintf(`,"info":{"thumbnail_url":%q}`, thumb)
	}
	return mk(t, evID, "m.room.message", sender, ts, nil, fmt.Sprintf(`{"msgtype":%q,"body":"f","url":%q%s}`, msgtype, url, info))
}

func mediaState(t *testing.T, st *store.Store, uri string) store.Media {
	t.Helper()
	m, ok := event.ParseMXC(uri)
	if !ok {
		t.Fatalf("bad test mxc %s", uri)
	}
	got, err := st.MediaFor(context.Background(), m)
	if err != nil {
		t.Fatalf("MediaFor(%s): %v", uri, err)
	}
	return got
}

func wantMedia(t *testing.T, st *store.Store, uri string, want store.MediaState) store.Media {
	t.Helper()
	got := mediaState(t, st, uri)
	if got.State != want {
		t.Fatalf("MediaFor(%s).State = %d, want %d", uri, got.State, want)
	}
	return got
}

func fetched(t *testing.T, st *store.Store, uri, sha string) bool {
	t.Helper()
	m, _ := event.ParseMXC(uri)
	kept, err := st.MediaFetched(context.Background(), m, sha, 42, "image/png", nil)
	if err != nil {
		t.Fatal(err)
	}
	return kept
}

func dueURIs(t *testing.T, st *store.Store) []string {
	t.Helper()
	jobs, err := st.DueMedia(context.Background(), "", time.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range jobs {
		out = append(out, j.String())
	}
	slices.Sort(out)
	return out
}

func orphans(t *testing.T, st *store.Store) []string {
	t.Helper()
	o, err := st.OrphanedBlobs(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(o)
	return o
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	shaC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// Refs are written with the event, only for public events; a URI shared by
// two events outlives the redaction of one; the last reference's erasure
// turns the URL to 410 and hands the blob to the archiver for deletion,
// unless another URI still names the same bytes.
func TestMediaRefcounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		priv := mediaMsg(t, "$priv", "@bob:example.org", 1900, "m.image", "mxc://example.org/secret", "")
		priv.Public = false
		put(t, st,
			mediaMsg(t, "$img", "@bob:example.org", 2000, "m.image", "mxc://example.org/img", "mxc://example.org/thumb"),
			mediaMsg(t, "$again", "@carol:example.org", 2100, "m.file", "mxc://example.org/img", ""),
			mediaMsg(t, "$other", "@carol:example.org", 2200, "m.file", "mxc://example.org/copy", ""),
			mk(t, "$text", "m.room.message", "@bob:example.org", 2300, nil, `{"msgtype":"m.text","body":"x","url":"mxc://example.org/nottext"}`),
			mk(t, "$enc", "m.room.message", "@bob:example.org", 2400, nil, `{"msgtype":"m.file","body":"x","file":{"url":"mxc://example.org/encrypted"}}`),
			priv)
		if got, want := dueURIs(t, st), []string{"mxc://example.org/copy", "mxc://example.org/img", "mxc://example.org/thumb"}; !slices.Equal(got, want) {
			t.Fatalf("queued %v, want %v", got, want)
		}
		wantMedia(t, st, "mxc://example.org/img", store.MediaPending)
		for _, never := range []string{"mxc://example.org/secret", "mxc://example.org/nottext", "mxc://example.org/encrypted", "mxc://example.org/unknown"} {
			wantMedia(t, st, never, store.MediaUnknown)
		}
		// img and copy are the same bytes (shaA); thumb is other bytes.
		if !fetched(t, st, "mxc://example.org/img", shaA) || !fetched(t, st, "mxc://example.org/copy", shaA) || !fetched(t, st, "mxc://example.org/thumb", shaB) {
			t.Fatal("a fetch with live references was not kept")
		}
		if due := dueURIs(t, st); len(due) != 0 {
			t.Fatalf("still queued after fetching: %v", due)
		}
		if m := wantMedia(t, st, "mxc://example.org/img", store.MediaReady); m.SHA256 != shaA || m.ContentType != "image/png" {
			t.Fatalf("ready media %+v", m)
		}
		// Storing the events again adds nothing and queues nothing.
		put(t, st, mediaMsg(t, "$img", "@bob:example.org", 2000, "m.image", "mxc://example.org/img", "mxc://example.org/thumb"))
		if due := dueURIs(t, st); len(due) != 0 {
			t.Fatalf("a duplicate queued %v", due)
		}

		// The archive's own thumbnail of thumb (shaC) goes with it.
		if kept, err := st.MediaThumbnail(ctx, event.MXC{Server: "example.org", MediaID: "thumb"}, shaC, "image/jpeg", nil); err != nil || !kept {
			t.Fatalf("MediaThumbnail = %v, %v", kept, err)
		}
		if m := wantMedia(t, st, "mxc://example.org/thumb", store.MediaReady); m.ThumbSHA256 != shaC || m.ThumbType != "image/jpeg" {
			t.Fatalf("thumbnail not recorded: %+v", m)
		}
		put(t, st, mk(t, "$r1", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$img"}`))
		wantMedia(t, st, "mxc://example.org/thumb", store.MediaGone)
		wantMedia(t, st, "mxc://example.org/img", store.MediaReady) // $again still shows it
		if o := orphans(t, st); !slices.Equal(o, []string{shaB, shaC}) {
			t.Fatalf("orphans after redacting $img: %v, want the thumbnail's blob and the archive's thumbnail of it", o)
		}
		if err := st.ForgetOrphans(ctx, []string{shaB, shaC}); err != nil {
			t.Fatal(err)
		}
		put(t, st, mk(t, "$r2", "m.room.redaction", "@carol:example.org", 3100, nil, `{"redacts":"$again"}`))
		wantMedia(t, st, "mxc://example.org/img", store.MediaGone)
		if o := orphans(t, st); len(o) != 0 {
			t.Fatalf("shaA orphaned while mxc://example.org/copy still names it: %v", o)
		}
		put(t, st, mk(t, "$r3", "m.room.redaction", "@carol:example.org", 3200, nil, `{"redacts":"$other"}`))
		if o := orphans(t, st); !slices.Equal(o, []string{shaA}) {
			t.Fatalf("orphans after the last reference went: %v", o)
		}
		// A download that finishes after its event was erased is not kept.
		put(t, st, mediaMsg(t, "$late", "@bob:example.org", 4000, "m.image", "mxc://example.org/late", ""))
		put(t, st, mk(t, "$r4", "m.room.redaction", "@bob:example.org", 4100, nil, `{"redacts":"$late"}`))
		if err := st.ForgetOrphans(ctx, []string{shaA}); err != nil {
			t.Fatal(err)
		}
		if fetched(t, st, "mxc://example.org/late", shaA) {
			t.Fatal("a fetch for an erased event was recorded")
		}
		if o := orphans(t, st); !slices.Equal(o, []string{shaA}) {
			t.Fatalf("bytes fetched for an erased event are not orphaned: %v", o)
		}
		wantMedia(t, st, "mxc://example.org/late", store.MediaGone)
		// A redaction that arrived before its target: the target's media is
		// never queued at all.
		put(t, st, mk(t, "$r5", "m.room.redaction", "@bob:example.org", 5100, nil, `{"redacts":"$early"}`))
		put(t, st, mediaMsg(t, "$early", "@bob:example.org", 5000, "m.image", "mxc://example.org/early", ""))
		if due := dueURIs(t, st); len(due) != 0 {
			t.Fatalf("a pre-redacted event queued %v", due)
		}
	})
}

// Every way the archive stops showing an event stops its media at once:
// opt-out, room hiding, takedown (checked per request), and erasure and
// purge (references deleted, blob orphaned).
func TestMediaFollowsVisibility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st,
			mediaMsg(t, "$a", "@bob:example.org", 2000, "m.image", "mxc://example.org/a", ""),
			mediaMsg(t, "$b", "@carol:example.org", 2100, "m.video", "mxc://example.org/b", ""),
			mediaMsg(t, "$c", "@dave:example.org", 2200, "m.audio", "mxc://example.org/c", ""))
		fetched(t, st, "mxc://example.org/a", shaA)
		fetched(t, st, "mxc://example.org/b", shaB)
		fetched(t, st, "mxc://example.org/c", shaC)

		if _, err := st.OptOut(ctx, "@bob:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/a", store.MediaGone)
		if _, err := st.OptIn(ctx, "@bob:example.org"); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/a", store.MediaReady)

		if err := st.HideRoom(ctx, room, true, "test"); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/b", store.MediaGone)
		if err := st.HideRoom(ctx, room, false, ""); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/b", store.MediaReady)

		if err := st.Takedown(ctx, "$b", "illegal"); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/b", store.MediaGone)
		if o := orphans(t, st); !slices.Equal(o, []string{shaB}) {
			t.Fatalf("orphans after takedown: %v", o)
		}

		if _, err := st.EraseUser(ctx, "@dave:example.org", false); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/c", store.MediaGone)
		if o := orphans(t, st); len(o) != 2 {
			t.Fatalf("orphans after erasure: %v", o)
		}

		if _, err := st.PurgeRoom(ctx, room, false); err != nil {
			t.Fatal(err)
		}
		wantMedia(t, st, "mxc://example.org/a", store.MediaGone)
		if o := orphans(t, st); len(o) != 3 {
			t.Fatalf("orphans after purging the room: %v", o)
		}
	})
}

// A member cannot take someone else's archived file off the archive by
// referring to it in many messages that are not shown: sent after opting
// out, in a room of their own made private afterwards, or in a room whose
// retention expires them. MediaFor looked at the 50 newest references
// only, found none shown, and answered 410 for a file whose message is;
// then at 20 pages of 50, which 1,001 expired ones still hid.
func TestReferencesNotShownHideNoOnesMedia(t *testing.T) {
	const uri = "mxc://example.org/pic"
	now := time.Now().UnixMilli()
	const day = 24 * 3600 * 1000
	flood := func(t *testing.T, r id.RoomID, from int64) []store.Event {
		var evs []store.Event
		for i := range 1001 {
			evs = append(evs, mediaMsg(t, fmt.Sprintf("$flood%d", i), "@mallory:evil.example", from+int64(i), "m.image", uri, ""))
		}
		return inRoom(r, evs...)
	}
	own := func(t *testing.T, extra ...store.Event) []store.Event {
		return append(inRoom(hostile,
			mk(t, "$hcreate", "m.room.create", "@mallory:evil.example", now-20*day, sk(""), `{"room_version":"10"}`),
			mk(t, "$hhv", "m.room.history_visibility", "@mallory:evil.example", now-20*day+1, sk(""), `{"history_visibility":"world_readable"}`)), extra...)
	}
	for _, c := range []struct {
		name   string
		attack func(t *testing.T, st *store.Store)
	}{
		{"opted out", func(t *testing.T, st *store.Store) {
			if _, err := st.OptOut(context.Background(), "@mallory:evil.example", store.OptOutByUser); err != nil {
				t.Fatal(err)
			}
			put(t, st, inRoom(room, flood(t, room, now-day)...)...)
		}},
		{"own room made private", func(t *testing.T, st *store.Store) {
			put(t, st, own(t, flood(t, hostile, now-day)...)...)
			put(t, st, inRoom(hostile, mk(t, "$hhv2", "m.room.history_visibility", "@mallory:evil.example", now-day+100, sk(""), `{"history_visibility":"shared"}`))...)
		}},
		{"own room's retention", func(t *testing.T, st *store.Store) {
			put(t, st, own(t, inRoom(hostile, mk(t, "$hret", "m.room.retention", "@mallory:evil.example", now-20*day+2, sk(""), `{"max_lifetime":86400000}`))[0])...)
			put(t, st, flood(t, hostile, now-5*day)...)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, dialect := range storetest.Dialects {
				t.Run(dialect, func(t *testing.T) {
					st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
					base := baseRoom(t)
					for i := range base {
						base[i].OriginTS = now - 30*day + int64(i)
					}
					put(t, st, append(base, mediaMsg(t, "$bob", "@bob:example.org", now-10*day, "m.image", uri, ""))...)
					fetched(t, st, uri, shaA)
					wantMedia(t, st, uri, store.MediaReady)
					c.attack(t, st)
					if m := mediaState(t, st, uri); m.State != store.MediaReady {
						t.Errorf("Bob's image, still shown, after 1,001 references not shown: state %d, want %d (ready)", m.State, store.MediaReady)
					}
				})
			}
		})
	}
}
