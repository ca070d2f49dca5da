package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// botMembership is the archive bot's membership in room as the homeserver
// says ("" if it has none).
func (w *world) botMembership(room string) string {
	var m struct {
		Membership string `json:"membership"`
	}
	code, err := w.alice.Do(http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/state/m.room.member/"+url.PathEscape(w.bot), nil, &m)
	if err != nil || code != http.StatusOK {
		return ""
	}
	return m.Membership
}

// notShown fails the test if the archive shows room or any of the events.
func (w *world) notShown(room string, events ...string) {
	w.t.Helper()
	r, err := w.st.Room(context.Background(), id.RoomID(room))
	if err == nil && r.Shown() {
		w.t.Errorf("room %s is shown: %+v", room, r)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		w.t.Error(err)
	}
	if got := w.archived(events...); len(got) > 0 {
		w.t.Errorf("events archived: %v", got)
	}
}

// Design rule 8: a member without the power to change the history
// visibility cannot make the archive publish a room; a room admin can.
func TestOnlyAnAdminsInviteMakesTheArchiveJoin(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("byinvite", "world_readable") // alice: 100, bob: 0
	before := w.bob.Send(t, room, "m.room.message", text("said before anyone invited the archive"))
	w.bob.Invite(t, room, w.bot)
	w.waitFor("the bot to leave the room a member invited it to", 60*time.Second, func() bool {
		return w.botMembership(room) == "leave"
	})
	time.Sleep(2 * time.Second) // a backfill or sweep would have run by now
	w.notShown(room, before)

	// The room's admin asks: archived, history included.
	w.inviteBot(room)
	w.waitFor("the history the admin's invite opened", 60*time.Second, func() bool { return len(w.archived(before)) == 1 })
	if r, err := w.st.Room(context.Background(), id.RoomID(room)); err != nil || !r.Shown() {
		t.Errorf("room after the admin's invite: %+v, %v", r, err)
	}
}

// A tombstone makes the archive follow only a room whose m.room.create
// names the old room as its predecessor: an archived room's admin cannot
// make the archive publish another room by pointing at it.
func TestTombstoneIsFollowedOnlyToItsSuccessor(t *testing.T) {
	w := newWorld(t)
	old := w.publicRoom("tomb-old", "world_readable")
	w.inviteBot(old)
	other := w.alice.CreateRoom(t, map[string]any{
		"preset": "public_chat", "name": "Never asked to be archived",
		"initial_state": []map[string]any{{"type": "m.room.history_visibility", "state_key": "",
			"content": map[string]any{"history_visibility": "world_readable"}}},
	})
	secret := w.alice.Send(t, other, "m.room.message", text("not for the archive"))
	w.alice.SendState(t, old, "m.room.tombstone", "", map[string]any{"body": "moved", "replacement_room": other})
	w.waitFor("the archive to decline the false successor", 60*time.Second, func() bool {
		return w.botMembership(other) == "leave"
	})
	time.Sleep(2 * time.Second)
	w.notShown(other, secret)
}

// faultyHomeserver sits between the archiver and Dendrite and fails what it
// is told to, as a homeserver under load does.
type faultyHomeserver struct {
	failBackfill, failJoin atomic.Bool
	srv                    *httptest.Server
}

func newFaultyHomeserver(t *testing.T, target string) *faultyHomeserver {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyHomeserver{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		backfill := strings.HasSuffix(r.URL.Path, "/messages") && r.URL.Query().Get("dir") == "b"
		join := strings.HasPrefix(r.URL.Path, "/_matrix/client/v3/join/")
		if (backfill && f.failBackfill.Load()) || (join && f.failJoin.Load()) {
			http.Error(rw, `{"errcode":"M_UNKNOWN","error":"overloaded"}`, http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// through restarts the archiver talking to the homeserver through a
// faulty proxy, with env added.
func (w *world) through(env ...string) *faultyHomeserver {
	f := newFaultyHomeserver(w.t, w.hs.URL)
	w.stopArchiver()
	w.env = append(w.env, append([]string{"MXARCHIVE_HOMESERVER_ADDRESS=" + f.srv.URL}, env...)...)
	w.startArchiver()
	return f
}

// A backfill that failed is retried until it completes, and a join that
// failed (here: following an upgrade) is retried too: history has no
// silent gap.
func TestFailedBackfillAndJoinAreRetried(t *testing.T) {
	w := newWorld(t)
	f := w.through("MXARCHIVE_ARCHIVE_BACKFILL_RETRY=1s")
	room := w.publicRoom("retried", "world_readable")
	early := w.alice.Send(t, room, "m.room.message", text("before the archive came"))
	f.failBackfill.Store(true)
	w.inviteBot(room)
	time.Sleep(3 * time.Second)
	if len(w.archived(early)) != 0 {
		t.Fatal("the backfill was not made to fail")
	}
	f.failBackfill.Store(false)
	w.waitFor("the failed backfill to be retried", 60*time.Second, func() bool { return len(w.archived(early)) == 1 })

	f.failJoin.Store(true)
	var up struct {
		ReplacementRoom string `json:"replacement_room"`
	}
	if _, err := w.alice.Do("POST", "/_matrix/client/v3/rooms/"+room+"/upgrade", map[string]any{"new_version": "10"}, &up); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	time.Sleep(3 * time.Second)
	if m := w.botMembership(up.ReplacementRoom); m == "join" {
		t.Fatal("the join was not made to fail")
	}
	f.failJoin.Store(false)
	w.waitFor("the failed join to be retried", 60*time.Second, func() bool { return w.botMembership(up.ReplacementRoom) == "join" })

	// The operator's archive.join too.
	listed := w.alice.CreateRoom(t, map[string]any{"preset": "public_chat",
		"initial_state": []map[string]any{{"type": "m.room.history_visibility", "state_key": "",
			"content": map[string]any{"history_visibility": "world_readable"}}}})
	f.failJoin.Store(true)
	w.stopArchiver()
	w.env = append(w.env, "MXARCHIVE_ARCHIVE_JOIN="+listed)
	w.startArchiver()
	time.Sleep(4 * time.Second)
	if m := w.botMembership(listed); m == "join" {
		t.Fatal("the operator's join was not made to fail")
	}
	f.failJoin.Store(false)
	w.waitFor("the operator's failed join to be retried", 60*time.Second, func() bool { return w.botMembership(listed) == "join" })
}

// A room whose history stays non-public is left after
// archive.leave_non_public_after, not swept for ever.
func TestLeavesARoomThatStaysNonPublic(t *testing.T) {
	w := newWorld(t)
	w.stopArchiver()
	w.env = append(w.env, "MXARCHIVE_ARCHIVE_LEAVE_NON_PUBLIC_AFTER=3s")
	w.startArchiver()
	room := w.publicRoom("members-only", "shared")
	w.inviteBot(room)
	w.waitFor("the bot to leave the non-public room", 60*time.Second, func() bool { return w.botMembership(room) == "leave" })
	public := w.publicRoom("public", "world_readable")
	w.inviteBot(public)
	time.Sleep(8 * time.Second)
	if m := w.botMembership(public); m != "join" {
		t.Errorf("the bot left a world-readable room too: %q", m)
	}
}

// A backfill stops at archive.backfill_max_bytes: the newest history is
// archived, the older is not, and the room records that its history does
// not reach its creation.
func TestBackfillStopsAtItsByteBound(t *testing.T) {
	w := newWorld(t)
	w.stopArchiver()
	w.env = append(w.env, "MXARCHIVE_ARCHIVE_BACKFILL_MAX_BYTES=4000")
	w.startArchiver()
	room := w.publicRoom("bounded", "world_readable")
	var sent []string
	for i := range 20 {
		sent = append(sent, w.alice.Send(t, room, "m.room.message", text(strings.Repeat("history ", 20)+string(rune('a'+i)))))
	}
	w.inviteBot(room)
	newest := sent[len(sent)-1]
	w.waitFor("the newest message from the backfill", 60*time.Second, func() bool { return len(w.archived(newest)) == 1 })
	time.Sleep(2 * time.Second)
	got := w.archived(sent...)
	if len(got) == len(sent) || len(got) == 0 {
		t.Errorf("%d of %d messages archived; want the newest only, up to 4,000 bytes", len(got), len(sent))
	}
	if _, ok := got[sent[0]]; ok {
		t.Error("the oldest message was archived beyond the bound")
	}
	if rs, err := w.st.RoomSync(context.Background(), id.RoomID(room)); err != nil || rs.ReachedCreate {
		t.Errorf("room sync = %+v, %v; want history not reaching creation", rs, err)
	}
}
