package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// `archiver status` lists every room with whether it is recorded and why
// not, its last event, how complete its history is, pending media and
// backfill state; --json the same as one object per room.
func TestStatusCommand(t *testing.T) {
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	ctx := context.Background()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", "../../testdata/import/malformed.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	const room = "!bRoKeNfIxTuRe:example.org"
	if err := run(ctx, []string{"hide-room", room, "--reason", "raid\nforged line", "--by", "ops"}, &out, &errs); err != nil {
		t.Fatalf("hide-room: %v\n%s", err, errs.String())
	}
	out.Reset()
	if err := run(ctx, []string{"status"}, &out, &errs); err != nil {
		t.Fatalf("status: %v\n%s", err, errs.String())
	}
	text := out.String()
	if !strings.Contains(text, room) || !strings.Contains(text, "hidden") || !strings.Contains(text, `"raid\nforged line"`) {
		t.Errorf("status = %q, want the room, hidden, and its quoted reason", text)
	}
	out.Reset()
	if err := run(ctx, []string{"status", "--json"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &st); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if st["room_id"] != room || st["state"] != "hidden" || st["hidden_reason"] != "raid\nforged line" ||
		st["last_event_at"] == nil || st["backfill"] != "never" || st["media_pending"] != float64(0) {
		t.Errorf("--json = %v", st)
	}
}
