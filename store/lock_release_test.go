package store_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Release while the lock is being taken again, just after a try whose
// answer was lost (its session, the archiver's own, holds the lock on the
// server), ends that session: the next archiver starts, rather than be
// refused (ErrArchiverRunning) until the server drops that backend (TCP
// keepalive: hours). helper-84's review.
func TestReleaseDuringRetakeEndsTheArchiversOwnSession(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	p := startHolderProxy(t, u.Host)
	direct := openLockStore(t, uri, time.Hour)
	pu := *u
	pu.Host = p.ln.Addr().String()
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: pu.String(), QueryTimeout: time.Second}, t.TempDir(), storetest.Logger(t), store.Options{LockCheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lock, err := st.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.dropAfter = []byte("pg_try_advisory_lock")
	killArchiverLockSession(t, direct)
	var lost int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p.dropped.Load() {
			if lost = archiverLockPID(t, direct); lost != 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no try's answer was lost (dropped %v)", p.dropped.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The operator stops the archiver now.
	if err := lock.Release(); err != nil {
		t.Logf("Release: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if h := archiverLockPID(t, direct); h != 0 {
		next := openLockStore(t, uri, time.Hour)
		_, lerr := next.LockArchiver(ctx)
		t.Errorf("after Release the archiver's own session (backend %d, its lost try %d) still holds the archiver lock; the next archiver: %v", h, lost, lerr)
	}
}
