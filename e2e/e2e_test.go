// Package e2e runs the real archiver binary against a real Dendrite, driven
// as real users through the client-server API, and checks the archive
// against the homeserver's own history.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/dendritetest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

var archiverBin, buildErr = "", error(nil)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mxarchive-e2e-")
	if err == nil {
		archiverBin = filepath.Join(dir, "archiver")
		out, berr := exec.Command("go", "build", "-o", archiverBin, "github.com/mxarchive/mxarchive/cmd/archiver").CombinedOutput()
		if berr != nil {
			buildErr = fmt.Errorf("go build archiver: %v\n%s", berr, out)
		}
	} else {
		buildErr = err
	}
	code := pgtest.Run(m)
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

const serverName = "hs.test"

// world is a Dendrite, users on it, and an archiver wired to it exactly as
// `archiver init` says.
type world struct {
	t     *testing.T
	hs    *dendritetest.Server
	alice *dendritetest.User
	bob   *dendritetest.User
	dir   string
	env   []string
	arch  *exec.Cmd
	logs  *os.File
	st    *store.Store
	bot   string
}

// heldPort is a free port, kept bound until release is called: closed at
// once, Dendrite, started after it was chosen, was once given the same
// port, and the archiver could not listen on it.
func heldPort(t *testing.T) (port int, release func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().(*net.TCPAddr).Port, func() { l.Close() }
}

// newWorld starts Dendrite with the registration `archiver init` wrote and
// the archiver with the config it wrote (database settings from dbEnv).
func newWorld(t *testing.T, dbEnv ...string) *world {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	w := &world{t: t, dir: t.TempDir(), bot: "@archive:" + serverName}
	port, release := heldPort(t)
	w.env = append([]string{
		"MXARCHIVE_DATA_DIR=" + filepath.Join(w.dir, "data"),
		"MXARCHIVE_HOMESERVER_DOMAIN=" + serverName,
		fmt.Sprintf("MXARCHIVE_APPSERVICE_LISTEN=127.0.0.1:%d", port),
		"MXARCHIVE_ARCHIVE_SWEEP_INTERVAL=2s",
		"MXARCHIVE_ARCHIVE_OPTIN_WAIT=1ms", // consent_test opts in just after opting out
		"MXARCHIVE_LOG_LEVEL=debug",
	}, dbEnv...)
	out, err := w.command("init", "-o", w.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("archiver init: %v\n%s", err, out)
	}
	w.hs = dendritetest.Start(t, dendritetest.Options{ServerName: serverName,
		Registrations: []string{filepath.Join(w.dir, "registration.yaml")}})
	w.env = append(w.env, "MXARCHIVE_HOMESERVER_ADDRESS="+w.hs.URL)
	w.alice = w.hs.Register(t, "alice")
	w.bob = w.hs.Register(t, "bob")
	release()
	w.startArchiver()
	cfg := store.Config{Type: "sqlite"}
	for _, kv := range dbEnv {
		if v, ok := strings.CutPrefix(kv, "MXARCHIVE_DATABASE_TYPE="); ok {
			cfg.Type = v
		}
		if v, ok := strings.CutPrefix(kv, "MXARCHIVE_DATABASE_URI="); ok {
			cfg.URI = v
		}
	}
	w.waitFor("the archiver's database", 30*time.Second, func() bool {
		st, err := store.Open(context.Background(), cfg, filepath.Join(w.dir, "data"), storetest.Logger(t), store.Options{})
		if err != nil {
			return false
		}
		w.st = st
		return true
	})
	t.Cleanup(func() { w.st.Close() })
	return w
}

func (w *world) command(args ...string) *exec.Cmd {
	cmd := exec.Command(archiverBin, append([]string{"-c", filepath.Join(w.dir, "config.yaml")}, args...)...)
	if args[0] == "init" {
		cmd = exec.Command(archiverBin, args...)
	}
	cmd.Env = append(os.Environ(), w.env...)
	return cmd
}

func (w *world) startArchiver() {
	w.t.Helper()
	logs, err := os.OpenFile(filepath.Join(w.dir, "archiver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	w.logs = logs
	w.arch = w.command("run")
	w.arch.Stdout, w.arch.Stderr = logs, logs
	w.arch.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.arch.Start(); err != nil {
		w.t.Fatal(err)
	}
	cmd := w.arch
	w.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		if w.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(w.dir, "archiver.log"))
			w.t.Logf("archiver log (last 6000 bytes):\n%s", tail(string(b), 6000))
		}
	})
}

