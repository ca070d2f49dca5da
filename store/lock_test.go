package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Two archivers on one database would each ack transactions and sweep the
// same rooms; the second must refuse to start, and start once the first is
// gone.
func TestLockArchiverIsExclusive(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			cfg := store.Config{Type: dialect, URI: filepath.Join(t.TempDir(), "archive.db")}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
			}
			open := func() *store.Store {
				st, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			first, second := open(), open()
			lock, err := first.LockArchiver(ctx)
			if err != nil {
				t.Fatalf("first archiver: %v", err)
			}
			_, err = second.LockArchiver(ctx)
			if !errors.Is(err, store.ErrArchiverRunning) || !strings.Contains(err.Error(), "another archiver") {
				t.Fatalf("second archiver on the same database: err = %v, want ErrArchiverRunning", err)
			}
			if err := lock.Release(); err != nil {
				t.Fatalf("release: %v", err)
			}
			lock2, err := second.LockArchiver(ctx)
			if err != nil {
				t.Fatalf("second archiver after the first exited: %v", err)
			}
			if err := lock2.Release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A PostgreSQL restart (or a killed backend) ends the session and with it
// the lock: the archiver takes it again on a new session and writes on,
// rather than stop (and wait for a supervisor) at every restart.
func TestArchiverLockTakenAgain(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	st, other := openLockStore(t, uri, 50*time.Millisecond), openLockStore(t, uri, 0)
	lock, err := st.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if _, err := st.OptOut(ctx, "@before:example.org", "test"); err != nil {
		t.Fatalf("write while the lock is held: %v", err)
	}
	killArchiverLockSession(t, other)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.OptOut(ctx, "@after:example.org", "test")
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrArchiverLockNotHeld) || !store.Unavailable(err) {
			t.Fatalf("write while the lock is being taken again: %v, want ErrArchiverLockNotHeld (unavailable)", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the archiver never took its lock again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !lock.Held() {
		t.Error("a write succeeded but the lock says it is not held")
	}
	select {
	case <-lock.Taken():
		t.Fatal("lock reported taken by another, with no other archiver")
	default:
	}
	// It is held again: a second archiver still refuses to start.
	if _, err := other.LockArchiver(ctx); !errors.Is(err, store.ErrArchiverRunning) {
		t.Fatalf("second archiver after the first took its lock again: %v, want ErrArchiverRunning", err)
	}
	if err := lock.Release(); err != nil {
		t.Fatalf("release after taking it again: %v", err)
	}
	again, err := other.LockArchiver(ctx)
	if err != nil {
		t.Fatalf("lock after the release: %v", err)
	}
	again.Release()
}

// When the lock's session ends and another archiver takes the lock before
// this one could, this one writes nothing more, not one transaction, even
// before its periodic check would have noticed; its lock says Taken.
func TestArchiverWritesNothingOnceAnotherTookTheLock(t *testing.T) {
	ctx := context.Background()
	first, second, lock := takenOver(t, pgtest.NewDatabase(t))
	_, err := first.OptOut(ctx, "@written:example.org", "test")
	if !errors.Is(err, store.ErrArchiverLockNotHeld) || !store.Unavailable(err) {
		t.Fatalf("first archiver's write beside the second: err = %v, want ErrArchiverLockNotHeld (unavailable)", err)
	}
	if via, err := second.OptOutVia(ctx, "@written:example.org"); err != nil || via != "" {
		t.Fatalf("the refused write is stored: via %q, %v", via, err)
	}
	select {
	case <-lock.Taken():
	case <-time.After(5 * time.Second):
		t.Fatal("the first archiver's lock does not say another took it")
	}
	if lock.Held() {
		t.Error("the first archiver's lock says it is held")
	}
	// The writes outside a transaction are refused too.
	if err := first.LogOperator(ctx, store.OperatorAction{At: time.Now(), Actor: "test", Command: "test"}); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("first archiver's operator log beside the second: err = %v, want ErrArchiverLockNotHeld", err)
	}
	// The second writes.
	if _, err := second.OptOut(ctx, "@second:example.org", "test"); err != nil {
		t.Fatalf("the second archiver's write: %v", err)
	}
}
