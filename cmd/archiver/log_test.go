package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// `archiver log` prints the operator log, newest first, filtered by
// --since, --command and --target, as text or --json.
func TestLogCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, a := range []store.OperatorAction{
		{At: old, Actor: "alice", Command: "takedown", Target: "$old", Reason: "spam"},
		{At: recent, Actor: "bob", Command: "takedown", Target: "$new", Reason: "doxxing\nline two"},
		{At: recent.Add(time.Hour), Actor: "bob", Command: "hide-room", Target: "!r:example.org", Reason: "raid"},
	} {
		if err := st.LogOperator(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	logOf := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if err := run(ctx, append([]string{"log"}, args...), &out, &errs); err != nil {
			t.Fatalf("log %v: %v\n%s", args, err, errs.String())
		}
		return out.String()
	}
	all := logOf()
	if strings.Count(all, "\n") != 3 || strings.Index(all, "hide-room") > strings.Index(all, "$old") {
		t.Errorf("log = %q, want 3 lines newest first", all)
	}
	// A reason cannot forge a log line.
	if strings.Contains(all, "\nline two") {
		t.Errorf("a newline in a reason started a line: %q", all)
	}
	if got := logOf("--command", "takedown", "--since", "2026-03-01"); !strings.Contains(got, "$new") || strings.Contains(got, "$old") || strings.Contains(got, "hide-room") {
		t.Errorf("--command takedown --since 2026-03-01 = %q", got)
	}
	var rows []map[string]any
	js := logOf("--json", "--target", "!r:example.org")
	for _, line := range strings.Split(strings.TrimSpace(js), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 1 || rows[0]["command"] != "hide-room" || rows[0]["reason"] != "raid" || rows[0]["actor"] != "bob" {
		t.Errorf("--json --target = %v", rows)
	}
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"log", "--since", "yesterday-ish"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("bad --since: %v", err)
	}
}

// --target finds a room's entries by its alias (they are logged by the
// room's ID), and a user's among the entries of a command on several
// users (optout --irc logs them joined by commas): both found nothing.
func TestLogTargetByAliasAndAmongSeveral(t *testing.T) {
	st, cmd, _ := operatorArchive(t)
	if _, err := cmd("hide-room", "#ansible-community:example.org", "--reason", "raid"); err != nil {
		t.Fatal(err)
	}
	if err := st.LogOperator(context.Background(), store.OperatorAction{At: time.Now(), Actor: "ops", Command: "optout",
		Target: "@irc_libera_fungi:example.org,@irc_libera_fungi_:example.org"}); err != nil {
		t.Fatal(err)
	}
	logOf := func(target string) string {
		t.Helper()
		out, err := cmd("log", "--target", target)
		if err != nil {
			t.Fatalf("log --target %s: %v", target, err)
		}
		return out
	}
	if got := logOf("#ansible-community:example.org"); !strings.Contains(got, "hide-room") {
		t.Errorf("--target by alias = %q", got)
	}
	if got := logOf("@irc_libera_fungi_:example.org"); !strings.Contains(got, "optout") {
		t.Errorf("--target one of several users = %q", got)
	}
	// Only whole user IDs match.
	for _, part := range []string{"@irc_libera_fungi", "fungi:example.org", "@irc_libera_fungi:example.org,@irc"} {
		if got := logOf(part); got != "" {
			t.Errorf("--target %s = %q, want nothing", part, got)
		}
	}
}

// A room command given by alias is logged by the room's ID and the alias:
// after purge-room, which forgets the room's aliases, `archiver log
// --target #alias` failed to resolve it, and the purge's own entry could
// not be found by the name the operator used.
func TestLogTargetByAliasAfterPurge(t *testing.T) {
	_, cmd, _ := operatorArchive(t)
	if _, err := cmd("purge-room", "#ansible-community:example.org", "--reason", "legal"); err != nil {
		t.Fatal(err)
	}
	out, err := cmd("log", "--target", "#ansible-community:example.org")
	if err != nil || !strings.Contains(out, "purge-room") {
		t.Errorf("log --target <alias of the purged room>: err = %v, out = %q; want the purge-room entry", err, out)
	}
}

// `archiver log --command` refuses a name that is no operator command,
// listing those there are. Before, a typo (hide-rom) printed nothing and
// exited 0, which reads as "never run".
func TestLogUnknownCommandRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	st, err := store.Open(context.Background(), store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errs bytes.Buffer
	err = run(context.Background(), []string{"log", "--command", "hide-rom"}, &out, &errs)
	want := `log: --command "hide-rom" is no operator command: want one of erase-user, hide-room, optin, optout, purge-room, retention, show-room, takedown`
	if err == nil || err.Error() != want {
		t.Errorf("log --command hide-rom: %v, want %q", err, want)
	}
	for cmd := range operatorUsage {
		if err := run(context.Background(), []string{"log", "--command", cmd}, &out, &errs); err != nil {
			t.Errorf("log --command %s: %v", cmd, err)
		}
	}
}