// crash kills the archiver the hard way, mid-whatever it was doing.
func (w *world) crash() {
	w.arch.Process.Signal(syscall.SIGKILL)
	w.arch.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (w *world) waitFor(what string, timeout time.Duration, ok func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// publicRoom creates a world-readable public room with an alias and
// invites the archive bot, which joins by itself.
func (w *world) publicRoom(alias string, visibility string) string {
	room := w.alice.CreateRoom(w.t, map[string]any{
		"preset": "public_chat", "room_alias_name": alias, "name": "Room " + alias,
		"initial_state": []map[string]any{{"type": "m.room.history_visibility", "state_key": "",
			"content": map[string]any{"history_visibility": visibility}}},
	})
	w.bob.Join(w.t, room)
	return room
}

func (w *world) inviteBot(room string) {
	w.alice.Invite(w.t, room, w.bot)
	w.waitFor("the bot to join "+room, 30*time.Second, func() bool {
		var m struct {
			Membership string `json:"membership"`
		}
		st := w.alice.State(w.t, room, "m.room.member", w.bot)
		return json.Unmarshal(st, &m) == nil && m.Membership == "join"
	})
}

type hsEvent struct {
	ID       string          `json:"event_id"`
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	Content  json.RawMessage `json:"content"`
	Unsigned struct {
		RedactedBecause json.RawMessage `json:"redacted_because"`
	} `json:"unsigned"`
}

func (w *world) history(room string) []hsEvent {
	var out []hsEvent
	for _, raw := range w.alice.Messages(w.t, room) {
		var e hsEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func (w *world) archived(ids ...string) map[string]store.Event {
	evIDs := make([]id.EventID, len(ids))
	for i, s := range ids {
		evIDs[i] = id.EventID(s)
	}
	evs, err := w.st.EventsByID(context.Background(), evIDs)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]store.Event{}
	for _, e := range evs {
		out[string(e.ID)] = e
	}
	return out
}

// roomEvents returns every archived event of a room, by ID.
func (w *world) roomEvents(room string) map[string]store.Event {
	evs, err := w.st.DayEvents(context.Background(), id.RoomID(room), 0, 1<<62)
	if err != nil {
		w.t.Fatal(err)
	}
	state, err := w.st.StateEvents(context.Background(), id.RoomID(room))
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]store.Event{}
	for _, e := range append(evs, state...) {
		out[string(e.ID)] = e
	}
	return out
}

// matchesHomeserver waits until the archive holds every event of the
// room's history as the homeserver serves it, each redacted exactly when
// the homeserver's copy is. The homeserver's history lags what it
// accepted (Dendrite's sync API catches up asynchronously), so it counts
// only once it shows the last event the test sent there: compared with
// the history from before a redaction, the archive would match at once.
func (w *world) matchesHomeserver(room string, timeout time.Duration) {
	w.t.Helper()
	var problems []string
	defer func() {
		if w.t.Failed() && len(problems) > 0 {
			w.t.Logf("last differences: %v", problems)
		}
	}()
	w.waitFor("the archive to match the homeserver's history of "+room, timeout, func() bool {
		problems = nil
		hist := w.history(room)
		ids := make([]string, len(hist))
		for i, e := range hist {
			ids[i] = e.ID
		}
		if last := w.hs.LastSent(room); last != "" && !slices.Contains(ids, last) {
			problems = append(problems, "the homeserver's history does not show "+last+" yet")
			return false
		}
		got := w.archived(ids...)
		hsRedacted := map[string]bool{}
		for _, e := range hist {
			hsRedacted[e.ID] = len(e.Unsigned.RedactedBecause) > 0
		}
		for _, e := range hist {
			a, ok := got[e.ID]
			// The archive also erases the edits of a redacted message
			// (ARCHITECTURE.md rule 3); the homeserver leaves them.
			want := hsRedacted[e.ID] || (a.Rel.Type == "m.replace" && hsRedacted[string(a.Rel.EventID)])
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("missing %s %s", e.Type, e.ID))
			case a.Redacted != want:
				problems = append(problems, fmt.Sprintf("%s %s redacted=%v in the archive, want %v", e.Type, e.ID, a.Redacted, want))
			}
		}
		return len(problems) == 0
	})
	if len(problems) > 0 {
		w.t.Errorf("archive differs from the homeserver: %v", problems)
	}
}

