package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// stoppedRoom is the room stoppedArchive imports; @bob sent its messages.
const (
	stoppedRoom = "!big:example.org"
	stoppedUser = "@bob:example.org"
)

// stoppedArchive imports a room where @bob sent n messages, on dialect,
// into a fresh archive the archiver's commands use (through the
// environment), and returns a read-only connection to its database for
// counting what a command has deleted so far.
func stoppedArchive(t *testing.T, dialect string, n int) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	t.Setenv("MXARCHIVE_DATABASE_TYPE", dialect)
	driver, dsn := "sqlite", "file:"+filepath.Join(dir, "mxarchive.db")+"?mode=ro&_pragma=busy_timeout(5000)"
	if dialect == "postgres" {
		dsn = pgtest.NewDatabase(t)
		driver = "pgx"
		t.Setenv("MXARCHIVE_DATABASE_URI", dsn)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	put := func(i int, typ, sender string, stateKey *string, content map[string]any) {
		e := map[string]any{"event_id": fmt.Sprintf("$ev%08d", i), "room_id": stoppedRoom, "sender": sender, "type": typ,
			"origin_server_ts": int64(1700000000000) + int64(i)*1000, "content": content}
		if stateKey != nil {
			e["state_key"] = *stateKey
		}
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	empty, alice := "", "@alice:example.org"
	put(0, "m.room.create", alice, &empty, map[string]any{"room_version": "11"})
	put(1, "m.room.member", alice, &alice, map[string]any{"membership": "join"})
	put(2, "m.room.history_visibility", alice, &empty, map[string]any{"history_visibility": "world_readable"})
	for i := 3; i < n+3; i++ {
		put(i, "m.room.message", stoppedUser, nil, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("message %d", i)})
	}
	path := filepath.Join(dir, "big.ndjson")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"import", path}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// countEvents counts the events where holds (SQL over the events table).
