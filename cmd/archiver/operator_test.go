package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/store"
)

// The operator commands change the archive (dry runs do not), refuse bad
// arguments clearly, and are logged with who ran them.
func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", "../../testdata/demo/ansible-community.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	st := openDataDir(t, dir)
	defer st.Close()
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
		err := run(ctx, args, &out, &errs)
		return out.String(), err
	}
	for _, bad := range [][]string{
		{"takedown", string(msg.ID)},                  // no reason
		{"takedown", "not-an-event", "--reason", "x"}, // not an ID
		{"erase-user", "bob"},                         // not a user ID
		{"hide-room", "general"},                      // not a room
		{"optout"},                                    // no argument
	} {
		if _, err := cmd(bad...); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	if s, err := cmd("erase-user", string(msg.Sender), "--dry-run", "--by", "alice-ops"); err != nil || !strings.Contains(s, "would be deleted") {
		t.Errorf("dry run: %q %v", s, err)
	}
	if e, _ := st.EventByID(ctx, msg.ID); e.Redacted || e.OptedOut {
		t.Fatal("the dry run changed something")
	}
	if _, err := cmd("takedown", string(msg.ID), "--reason", "doxxing", "--by", "alice-ops"); err != nil {
		t.Fatal(err)
	}
	if e, _ := st.EventByID(ctx, msg.ID); !e.Redacted {
		t.Error("takedown left the content")
	}
	if _, err := cmd("hide-room", "!aNsIbLeCoMmUnItY:example.org", "--reason", "spam wave"); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Room(ctx, "!aNsIbLeCoMmUnItY:example.org"); r.Hiding() != store.HiddenByOperator || !strings.Contains(r.HiddenReason, "spam wave") {
		t.Errorf("hide-room: %v %q", r.Hiding(), r.HiddenReason)
	}
	if _, err := cmd("retention", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	log, err := st.OperatorLog(ctx, 10)
	if err != nil || len(log) != 4 {
		t.Fatalf("operator log: %d entries, %v", len(log), err)
	}
	var takedown store.OperatorAction
	for _, a := range log {
		if a.Command == "takedown" {
			takedown = a
		}
	}
	if takedown.Actor != "alice-ops" || takedown.Reason != "doxxing" || takedown.DryRun || takedown.Target != string(msg.ID) {
		t.Errorf("takedown log entry = %+v", takedown)
	}
}