func text(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }

func TestRecordsAPublicRoomLikeTheHomeserver(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("town", "world_readable")
	w.inviteBot(room)
	a := w.alice
	plain := a.Send(t, room, "m.room.message", text("plain text"))
	html := a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "**bold**",
		"format": "org.matrix.custom.html", "formatted_body": "<strong>bold</strong>"})
	a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.emote", "body": "waves"})
	a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.notice", "body": "a bot notice"})
	a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "* plain text, edited",
		"m.new_content": text("plain text, edited"), "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": plain}})
	reply := w.bob.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "> <@alice:hs.test> **bold**\n\nindeed",
		"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": html}}})
	w.bob.Send(t, room, "m.reaction", map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": html, "key": "👍"}})
	secret := w.bob.Send(t, room, "m.room.message", text("my password is hunter2"))
	a.SendState(t, room, "m.room.topic", "", map[string]any{"topic": "a new topic"})
	w.bob.Redact(t, room, secret, "oops")

	w.matchesHomeserver(room, 60*time.Second)
	got := w.archived(secret, reply)
	if !got[secret].Redacted || strings.Contains(string(got[secret].Raw), "hunter2") {
		t.Errorf("the redacted message is still readable in the archive: %s", got[secret].Raw)
	}
	if got[reply].Rel.ReplyTo != id.EventID(html) {
		t.Errorf("reply relation = %+v", got[reply].Rel)
	}
	r, err := w.st.Room(context.Background(), id.RoomID(room))
	if err != nil || r.Topic != "a new topic" || r.CanonicalAlias != "#town:"+serverName || !r.Shown() {
		t.Errorf("room = %+v, %v", r, err)
	}

	// Kicked: the room is hidden and nothing more is recorded.
	a.Kick(t, room, w.bot, "no archive here")
	w.waitFor("the room to be hidden after the kick", 30*time.Second, func() bool {
		r, err := w.st.Room(context.Background(), id.RoomID(room))
		return err == nil && !r.Shown()
	})
	after := a.Send(t, room, "m.room.message", text("said after the kick"))
	time.Sleep(3 * time.Second) // two sweep intervals
	if _, ok := w.archived(after)[after]; ok {
		t.Error("a message sent after the bot was kicked was archived")
	}
}

func TestRecordsNothingOfANonPublicRoom(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("private", "shared")
	w.inviteBot(room)
	msg := w.alice.Send(t, room, "m.room.message", text("members only"))
	marker := w.publicRoom("marker", "world_readable")
	w.inviteBot(marker)
	last := w.alice.Send(t, marker, "m.room.message", text("processed after the private message"))
	w.waitFor("the marker message", 30*time.Second, func() bool { return len(w.archived(last)) == 1 })
	if _, ok := w.archived(msg)[msg]; ok {
		t.Error("a message of a shared-history room was archived")
	}
	for _, e := range w.roomEvents(room) {
		if e.Public {
			t.Errorf("event %s %s of a shared-history room is public", e.Type, e.ID)
		}
	}
	if r, err := w.st.Room(context.Background(), id.RoomID(room)); err != nil || r.Shown() || r.MessageCount != 0 {
		t.Errorf("room = %+v, %v; want hidden with no messages", r, err)
	}
}

func TestStopsRecordingWhenHistoryStopsBeingPublic(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("switch", "world_readable")
	w.inviteBot(room)
	before := []string{w.alice.Send(t, room, "m.room.message", text("public 1")), w.alice.Send(t, room, "m.room.message", text("public 2"))}
	w.alice.SendState(t, room, "m.room.history_visibility", "", map[string]any{"history_visibility": "shared"})
	after := []string{w.alice.Send(t, room, "m.room.message", text("private 1")), w.alice.Send(t, room, "m.room.message", text("private 2"))}
	w.waitFor("the public messages", 30*time.Second, func() bool { return len(w.archived(before...)) == 2 })
	w.waitFor("the room to be hidden", 30*time.Second, func() bool {
		r, err := w.st.Room(context.Background(), id.RoomID(room))
		return err == nil && !r.Shown()
	})
	time.Sleep(3 * time.Second)
	if got := w.archived(after...); len(got) != 0 {
		t.Errorf("messages sent after the switch to shared were archived: %v", slices.Collect(mapsKeys(got)))
	}
}