func countEvents(t *testing.T, db *sql.DB, where string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM events WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stopOnceDeleting returns a context that ends as soon as the events
// where holds fall below before: once a batch of the command under test
// has committed, so the command is stopped part-way, as Ctrl-C or a
// systemd stop would. wait waits for the watcher to end.
func stopOnceDeleting(t *testing.T, db *sql.DB, where string, before int64) (ctx context.Context, wait func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		for ctx.Err() == nil {
			var n int64
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE `+where).Scan(&n); err == nil && n < before {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(cancel)
	return ctx, func() { cancel(); wg.Wait() }
}

// operatorLog reads the operator log's entries of command, newest first.
func operatorLog(t *testing.T, command string) []store.OperatorAction {
	t.Helper()
	cfg := store.Config{Type: os.Getenv("MXARCHIVE_DATABASE_TYPE"), URI: os.Getenv("MXARCHIVE_DATABASE_URI")}
	st, err := store.Open(context.Background(), cfg, os.Getenv("MXARCHIVE_DATA_DIR"), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.FindOperatorLog(context.Background(), store.OperatorLogQuery{Command: command, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// An erasure stopped part-way (Ctrl-C, systemd stop: the context ends) is
// in the operator log with the events it did delete: the log is the audit
// trail of erasures, and the README says a command that stops part-way
// logs what it did. Before, the entry was written with the ended context
// and failed ("log the operator's erase-user: context canceled"), and its
// count was 0 whatever the committed batches had deleted: the operator log
// held nothing of 3,000 events erased.
func TestErasureStoppedPartWayIsLoggedWithWhatItDeleted(t *testing.T) {
	const n = 30000
	const where = `sender = '` + stoppedUser + `'`
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			db := stoppedArchive(t, dialect, n)
			ctx, wait := stopOnceDeleting(t, db, where, n)
			var out, errs bytes.Buffer
			err := run(ctx, []string{"erase-user", stoppedUser, "--by", "ops"}, &out, &errs)
			wait()
			deleted := n - countEvents(t, db, where)
			if err == nil || deleted == 0 || deleted == n {
				t.Fatalf("erase-user was not stopped part-way (err %v, %d of %d deleted): the test proves nothing", err, deleted, n)
			}
			entries := operatorLog(t, "erase-user")
			if len(entries) != 1 {
				t.Fatalf("erase-user deleted %d of %d events and was stopped (%v); the operator log holds %d entries of it, want 1", deleted, n, err, len(entries))
			}
			e := entries[0]
			if e.Affected != deleted || e.Actor != "ops" || e.Target != stoppedUser || !strings.Contains(e.Reason, "[stopped: context canceled]") {
				t.Errorf("operator log entry %+v: want affected %d, actor ops, target %s and the stop in its reason", e, deleted, stoppedUser)
			}
			want := fmt.Sprintf("%d events of %s deleted or stripped; %s opted out (stopped: context canceled)\n", deleted, stoppedUser, stoppedUser)
			if out.String() != want {
				t.Errorf("erase-user printed %q, want %q", out.String(), want)
			}
			// Run again, it erases the rest, and logs that too.
			if err := run(context.Background(), []string{"erase-user", stoppedUser, "--by", "ops"}, &out, &errs); err != nil {
				t.Fatal(err)
			}
			if left := countEvents(t, db, where); left != 0 {
				t.Errorf("erase-user run again left %d of @bob's events", left)
			}
			if entries := operatorLog(t, "erase-user"); len(entries) != 2 || entries[0].Affected != n-deleted {
				t.Errorf("operator log after the second run: %+v, want a second entry of %d events", entries, n-deleted)
			}
		})
	}
}

// A purge-room stopped part-way is in the operator log with the events it
// deleted, and running it again finishes the job. Before, the command
// returned before logging: the room was marked purged and thousands of its
// events deleted with no entry at all.
func TestPurgeRoomStoppedPartWayIsLoggedAndFinishesWhenRunAgain(t *testing.T) {
	const n = 30000
	const where = `room_id = '` + stoppedRoom + `'`
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			db := stoppedArchive(t, dialect, n)
			total := countEvents(t, db, where)
			ctx, wait := stopOnceDeleting(t, db, where, total)
			var out, errs bytes.Buffer
			err := run(ctx, []string{"purge-room", stoppedRoom, "--by", "ops"}, &out, &errs)
			wait()
			deleted := total - countEvents(t, db, where)
			if err == nil || deleted == 0 || deleted == total {
				t.Fatalf("purge-room was not stopped part-way (err %v, %d of %d deleted): the test proves nothing", err, deleted, total)
			}
			entries := operatorLog(t, "purge-room")
			if len(entries) != 1 {
				t.Fatalf("purge-room deleted %d of %d events and was stopped (%v); the operator log holds %d entries of it, want 1", deleted, total, err, len(entries))
			}
			if e := entries[0]; e.Affected != deleted || e.Target != stoppedRoom || !strings.Contains(e.Reason, "[stopped: context canceled]") {
				t.Errorf("operator log entry %+v: want affected %d, target %s and the stop in its reason", e, deleted, stoppedRoom)
			}
			want := fmt.Sprintf("%d events of %s deleted (stopped: context canceled)\n", deleted, stoppedRoom)
			if out.String() != want {
				t.Errorf("purge-room printed %q, want %q", out.String(), want)
			}
			if err := run(context.Background(), []string{"purge-room", stoppedRoom, "--by", "ops"}, &out, &errs); err != nil {
				t.Fatalf("purge-room run again after the stop: %v", err)
			}
			if left := countEvents(t, db, where); left != 0 {
				t.Errorf("purge-room run again left %d events", left)
			}
			if entries := operatorLog(t, "purge-room"); len(entries) != 2 || entries[0].Affected != total-deleted {
				t.Errorf("operator log after the second run: %+v, want a second entry of %d events", entries, total-deleted)
			}
		})
	}
}

// cancelOnWrite ends a context at the first write that holds text: the
// stop comes as the command reports its first committed batch.
type cancelOnWrite struct {
	mu     sync.Mutex
	text   string
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.text)) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// `archiver retention` stopped part-way is in the operator log with the
// expired events it deleted. Before, the entry was written with the ended
// context and failed, so the log held nothing of them.
func TestRetentionStoppedPartWayIsLogged(t *testing.T) {
	const n = 30000
	const where = `room_id = '` + stoppedRoom + `'`
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			db := stoppedArchive(t, dialect, n)
			t.Setenv("MXARCHIVE_RETENTION_DEFAULT_MAX_LIFETIME", "1d")
			total := countEvents(t, db, where)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errs := &cancelOnWrite{text: "retention purge batch", cancel: cancel}
			var out bytes.Buffer
			err := run(ctx, []string{"retention", "--by", "ops"}, &out, errs)
			deleted := total - countEvents(t, db, where)
			if err == nil || deleted == 0 || deleted >= n-1 {
				t.Fatalf("retention was not stopped part-way (err %v, %d of %d deleted): the test proves nothing", err, deleted, n)
			}
			entries := operatorLog(t, "retention")
			if len(entries) != 1 {
				t.Fatalf("retention deleted %d events and was stopped (%v); the operator log holds %d entries of it, want 1", deleted, err, len(entries))
			}
			if e := entries[0]; e.Affected != deleted || !strings.Contains(e.Reason, "[stopped: ") {
				t.Errorf("operator log entry %+v: want affected %d and the stop in its reason", e, deleted)
			}
		})
	}
}
