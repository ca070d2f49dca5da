package store_test

import (
	"context"
	"fmt"
	"testing"

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
	archiver, web, dsn := storetest.TwinsAt(t, "postgres", store.Options{})
	put(t, archiver, append(baseRoom(t), mk(t, "$bob", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`))...)
	shown := func() bool {
		t.Helper()
		var e store.Event
		pgtest.Retry(t, func() (err error) { e, err = web.EventByID(ctx, "$bob"); return err })
		return !e.OptedOut
	}
	if !shown() {
		t.Fatal("Bob's message is hidden before he opts out")
	}
	backup := pgtest.Backup(t, dsn)
	pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	for i := range 5 {
		put(t, archiver, mk(t, fmt.Sprintf("$lost%d", i), "m.room.message", "@alice:example.org", int64(3000+i), nil, `{"msgtype":"m.text","body":"lost"}`))
	}
	if !shown() { // web's copy is now current to the lost feed's head
		t.Fatal("Bob's message is hidden before he opts out")
	}
	pgtest.Restore(t, dsn, backup)
	pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	if changed, err := archiver.OptOut(ctx, "@bob:example.org", "operator"); err != nil || !changed {
		t.Fatalf("OptOut: %v %v", changed, err)
	}
	if shown() {
		t.Error("Bob opted out after the restore, and his message is still shown")
	}
}