func mapsKeys(m map[string]store.Event) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestBackfillsHistoryFromBeforeTheBotJoined(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("old", "world_readable")
	var early []string
	for i := range 30 {
		early = append(early, w.alice.Send(t, room, "m.room.message", text(fmt.Sprintf("before the bot, %d", i))))
	}
	w.inviteBot(room)
	w.matchesHomeserver(room, 60*time.Second)
	if got := w.archived(early...); len(got) != len(early) {
		t.Errorf("backfill archived %d of %d earlier messages", len(got), len(early))
	}
	rs, err := w.st.RoomSync(context.Background(), id.RoomID(room))
	if err != nil || !rs.ReachedCreate || rs.ForwardToken == "" || rs.CompleteFrom.IsZero() {
		t.Errorf("sync state after backfill = %+v, %v", rs, err)
	}
	// `archiver backfill` again is harmless and says so.
	out, err := w.command("backfill", "--room", room).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 stored") {
		t.Errorf("archiver backfill: %v\n%s", err, out)
	}
}

// kill -9 while messages flow: after a restart the archive equals the
// homeserver's history, none lost (the homeserver resends what was not
// acknowledged) and none doubled.
func TestCrashLosesNothing(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("crash", "world_readable")
	w.inviteBot(room)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 60 {
			w.alice.Send(t, room, "m.room.message", text(fmt.Sprintf("message %d", i)))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	w.crash()
	<-done
	w.startArchiver()
	w.matchesHomeserver(room, 90*time.Second)
	n := 0
	for _, e := range w.roomEvents(room) {
		if e.Type == "m.room.message" {
			n++
		}
	}
	if n != 60 {
		t.Errorf("archive holds %d messages, want 60", n)
	}
}

// The database goes away: the archiver answers 5xx, the homeserver keeps
// the events and retries, and once the database is back the archive is
// complete. The outage outlasts the check of the archiver lock's session
// (15 s), which finds it ended: the archiver takes the lock again on a new
// session when the database is back, and runs on with no supervisor to
// start it again.
func TestDatabaseOutageLosesNothing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	w := newWorld(t, "MXARCHIVE_DATABASE_TYPE=postgres", "MXARCHIVE_DATABASE_URI="+dsn)
	room := w.publicRoom("outage", "world_readable")
	w.inviteBot(room)
	w.matchesHomeserver(room, 60*time.Second)
	pgtest.SetConnections(t, dsn, false)
	var during []string
	for i := range 5 {
		during = append(during, w.alice.Send(t, room, "m.room.message", text(fmt.Sprintf("while the database is down %d", i))))
	}
	// Failed deliveries and retries, and the lock's check.
	w.waitFor("the archiver to find its lock's session ended", 30*time.Second, func() bool {
		log, _ := os.ReadFile(filepath.Join(w.dir, "archiver.log"))
		return strings.Contains(string(log), "the archiver lock's database session ended")
	})
	log, _ := os.ReadFile(filepath.Join(w.dir, "archiver.log"))
	if !strings.Contains(string(log), "transaction not stored; the homeserver will retry") {
		t.Error("the archiver never refused a transaction while the database was down")
	}
	pgtest.SetConnections(t, dsn, true)
	w.matchesHomeserver(room, 90*time.Second)
	if got := w.archived(during...); len(got) != len(during) {
		t.Errorf("after the outage %d of %d messages are archived", len(got), len(during))
	}
	after := w.alice.Send(t, room, "m.room.message", text("after the outage"))
	w.waitFor("a message sent after the outage", 60*time.Second, func() bool { return len(w.archived(after)) == 1 })
	log, _ = os.ReadFile(filepath.Join(w.dir, "archiver.log"))
	if strings.Contains(string(log), "so that two archivers never run at once") {
		t.Error("the archiver stopped")
	}
	if !strings.Contains(string(log), "took the archiver lock again") {
		t.Error("the archiver's log does not say it took its lock again")
	}
}

