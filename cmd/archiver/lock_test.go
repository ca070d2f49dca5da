package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// `archiver run` refuses to start while another archiver holds the
// database, with a message saying so, and starts once it is gone.
func TestRunRefusesSecondArchiver(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("MXARCHIVE_DATA_DIR", dir)
			t.Setenv("MXARCHIVE_DATABASE_TYPE", dialect)
			cfg := store.Config{Type: dialect}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
				t.Setenv("MXARCHIVE_DATABASE_URI", cfg.URI)
			}
			t.Setenv("MXARCHIVE_HOMESERVER_ADDRESS", "http://127.0.0.1:1")
			t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
			t.Setenv("MXARCHIVE_APPSERVICE_AS_TOKEN", "as-token")
			t.Setenv("MXARCHIVE_APPSERVICE_HS_TOKEN", "hs-token")
			t.Setenv("MXARCHIVE_APPSERVICE_LISTEN", "127.0.0.1:0")

			// The first archiver, as another process would hold it.
			first, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			lock, err := first.LockArchiver(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			// Bounded: without the lock the second would run on.
			ctx1, cancel1 := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel1()
			err = run(ctx1, []string{"run"}, &out, &errs)
			if !errors.Is(err, store.ErrArchiverRunning) || !strings.Contains(err.Error(), "another archiver is already running") {
				t.Fatalf("second archiver: err = %v, want a refusal naming the running archiver\n%s", err, errs.String())
			}
			if err := lock.Release(); err != nil {
				t.Fatal(err)
			}
			// With the first gone the second starts; it runs until its
			// context ends (the homeserver is unreachable, which it
			// only logs).
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			if err := run(ctx, []string{"run"}, &out, &errs); errors.Is(err, store.ErrArchiverRunning) {
				t.Fatalf("archiver after the first exited: %v", err)
			}
			// And it released the lock when it stopped.
			again, err := first.LockArchiver(context.Background())
			if err != nil {
				t.Fatalf("lock after the second archiver stopped: %v", err)
			}
			again.Release()
		})
	}
}

// A PostgreSQL restart ends the session of the archiver's lock. If another
// archiver starts and takes the lock before this one takes it again, this
// one stores nothing more (a transaction is answered 5xx, for the other to
// take) and stops, saying why; it does not write beside the other until
// its next check of the lock.
func TestRunStopsWritingOnceAnotherTookItsLock(t *testing.T) {
	dir := t.TempDir()
	dsn := pgtest.NewDatabase(t)
	listen := freePort(t)
	for k, v := range map[string]string{
		"MXARCHIVE_DATA_DIR": dir, "MXARCHIVE_DATABASE_TYPE": "postgres", "MXARCHIVE_DATABASE_URI": dsn,
		"MXARCHIVE_HOMESERVER_ADDRESS": "http://127.0.0.1:1", "MXARCHIVE_HOMESERVER_DOMAIN": "example.org",
		"MXARCHIVE_APPSERVICE_AS_TOKEN": "as-token", "MXARCHIVE_APPSERVICE_HS_TOKEN": "hs-token",
		"MXARCHIVE_APPSERVICE_LISTEN": listen,
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, &out, &errs) }()
	send := func(txn string) int {
		body := `{"events":[{"type":"m.room.message","room_id":"!r:example.org","sender":"@a:example.org","event_id":"$` + txn + `","origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"hi"}}]}`
		req, _ := http.NewRequest("PUT", "http://"+listen+"/_matrix/app/v1/transactions/"+txn, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer hs-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(20 * time.Second); send("first") != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatalf("the archiver never stored a transaction\n%s", errs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	other, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The restart, as far as the lock is concerned: its session ends.
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int64
	if err := conn.QueryRowContext(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 1836605811 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	var lock *store.ArchiverLock
	for deadline := time.Now().Add(10 * time.Second); ; {
		if lock, err = other.LockArchiver(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other archiver never took the lock: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer lock.Release()
	if code := send("beside"); code == http.StatusOK {
		t.Errorf("a transaction was stored beside the archiver that took the lock")
	}
	if _, _, err := other.Transaction(context.Background(), "beside"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the transaction is recorded (%v)", err)
	}
	if _, _, err := other.Transaction(context.Background(), "first"); err != nil {
		t.Errorf("the transaction before: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "another archiver took the archiver lock") {
			t.Fatalf("run ended with %v, want it to say another archiver took its lock\n%s", err, errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the archiver runs on beside the one that took its lock\n%s", errs.String())
	}
}
