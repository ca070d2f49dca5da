package store_test

import (
	"cmp"
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestOpenWaitsForALock: a process opening the SQLite database while
// another holds its lock (systemd starts the archiver and archive-web
// together; the e2e tests open the archiver's database while it starts)
// waits for the lock (busy_timeout) rather than failing at once with
// "database is locked": the connection sets its busy timeout before it
// asks for WAL mode, which takes the lock.
func TestOpenWaitsForALock(t *testing.T) {
	dir := t.TempDir()
	other, err := sql.Open("sqlite", filepath.Join(dir, "mxarchive.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE held (x)"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		conn.ExecContext(ctx, "COMMIT")
		close(released)
	}()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{})
	<-released
	if err != nil {
		t.Fatalf("open while another connection held the lock for 300 ms: %v", err)
	}
	st.Close()
}

// TestOpenTogether: two processes opening one new SQLite database at the
// same moment (the archiver and archive-web started together; the e2e
// tests open the archiver's database while it starts) both open it. Each
// connection asks for WAL mode, and SQLite answers one of two asking at
// once SQLITE_BUSY without waiting (it could deadlock): some 3-5% of the
// opens failed with "database is locked" before Open retried its connect.
func TestOpenTogether(t *testing.T) {
	failed := 0
	var first error
	for range 100 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		var mu sync.Mutex
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, err := store.Open(context.Background(), store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{ReadMostly: i == 1})
				if err != nil {
					mu.Lock()
					failed++
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				st.Close()
			}()
		}
		close(start)
		wg.Wait()
	}
	if failed > 0 {
		t.Errorf("%d of 200 opens of a new database, two at a time, failed; the first: %v", failed, first)
	}
}
