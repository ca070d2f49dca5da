package e2e_test

// Consent end to end: rooms' retention policies, opt-outs by direct message
// with the bot, operator takedowns, and what the web and the search index
// show after each, against the real archiver and a real Dendrite.

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/dendritetest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// readerStore opens the archive as archive-web does: with the operator's
// policy from the config `archiver init` wrote and the world's environment
// (w.st is opened without one, so it sees what is stored, expired or not).
func (w *world) readerStore() *store.Store {
	w.t.Helper()
	cfg, err := config.Load(filepath.Join(w.dir, "config.yaml"), append(os.Environ(), w.env...))
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config(cfg.Database), cfg.DataDir, storetest.Logger(w.t),
		store.Options{Retention: cfg.Retention, ShowFormerlyPublic: cfg.Archive.ShowFormerlyPublic})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { st.Close() })
	return st
}

func (w *world) webServer(st *store.Store, search web.Searcher) *web.Server {
	w.t.Helper()
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(w.t), web.Options{Search: search, Bot: w.bot})
	if err != nil {
		w.t.Fatal(err)
	}
	return srv
}

// get answers a GET, following redirects.
func get(srv http.Handler, path string) (int, string) {
	for range 5 {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusFound && rec.Code != http.StatusMovedPermanently {
			return rec.Code, rec.Body.String()
		}
		path = rec.Header().Get("Location")
	}
	return 0, "too many redirects"
}

// slugOf is the room's path segment on the web: its alias without '#'
// once the directory verified it, else its ID.
func (w *world) slugOf(st *store.Store, room string) string {
	w.t.Helper()
	r, err := st.Room(context.Background(), id.RoomID(room))
	if err != nil {
		w.t.Fatal(err)
	}
	if r.Alias == "" {
		return url.PathEscape(room)
	}
	return strings.TrimPrefix(r.Alias, "#")
}

// roomRoutes lists every route that could show a room's messages or the
// given events, and searches for the given words.
func roomRoutes(slug string, events, words []string) []string {
	day := time.Now().UTC().Format("2006-01-02")
	paths := []string{"/", "/api/v1/rooms", "/room/" + slug, "/room/" + slug + "/" + day, "/room/" + slug + "/" + day + ".txt",
		"/room/" + slug + "/redactions", "/api/v1/rooms/" + slug + "/events?date=" + day, "/api/v1/rooms/" + slug + "/redactions"}
	for _, ev := range events {
		paths = append(paths, "/room/"+slug+"/event/"+ev, "/event/"+ev, "/api/v1/events/"+ev,
			"/room/"+slug+"/event/"+ev+"/edits", "/room/"+slug+"/thread/"+ev)
	}
	for _, word := range words {
		paths = append(paths, "/search?q="+url.QueryEscape(word), "/api/v1/search?q="+url.QueryEscape(word))
	}
	return paths
}

// shownNowhere fails the test if any route shows one of the texts.
func shownNowhere(t *testing.T, srv http.Handler, paths []string, texts ...string) {
	t.Helper()
	for _, p := range paths {
		code, body := get(srv, p)
		if code >= 500 {
			t.Errorf("%s: %d %s", p, code, tail(body, 300))
		}
		body = html.UnescapeString(body)
		for _, s := range texts {
			if i := strings.Index(body, s); i >= 0 {
				t.Errorf("%s (%d) shows %q: …%s…", p, code, s, body[max(0, i-80):min(len(body), i+len(s)+40)])
			}
		}
	}
}

// expectPage fails the test unless path answers code with a body holding
// every one of want (as read: HTML entities decoded, case ignored).
func expectPage(t *testing.T, srv http.Handler, path string, code int, want ...string) {
	t.Helper()
	got, body := get(srv, path)
	if got != code {
		t.Errorf("%s: %d, want %d: %s", path, got, code, tail(body, 300))
		return
	}
	text := strings.ToLower(html.UnescapeString(body))
	for _, s := range want {
		if !strings.Contains(text, strings.ToLower(s)) {
			t.Errorf("%s (%d) does not say %q: %s", path, got, s, tail(body, 600))
		}
	}
}

func (w *world) stopArchiver() {
	w.arch.Process.Signal(syscall.SIGTERM)
	w.arch.Wait()
}

