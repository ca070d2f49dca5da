package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A PostgreSQL database restored from a backup (or failed over to a
// replica that lacked the last commits) under a running archive-web: its
// pool reconnects, and the archiver's next changes take the feed
// positions the restore lost. archive-web's copy of the opt-outs was
// current to a position past the restored feed's head, and it looked only
// for changes after that position: an opt-out written at a reused
// position was never applied, and the member's messages stayed on every
// page until archive-web restarted.
func TestOptOutAfterTheFeedWentBack(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	open := func() *store.Store {
		t.Helper()
		st, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	archiver, web := open(), open()
	put(t, archiver, append(baseRoom(t), mk(t, "$bob", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`))...)
	shown := func() bool {
		t.Helper()
		var e store.Event
		retryFor(t, func() (err error) { e, err = web.EventByID(ctx, "$bob"); return err })
		return !e.OptedOut
	}
	if !shown() {
		t.Fatal("Bob's message is hidden before he opts out")
	}
	backup := pgtest.Backup(t, dsn)
	retryFor(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	for i := range 5 {
		put(t, archiver, mk(t, fmt.Sprintf("$lost%d", i), "m.room.message", "@alice:example.org", int64(3000+i), nil, `{"msgtype":"m.text","body":"lost"}`))
	}
	if !shown() { // web's copy is now current to the lost feed's head
		t.Fatal("Bob's message is hidden before he opts out")
	}
	pgtest.Restore(t, dsn, backup)
	retryFor(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	if changed, err := archiver.OptOut(ctx, "@bob:example.org", "operator"); err != nil || !changed {
		t.Fatalf("OptOut: %v %v", changed, err)
	}
	if shown() {
		t.Error("Bob opted out after the restore, and his message is still shown")
	}
}

// retryFor runs fn until it succeeds, for at most 10 s: a pool's sessions
// cut by the restore fail once each.
func retryFor(t *testing.T, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
