package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes lines as an NDJSON file.
func writeFile(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const cmdRoom = "!cmd:example.org"

func line(evID, typ string, ts int64, stateKey, content string) string {
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
	}
	return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":"@alice:example.org","origin_server_ts":%d%s,"content":%s}`,
		evID, cmdRoom, typ, ts, sk, content)
}

func message(evID string, ts int64) string {
	return line(evID, "m.room.message", ts, "-", `{"msgtype":"m.text","body":"hello"}`)
}

// A room's history visibility known from the archive (an earlier import,
// or the appservice) counts: a later file of messages alone is archived,
// and the report must not say it was not.
func TestImportReportKnowsVisibilityFromTheArchive(t *testing.T) {
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	ctx := context.Background()
	var out, errs bytes.Buffer
	state := writeFile(t, "state.ndjson",
		line("$create", "m.room.create", 1, "", `{"room_version":"10"}`),
		line("$hv", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`))
	if err := run(ctx, []string{"import", state}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	out.Reset()
	later := writeFile(t, "later.ndjson", message("$m1", 10), message("$m2", 11))
	if err := run(ctx, []string{"import", later}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if s := out.String(); !strings.Contains(s, "2 stored") || strings.Contains(s, "not archived") {
		t.Errorf("report of an archived file:\n%s", s)
	}
	// A room whose visibility nobody states is still reported.
	out.Reset()
	other := writeFile(t, "other.ndjson", strings.ReplaceAll(message("$o1", 10), cmdRoom, "!other:example.org"))
	if err := run(ctx, []string{"import", other}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if s := out.String(); !strings.Contains(s, "0 stored") || !strings.Contains(s, "!other:example.org: the file does not state its history visibility") {
		t.Errorf("report of an unstated room:\n%s", s)
	}
}

// An event the database refuses is reported by line and kept aside;
// archiver quarantine lists it, as text and as JSON lines whose raw field
// can be imported again.
func TestQuarantineCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	state := writeFile(t, "state.ndjson",
		line("$create", "m.room.create", 1, "", `{"room_version":"10"}`),
		line("$hv", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`))
	if err := run(ctx, []string{"import", state}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if err := run(ctx, []string{"quarantine"}, &out, &errs); err != nil || !strings.Contains(out.String(), "no quarantined events") {
		t.Fatalf("empty quarantine: %v %q", err, out.String())
	}
	// The database refuses $poison: a real SQLite refusal, from a trigger.
	db, err := sql.Open("sqlite", filepath.Join(dir, "mxarchive.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.event_id = '$poison'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	errs.Reset()
	file := writeFile(t, "poison.ndjson", message("$m1", 10), message("$poison", 11), message("$m2", 12))
	if err := run(ctx, []string{"import", file}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "2 stored") || !strings.Contains(out.String(), "1 quarantined") ||
		!strings.Contains(errs.String(), "line 2: event $poison: refused by the database") {
		t.Errorf("import output:\n%s\nerrors:\n%s", out.String(), errs.String())
	}
	out.Reset()
	if err := run(ctx, []string{"quarantine"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "$poison") || !strings.Contains(s, cmdRoom) || !strings.Contains(s, "import") ||
		!strings.Contains(s, "refused by the test") {
		t.Errorf("quarantine:\n%s", s)
	}
	out.Reset()
	if err := run(ctx, []string{"quarantine", "--json"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	var rows []map[string]json.RawMessage
	for sc.Scan() {
		var row map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 1 || string(rows[0]["event_id"]) != `"$poison"` || string(rows[0]["source"]) != `"import"` {
		t.Fatalf("quarantine --json = %v", rows)
	}
	var raw map[string]any
	if err := json.Unmarshal(rows[0]["raw"], &raw); err != nil || raw["event_id"] != "$poison" {
		t.Errorf("raw = %s, %v", rows[0]["raw"], err)
	}
}