// An upgraded room is followed: the bot joins the successor by itself and
// the archive links the two rooms both ways.
func TestFollowsRoomUpgrades(t *testing.T) {
	w := newWorld(t)
	old := w.publicRoom("upgraded", "world_readable")
	w.inviteBot(old)
	w.alice.Send(t, old, "m.room.message", text("in the old room"))
	var up struct {
		ReplacementRoom string `json:"replacement_room"`
	}
	if _, err := w.alice.Do("POST", "/_matrix/client/v3/rooms/"+old+"/upgrade", map[string]any{"new_version": "10"}, &up); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	w.waitFor("the bot to join the new room", 30*time.Second, func() bool {
		r, err := w.st.Room(context.Background(), id.RoomID(up.ReplacementRoom))
		return err == nil && r.BotMembership == "join"
	})
	msg := w.alice.Send(t, up.ReplacementRoom, "m.room.message", text("in the new room"))
	w.waitFor("the new room's message", 30*time.Second, func() bool { return len(w.archived(msg)) == 1 })
	oldRoom, err1 := w.st.Room(context.Background(), id.RoomID(old))
	newRoom, err2 := w.st.Room(context.Background(), id.RoomID(up.ReplacementRoom))
	if err1 != nil || err2 != nil || string(oldRoom.Successor) != up.ReplacementRoom || string(newRoom.Predecessor) != old {
		t.Errorf("rooms not linked: old.successor=%q new.predecessor=%q (%v %v)", oldRoom.Successor, newRoom.Predecessor, err1, err2)
	}
}

// Redact a message, an edited message and a replied-to message on the
// homeserver, then read every route of the archive for any trace of them.
func TestRedactedTextIsGoneFromEveryRoute(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("redact", "world_readable")
	w.inviteBot(room)
	a, b := w.alice, w.bob
	plain := a.Send(t, room, "m.room.message", text("alpha secret one"))
	edited := a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "beta secret two",
		"format": "org.matrix.custom.html", "formatted_body": "<b>beta secret two</b>"})
	edit := a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "* beta secret two, edited",
		"m.new_content": text("beta secret two, edited"), "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": edited}})
	parent := a.Send(t, room, "m.room.message", text("gamma secret three"))
	reply := b.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text",
		"body":           "> <@alice:hs.test> gamma secret three\n\nplease delete that",
		"format":         "org.matrix.custom.html",
		"formatted_body": `<mx-reply><blockquote><a href="https://matrix.to/#/` + room + `/` + parent + `">In reply to</a> <a href="https://matrix.to/#/@alice:hs.test">@alice:hs.test</a><br>gamma secret three</blockquote></mx-reply>please delete that`,
		"m.relates_to":   map[string]any{"m.in_reply_to": map[string]any{"event_id": parent}}})
	w.matchesHomeserver(room, 60*time.Second) // everything arrived before the redactions
	for _, ev := range []string{plain, edited, parent} {
		a.Redact(t, room, ev, "cleaning up")
	}
	w.matchesHomeserver(room, 60*time.Second)

	srv, err := web.New(w.st, render.New(render.Options{}), storetest.Logger(t), web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slug := w.slugOf(w.st, room)
	day := time.Now().UTC().Format("2006-01-02")
	paths := []string{"/", "/room/" + slug + "/" + day, "/room/" + slug + "/" + day + ".txt", "/room/" + slug + "/redactions",
		"/api/v1/rooms/" + slug + "/events?date=" + day, "/api/v1/rooms/" + slug + "/redactions"}
	for _, ev := range []string{plain, edited, edit, parent, reply} {
		paths = append(paths, "/room/"+slug+"/event/"+ev, "/api/v1/events/"+ev, "/room/"+slug+"/event/"+ev+"/edits")
	}
	for _, p := range paths {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code == http.StatusFound {
			loc := rec.Header().Get("Location")
			rec = httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, loc, nil))
		}
		if rec.Code >= 500 {
			t.Errorf("%s: %d", p, rec.Code)
		}
		if body := rec.Body.String(); strings.Contains(body, "secret") {
			i := strings.Index(body, "secret")
			t.Errorf("%s (%d) shows redacted text: …%s…", p, rec.Code, body[max(0, i-80):min(len(body), i+40)])
		}
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/room/"+slug+"/event/"+reply, nil))
	if !strings.Contains(rec.Body.String(), "In reply to a deleted message") || !strings.Contains(rec.Body.String(), "please delete that") {
		t.Error("the reply's page does not say it answers a deleted message, or lost its own text")
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/rooms/"+slug+"/redactions", nil))
	var list struct {
		Redactions []struct {
			EventID string `json:"event_id"`
		} `json:"redactions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Redactions) != 3 {
		t.Errorf("redactions API lists %d (%v): %s", len(list.Redactions), err, rec.Body)
	}
}