func (w *world) run(args ...string) string {
	w.t.Helper()
	out, err := w.command(args...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("archiver %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (w *world) tombstone(st *store.Store, ev string) string {
	w.t.Helper()
	why, err := st.Tombstone(context.Background(), id.EventID(ev))
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return why
}

// A room's m.room.retention max_lifetime: messages past it are hidden at
// once (410 on their permalinks, on no route), `archiver retention
// --dry-run` changes nothing, `archiver retention` deletes them with
// tombstones but keeps the room's latest event and its state, and the
// running archiver's purge loop does the same on its own.
func TestRetentionHidesThenPurgesExpiredMessages(t *testing.T) {
	const lifetime = 6 * time.Second
	// No clamp from below, so a lifetime of seconds is honoured; a purge
	// interval long enough that only our commands purge at first.
	w := newWorld(t, "MXARCHIVE_RETENTION_ALLOWED_LIFETIME_MIN=1s", "MXARCHIVE_RETENTION_PURGE_INTERVAL=1h")
	ctx := context.Background()
	rst := w.readerStore()
	room := w.publicRoom("retention", "world_readable")
	w.inviteBot(room)
	w.alice.SendState(t, room, "m.room.retention", "", map[string]any{"max_lifetime": lifetime.Milliseconds()})
	w.waitFor("the room's retention policy", 30*time.Second, func() bool {
		r, err := rst.Room(ctx, id.RoomID(room))
		return err == nil && r.MaxLifetime == lifetime
	})
	sent := time.Now()
	old := []string{
		w.alice.Send(t, room, "m.room.message", text("ephemeral ocelot one")),
		w.bob.Send(t, room, "m.room.message", text("ephemeral ocelot two")),
	}
	last := w.alice.Send(t, room, "m.room.message", text("ephemeral ocelot three, the latest"))
	all := append(append([]string{}, old...), last)
	w.waitFor("the messages to be archived", 30*time.Second, func() bool { return len(w.archived(all...)) == 3 })
	srv := w.webServer(rst, nil)
	slug := w.slugOf(rst, room)
	if time.Since(sent) < lifetime-2*time.Second {
		// Still young: shown. (Skipped if archiving took too long here.)
		expectPage(t, srv, "/room/"+slug+"/event/"+old[0], http.StatusOK, "ephemeral ocelot one")
	} else {
		t.Logf("archiving took %s; not checking the messages before they expire", time.Since(sent))
	}

	// Expired: hidden from readers at once, still stored.
	w.waitFor("the messages to expire", 30*time.Second, func() bool {
		evs, err := rst.EventsByID(ctx, []id.EventID{id.EventID(old[0]), id.EventID(old[1]), id.EventID(last)})
		return err == nil && len(evs) == 0
	})
	for _, ev := range all {
		e, err := rst.EventByID(ctx, id.EventID(ev))
		if err != nil || !e.Expired || strings.Contains(string(e.Raw), "ocelot") || strings.Contains(string(e.Content), "ocelot") {
			t.Errorf("expired %s read by a reader: expired=%v raw=%s err=%v", ev, e.Expired, e.Raw, err)
		}
		expectPage(t, srv, "/room/"+slug+"/event/"+ev, http.StatusGone, "retention policy")
		expectPage(t, srv, "/api/v1/events/"+ev, http.StatusGone, "retention policy")
	}
	shownNowhere(t, srv, roomRoutes(slug, all, nil), "ocelot")
	stateBefore, err := w.st.StateEvents(ctx, id.RoomID(room))
	if err != nil || len(stateBefore) == 0 {
		t.Fatalf("state events: %d, %v", len(stateBefore), err)
	}

	// A dry run says what it would do and does nothing.
	out := w.run("retention", "--dry-run", "--by", "e2e")
	if !strings.Contains(out, "dry run, nothing changed: 2 expired events would be deleted") || !strings.Contains(out, room+": 2") {
		t.Errorf("archiver retention --dry-run said: %s", out)
	}
	if got := w.archived(all...); len(got) != 3 {
		t.Errorf("after a dry run %d of 3 messages are stored", len(got))
	}
	for _, ev := range all {
		if why := w.tombstone(w.st, ev); why != "" {
			t.Errorf("a dry run left a tombstone for %s (%s)", ev, why)
		}
	}

	// The purge: tombstones for the old ones, the latest event and every
	// state event kept.
	out = w.run("retention", "--by", "e2e")
	if !strings.Contains(out, "2 expired events deleted") {
		t.Errorf("archiver retention said: %s", out)
	}
	got := w.archived(all...)
	for _, ev := range old {
		if _, ok := got[ev]; ok {
			t.Errorf("expired %s is still stored after the purge", ev)
		}
		if why := w.tombstone(w.st, ev); why != store.TombstoneExpired {
			t.Errorf("tombstone of %s = %q, want %q", ev, why, store.TombstoneExpired)
		}
		expectPage(t, srv, "/room/"+slug+"/event/"+ev, http.StatusGone, "expired under the room", "retention policy and was deleted from the archive")
		expectPage(t, srv, "/api/v1/events/"+ev, http.StatusGone)
	}
	if _, ok := got[last]; !ok {
		t.Error("the purge deleted the room's latest event")
	}
	if why := w.tombstone(w.st, last); why != "" {
		t.Errorf("the latest event has a tombstone (%s)", why)
	}
	expectPage(t, srv, "/room/"+slug+"/event/"+last, http.StatusGone, "retention policy")
	stateAfter, err := w.st.StateEvents(ctx, id.RoomID(room))
	if err != nil || len(stateAfter) != len(stateBefore) {
		t.Errorf("state events: %d before the purge, %d after (%v)", len(stateBefore), len(stateAfter), err)
	}
	shownNowhere(t, srv, roomRoutes(slug, all, nil), "ocelot")
	oplog, err := w.st.OperatorLog(ctx, 10)
	if err != nil || len(oplog) != 2 || oplog[0].Command != "retention" || oplog[0].DryRun || oplog[0].Affected != 2 ||
		!oplog[1].DryRun || oplog[1].Affected != 2 || oplog[0].Actor != "e2e" {
		t.Errorf("operator log = %+v, %v", oplog, err)
	}

	// New messages are shown until they expire in turn.
	fresh := w.bob.Send(t, room, "m.room.message", text("fresh capybara"))
	freshSent := time.Now()
	w.waitFor("the fresh message", 30*time.Second, func() bool { return len(w.archived(fresh)) == 1 })
	if time.Since(freshSent) < lifetime-2*time.Second {
		expectPage(t, srv, "/room/"+slug+"/event/"+fresh, http.StatusOK, "fresh capybara")
	} else {
		t.Logf("archiving took %s; not checking the fresh message", time.Since(freshSent))
	}

	// The running archiver purges by itself every purge_interval.
	w.stopArchiver()
	w.env = append(w.env, "MXARCHIVE_RETENTION_PURGE_INTERVAL=1s")
	w.startArchiver()
	newest := w.alice.Send(t, room, "m.room.message", text("newest capybara"))
	w.waitFor("the newest message", 30*time.Second, func() bool { return len(w.archived(newest)) == 1 })
	w.waitFor("the purge loop to delete the expired messages", 45*time.Second, func() bool {
		return w.tombstone(w.st, last) == store.TombstoneExpired && w.tombstone(w.st, fresh) == store.TombstoneExpired
	})
	if _, ok := w.archived(newest)[newest]; !ok {
		t.Error("the purge loop deleted the room's latest message")
	}
	logs, _ := os.ReadFile(filepath.Join(w.dir, "archiver.log"))
	if !strings.Contains(string(logs), "retention purge") {
		t.Error("the archiver did not log its purge")
	}
}

// dmWithBot has user open a direct-message room with the archive bot, and
// waits for the bot to join it.
func (w *world) dmWithBot(u *dendritetest.User) string {
	w.t.Helper()
	dm := u.CreateRoom(w.t, map[string]any{"preset": "trusted_private_chat", "is_direct": true, "invite": []string{w.bot}})
	w.waitFor("the bot to join the direct message", 30*time.Second, func() bool {
		var m struct {
			Membership string `json:"membership"`
		}
		st := u.State(w.t, dm, "m.room.member", w.bot)
		return json.Unmarshal(st, &m) == nil && m.Membership == "join"
	})
	return dm
}

// botSays waits for the bot's answer to a command in a direct message,
// read as bob from the homeserver, checks it answered once, and returns the
// answer's event ID.
func (w *world) botSays(dm, command, want string) string {
	w.t.Helper()
	var answers, ids []string
	w.waitFor("the bot's answer to "+command, 30*time.Second, func() bool {
		answers, ids = nil, nil
		for _, raw := range w.bob.Messages(w.t, dm) {
			var e struct {
				ID      string `json:"event_id"`
				Sender  string `json:"sender"`
				Type    string `json:"type"`
				Content struct {
					MsgType string `json:"msgtype"`
					Body    string `json:"body"`
				} `json:"content"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Sender == w.bot && e.Type == "m.room.message" && strings.Contains(e.Content.Body, want) {
				answers, ids = append(answers, e.Content.Body), append(ids, e.ID)
			}
		}
		return len(answers) > 0
	})
	if len(answers) != 1 {
		w.t.Errorf("the bot answered %q %d times: %q", command, len(answers), answers)
	}
	return ids[0]
}

// bob opts out by a direct message with the bot: the bot confirms, and his
// messages in an archived room, sent before and after, are withdrawn
// everywhere ("hidden at the sender's request"); alice's are not. Opting
// in brings them back. Nothing of the direct message is public.
func TestOptOutAndInByDirectMessage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	rst := w.readerStore()
	room := w.publicRoom("optout", "world_readable")
	w.inviteBot(room)
	before := w.bob.Send(t, room, "m.room.message", text("bob said pangolin before"))
	control := w.alice.Send(t, room, "m.room.message", text("alice said heron"))
	w.waitFor("the first messages", 30*time.Second, func() bool { return len(w.archived(before, control)) == 2 })
	srv := w.webServer(rst, nil)
	slug := w.slugOf(rst, room)
	expectPage(t, srv, "/room/"+slug+"/event/"+before, http.StatusOK, "bob said pangolin before")

	// A command typed in a public room is not taken (nor answered there).
	inPublic := w.bob.Send(t, room, "m.room.message", text("!archive optout"))
	w.waitFor("the command in the public room to be archived", 30*time.Second, func() bool { return len(w.archived(inPublic)) == 1 })

	dm := w.dmWithBot(w.bob)
	status := w.bob.Send(t, dm, "m.room.message", text("!archive status"))
	// Commands are answered in order: this says the one in the public room
	// did not opt bob out.
	dmEvents := []string{status, w.botSays(dm, "!archive status", "Your messages are shown in the archive")}
	for _, raw := range w.alice.Messages(t, room) {
		var e struct {
			Sender string `json:"sender"`
			Type   string `json:"type"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Sender == w.bot && e.Type == "m.room.message" {
			t.Errorf("the bot said something in the public room: %s", raw)
		}
	}
	optout := w.bob.Send(t, dm, "m.room.message", text("!archive optout"))
	dmEvents = append(dmEvents, optout, w.botSays(dm, "!archive optout", "Done: your messages in the public archive are now hidden"))
	// Readers cache opt-outs for a second.
	w.waitFor("the store to say bob opted out", 3*time.Second, func() bool {
		out, err := rst.OptedOut(ctx, id.UserID(w.bob.ID))
		return err == nil && out
	})
	after := w.bob.Send(t, room, "m.room.message", text("bob said pangolin after"))
	w.waitFor("bob's message after the opt-out to be stored", 30*time.Second, func() bool { return len(w.archived(after)) == 1 })

	bobs := []string{before, after}
	w.waitFor("bob's messages to be withdrawn", 5*time.Second, func() bool {
		evs, err := rst.EventsByID(ctx, []id.EventID{id.EventID(before), id.EventID(after)})
		return err == nil && len(evs) == 2 && evs[0].OptedOut && evs[1].OptedOut
	})
	for _, ev := range bobs {
		expectPage(t, srv, "/room/"+slug+"/event/"+ev, http.StatusOK, "Hidden at the sender's request", "alice said heron")
		expectPage(t, srv, "/api/v1/events/"+ev, http.StatusOK, `"withdrawn":"hidden at the sender's request"`)
	}
	expectPage(t, srv, "/room/"+slug+"/"+time.Now().UTC().Format("2006-01-02")+".txt", http.StatusOK, "hidden at the sender's request", "alice said heron")
	shownNowhere(t, srv, roomRoutes(slug, append(bobs, control), nil), "pangolin")

	status2 := w.bob.Send(t, dm, "m.room.message", text("!archive status"))
	dmEvents = append(dmEvents, status2, w.botSays(dm, "!archive status", "You have opted out"))
	optin := w.bob.Send(t, dm, "m.room.message", text("!archive optin"))
	dmEvents = append(dmEvents, optin, w.botSays(dm, "!archive optin", "Done: your messages in public, world-readable rooms are shown in the archive again"))
	w.waitFor("bob's messages to be shown again", 5*time.Second, func() bool {
		evs, err := rst.EventsByID(ctx, []id.EventID{id.EventID(before), id.EventID(after)})
		return err == nil && len(evs) == 2 && !evs[0].OptedOut && !evs[1].OptedOut
	})
	expectPage(t, srv, "/room/"+slug+"/event/"+before, http.StatusOK, "bob said pangolin before")
	expectPage(t, srv, "/room/"+slug+"/event/"+after, http.StatusOK, "bob said pangolin after")

	// The direct message: stored only as non-public state and messages,
	// shown nowhere.
	for _, e := range w.roomEvents(dm) {
		if e.Public {
			t.Errorf("event %s %s of the direct message is public", e.Type, e.ID)
		}
	}
	stored := w.archived(dmEvents...)
	t.Logf("%d of the direct message's %d messages are stored (as not public)", len(stored), len(dmEvents))
	for _, e := range stored {
		if e.Public {
			t.Errorf("message %s of the direct message is public: %s", e.ID, e.Raw)
		}
	}
	if r, err := rst.Room(ctx, id.RoomID(dm)); err == nil && (r.Shown() || r.MessageCount != 0) {
		t.Errorf("direct message room = %+v; want hidden with no messages", r)
	}
	for _, ev := range dmEvents {
		for _, p := range []string{"/event/" + ev, "/api/v1/events/" + ev} {
			if code, body := get(srv, p); code == http.StatusOK || strings.Contains(body, "!archive") {
				t.Errorf("%s: %d shows the command: %s", p, code, tail(body, 300))
			}
		}
	}
	shownNowhere(t, srv, []string{"/", "/api/v1/rooms"}, dm, "!archive")
	for _, p := range []string{"/room/" + url.PathEscape(dm), "/room/" + url.PathEscape(dm) + "/" + time.Now().UTC().Format("2006-01-02"),
		"/api/v1/rooms/" + url.PathEscape(dm) + "/events?date=" + time.Now().UTC().Format("2006-01-02")} {
		if code, body := get(srv, p); code == http.StatusOK || strings.Contains(body, "!archive") || strings.Contains(body, "Done: your messages") {
			t.Errorf("%s: %d shows the direct message: %s", p, code, tail(body, 300))
		}
	}
}

// The search index drops what the store withdraws (an opt-out, a takedown,
// an expired message) once it has caught up with the change feed, and
// before it has, searches still never show it: every hit is re-checked
// against the store.
func TestSearchNeverShowsWithdrawnMessages(t *testing.T) {
	const lifetime = 20 * time.Second
	w := newWorld(t, "MXARCHIVE_RETENTION_ALLOWED_LIFETIME_MIN=1s", "MXARCHIVE_RETENTION_PURGE_INTERVAL=1h")
	ctx := context.Background()
	rst := w.readerStore()
	ix, err := indexer.Open(rst, filepath.Join(t.TempDir(), "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	srv := w.webServer(rst, ix)

	short := w.publicRoom("short", "world_readable")
	w.inviteBot(short)
	w.alice.SendState(t, short, "m.room.retention", "", map[string]any{"max_lifetime": lifetime.Milliseconds()})
	w.waitFor("the room's retention policy", 30*time.Second, func() bool {
		r, err := rst.Room(ctx, id.RoomID(short))
		return err == nil && r.MaxLifetime == lifetime
	})
	expiring := w.alice.Send(t, short, "m.room.message", text("the axolotl expires"))
	expiringSent := time.Now()
	later := w.alice.Send(t, short, "m.room.message", text("a later message"))

	room := w.publicRoom("search", "world_readable")
	w.inviteBot(room)
	bobs := w.bob.Send(t, room, "m.room.message", text("bob mentions a zebra"))
	taken := w.alice.Send(t, room, "m.room.message", text("alice posts a quokka"))
	control := w.alice.Send(t, room, "m.room.message", text("alice keeps her kestrel"))
	w.waitFor("the messages", 30*time.Second, func() bool { return len(w.archived(expiring, later, bobs, taken, control)) == 5 })

	search := func(word string) []string {
		t.Helper()
		q, err := indexer.ParseQuery(word)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ix.Search(ctx, indexer.Request{Query: q})
		if err != nil {
			t.Fatalf("search %q: %v", word, err)
		}
		var ids []string
		for _, e := range res.Events {
			ids = append(ids, string(e.ID))
		}
		return ids
	}
	catchUp := func() {
		t.Helper()
		if _, err := ix.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	docs := func() uint64 {
		t.Helper()
		n, err := ix.DocCount()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// found checks both the index and the web's search for a word.
	found := func(word, ev string, want bool) {
		t.Helper()
		hits := search(word)
		if got := len(hits) == 1 && hits[0] == ev; got != want || len(hits) > 1 {
			t.Errorf("index search %q: %v, want %s found=%v", word, hits, ev, want)
		}
		for _, p := range []string{"/search?q=" + word, "/api/v1/search?q=" + word} {
			code, body := get(srv, p)
			if code != http.StatusOK || strings.Contains(body, ev) != want {
				t.Errorf("%s: %d, shows %s = %v, want %v: %s", p, code, ev, strings.Contains(body, ev), want, tail(body, 400))
			}
		}
	}

	catchUp()
	if time.Since(expiringSent) > lifetime-3*time.Second {
		t.Fatalf("setting up took %s, too close to the %s lifetime to test anything", time.Since(expiringSent), lifetime)
	}
	found("axolotl", expiring, true)
	found("zebra", bobs, true)
	found("quokka", taken, true)
	found("kestrel", control, true)
	indexed := docs()

	// The operator opts bob out: searches stop showing his message within
	// the store's one-second consent cache, before the index knows.
	w.run("optout", w.bob.ID, "--by", "e2e")
	time.Sleep(1100 * time.Millisecond)
	found("zebra", bobs, false)
	if n := docs(); n != indexed {
		t.Errorf("the index changed without a CatchUp: %d documents, was %d", n, indexed)
	}
	catchUp()
	if n := docs(); n != indexed-1 {
		t.Errorf("after the opt-out the index holds %d documents, want %d", n, indexed-1)
	}
	found("zebra", bobs, false)
	found("kestrel", control, true)

	// A takedown: the store strips the message at once.
	w.run("takedown", taken, "--reason", "legal request", "--by", "e2e")
	found("quokka", taken, false)
	expectPage(t, srv, "/api/v1/events/"+taken, http.StatusOK, "removed by the archive's operator", "legal request")
	catchUp()
	if n := docs(); n != indexed-2 {
		t.Errorf("after the takedown the index holds %d documents, want %d", n, indexed-2)
	}
	found("quokka", taken, false)

	// Expiry: hidden from searches as soon as it expires; the purge drops it
	// from the index.
	w.waitFor("the message to expire", lifetime+15*time.Second, func() bool {
		e, err := rst.EventByID(ctx, id.EventID(expiring))
		return err == nil && e.Expired
	})
	found("axolotl", expiring, false)
	if n := docs(); n != indexed-2 {
		t.Errorf("the index changed without a CatchUp: %d documents, want %d", n, indexed-2)
	}
	if out := w.run("retention", "--by", "e2e"); !strings.Contains(out, "1 expired events deleted") {
		t.Errorf("archiver retention said: %s", out)
	}
	catchUp()
	// The purged message is dropped. The later one has expired too; as the
	// room's latest event it is kept in the store (hidden), and the purge
	// tells the index about it, so it leaves the index as well.
	if n := docs(); n != indexed-4 {
		t.Errorf("after the purge the index holds %d documents, want %d", n, indexed-4)
	}
	found("axolotl", expiring, false)
	if got := search("later"); len(got) != 0 {
		t.Errorf("search finds the expired latest message: %v", got)
	}
	found("kestrel", control, true)

	// Opting in again brings bob's message back, in the index too.
	w.run("optin", w.bob.ID, "--by", "e2e")
	time.Sleep(1100 * time.Millisecond)
	catchUp()
	found("zebra", bobs, true)
}
