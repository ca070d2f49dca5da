package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// openDataDir opens the archive in data directory dir as the commands
// would, with the store's options from the configuration.
func openDataDir(t *testing.T, dir string) *store.Store {
	t.Helper()
	cfg, err := config.Load("", []string{"MXARCHIVE_DATA_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config(cfg.Database), dir, storetest.Logger(t), storeOptions(cfg, ""))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// operatorArchive is an archive of the Ansible demo room, the store open
// on it, a runner of archiver commands, and the room's first message.
func operatorArchive(t *testing.T) (*store.Store, func(args ...string) (string, error), store.Event) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", "../../testdata/demo/ansible-community.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	st := openDataDir(t, dir)
	t.Cleanup(func() { st.Close() })
	day, err := st.DayEvents(ctx, "!aNsIbLeCoMmUnItY:example.org", 0, 1<<42)
	if err != nil {
		t.Fatal(err)
	}
	var msg store.Event
	for _, e := range day {
		if e.Type == "m.room.message" {
			msg = e
			break
		}
	}
	cmd := func(args ...string) (string, error) {
		out.Reset()
		errs.Reset()
		err := run(ctx, args, &out, &errs)
		return out.String(), err
	}
	return st, cmd, msg
}

// A takedown run again with another reason (the first was wrong) takes
// the new one: it was logged and never applied. A message its room
// redacted is refused: readers see that redaction, not a reason given here.
func TestTakedownAgainTakesTheNewReason(t *testing.T) {
	st, cmd, msg := operatorArchive(t)
	ctx := context.Background()
	if _, err := cmd("takedown", string(msg.ID), "--reason", "spam"); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("takedown", string(msg.ID), "--reason", "court order 2026/17"); err != nil {
		t.Fatal(err)
	}
	if red, err := st.RedactionOf(ctx, msg.ID); err != nil || red.Reason != "court order 2026/17" {
		t.Errorf("readers see the takedown reason %q (%v), want the second's", red.Reason, err)
	}
	log, _ := st.FindOperatorLog(ctx, store.OperatorLogQuery{Command: "takedown"})
	if len(log) != 2 || log[0].Reason != "court order 2026/17" {
		t.Errorf("operator log = %+v", log)
	}

	// Its sender redacts their own message in the room.
	p := filepath.Join(t.TempDir(), "redaction.ndjson")
	line := fmt.Sprintf(`{"event_id":"$byroom","room_id":%q,"type":"m.room.redaction","sender":%q,"origin_server_ts":%d,"redacts":"$other","content":{"reason":"the room's"}}`,
		msg.RoomID, msg.Sender, msg.OriginTS+2) + "\n" +
		fmt.Sprintf(`{"event_id":"$other","room_id":%q,"type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"x"}}`,
			msg.RoomID, msg.Sender, msg.OriginTS+1)
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("import", p); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("takedown", "$other", "--reason", "mine"); err == nil || !strings.Contains(err.Error(), "already redacted in its room") {
		t.Errorf("takedown of a message its room redacted: %v", err)
	}
	if red, err := st.RedactionOf(ctx, "$other"); err != nil || red.Reason != "the room's" {
		t.Errorf("the room's redaction after a refused takedown: %+v, %v", red, err)
	}
}

// An erasure is logged as soon as it is committed: the media clean-up that
// follows may fail (a bucket unreachable, a media.dir that is not a
// directory), and the log then held no entry of who erased whom.
func TestEraseLoggedThoughMediaCleanupFails(t *testing.T) {
	st, cmd, msg := operatorArchive(t)
	ctx := context.Background()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MXARCHIVE_MEDIA_DIR", notADir)
	_, err := cmd("erase-user", string(msg.Sender), "--by", "ops-alice")
	if err == nil || !strings.Contains(err.Error(), "done and logged") {
		t.Errorf("erase-user with a broken media store: %v", err)
	}
	if _, err := st.EventByID(ctx, msg.ID); err == nil {
		t.Fatal("erase-user did not erase")
	}
	log, _ := st.FindOperatorLog(ctx, store.OperatorLogQuery{Command: "erase-user"})
	if len(log) != 1 || log[0].Actor != "ops-alice" || log[0].Target != string(msg.Sender) {
		t.Errorf("the erasure of %s is done, and the operator log holds %+v", msg.Sender, log)
	}
}

// A user ID the archive holds nothing of is refused by erase-user and
// optout (a GDPR request handled with a typo "succeeded", and the real
// user's messages stayed); --force opts them out before they ever speak.
func TestEraseUserOfUnknownUserRefused(t *testing.T) {
	st, cmd, msg := operatorArchive(t)
	ctx := context.Background()
	typo := "@" + strings.ToUpper(string(msg.Sender)[1:2]) + string(msg.Sender)[2:]
	for _, c := range []string{"erase-user", "optout"} {
		if _, err := cmd(c, typo); err == nil || !strings.Contains(err.Error(), "holds no event sent by or about") {
			t.Errorf("%s %s: %v", c, typo, err)
		}
	}
	if log, _ := st.FindOperatorLog(ctx, store.OperatorLogQuery{}); len(log) != 0 {
		t.Errorf("refused commands logged: %+v", log)
	}
	if _, err := cmd("optout", typo, "--force"); err != nil {
		t.Fatalf("optout --force: %v", err)
	}
	if _, err := cmd("optout", string(msg.Sender)); err != nil {
		t.Errorf("optout of a user the archive holds: %v", err)
	}
	if _, err := cmd("erase-user", typo); err != nil {
		t.Errorf("erase-user of a user opted out before: %v", err)
	}
}

// show-room says when the room stays hidden for reasons of its own (here
// purged; or the bot banned, or history no longer world-readable): it
// said "shown again" while the room answered 410.
func TestShowRoomSaysWhatStillHidesIt(t *testing.T) {
	_, cmd, msg := operatorArchive(t)
	if _, err := cmd("hide-room", string(msg.RoomID)); err != nil {
		t.Fatal(err)
	}
	if s, err := cmd("show-room", string(msg.RoomID)); err != nil || !strings.Contains(s, "shown again") {
		t.Errorf("show-room of a room only the operator hid: %q, %v", s, err)
	}
	if _, err := cmd("purge-room", string(msg.RoomID)); err != nil {
		t.Fatal(err)
	}
	if s, err := cmd("show-room", string(msg.RoomID)); err != nil || strings.Contains(s, "shown again") || !strings.Contains(s, "still not shown: purged") {
		t.Errorf("show-room of a purged room: %q, %v", s, err)
	}
}

// A purged room takes no name or topic from its Element export imported
// again (an import script run again, a colleague's copy): the export
// header's gave them back (Store.SetFallbackMeta).
func TestReimportAfterPurgeRoomKeepsNoName(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	const export = "../../testdata/import/element-export.json"
	const roomID = "!hOmElAbAuToMaTiOn:example.org"
	if err := run(ctx, []string{"import", "--assume-world-readable", export}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"purge-room", roomID}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "--assume-world-readable", export}, &out, &errs); err != nil {
		t.Fatalf("import again: %v", err)
	}
	st := openDataDir(t, dir)
	defer st.Close()
	r, err := st.Room(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Purged {
		t.Fatal("the room is no longer purged")
	}
	if r.Name != "" || r.Topic != "" {
		t.Errorf("a purged room got its name %q and topic %q back from a re-import", r.Name, r.Topic)
	}
}
