package store_test

import (
	"context"
	"fmt"
	"sync"
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

// Screening's copy is loaded after a look at the feed's head, and holds
// what was committed by the time each of its reads ran: here Bob's opt-in,
// committed during the load. A restore to a head between the two (Bob
// opted out again) kept the change at the copy's position, and the copy
// stood: the restored archive, which says Bob opted out, showed his
// messages. A copy's anchor is the feed's head read after the load.
func TestOptInDuringLoadAfterTheFeedWentBack(t *testing.T) {
	ctx := context.Background()
	archiver, web, dsn := storetest.TwinsAt(t, "postgres", store.Options{})
	put(t, archiver, append(baseRoom(t), mk(t, "$bob", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`))...)
	if _, err := archiver.OptOut(ctx, "@bob:example.org", "operator"); err != nil {
		t.Fatal(err)
	}
	shown := func() bool {
		t.Helper()
		var e store.Event
		pgtest.Retry(t, func() (err error) { e, err = web.EventByID(ctx, "$bob"); return err })
		return !e.OptedOut
	}
	if shown() {
		t.Fatal("Bob's message is shown after he opted out")
	}
	// A change that makes web's copy load again, then the backup.
	if _, err := archiver.OptOut(ctx, "@carol:example.org", "operator"); err != nil {
		t.Fatal(err)
	}
	backup := pgtest.Backup(t, dsn)
	pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	pgtest.Retry(t, func() error { _, err := web.FeedHead(ctx); return err })
	web.SetConsentLoading(func() {
		web.SetConsentLoading(nil)
		if _, err := archiver.OptIn(ctx, "@bob:example.org"); err != nil {
			t.Error(err)
		}
	})
	if !shown() {
		t.Fatal("Bob's message is hidden after he opted in")
	}
	pgtest.Restore(t, dsn, backup) // Bob opted out there
	pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	put(t, archiver, mk(t, "$m2", "m.room.message", "@alice:example.org", 3000, nil, `{"msgtype":"m.text","body":"after the restore"}`))
	if e, err := archiver.EventByID(ctx, "$bob"); err != nil || !e.OptedOut {
		t.Fatalf("the restored archive shows Bob's message? %v", err)
	}
	if shown() {
		t.Error("the restored archive, in which Bob opted out, shows his message")
	}
}

// The feed goes back while screening loads its copy, and the archiver
// writes past the head the load began at before the load ends: the copy
// was kept with the lost feed's head as its position (Screened) and the
// new feed's last change as its anchor, and the count of times the feed
// went back (page keys) never moved (helper-87's review). The look after
// the load now reads the change at the head the load began at too.
func TestFeedWentBackDuringTheLoadIsCounted(t *testing.T) {
	ctx := context.Background()
	archiver, web, dsn := storetest.TwinsAt(t, "postgres", store.Options{})
	put(t, archiver, append(baseRoom(t), mk(t, "$bob", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`))...)
	read := func() store.Event {
		t.Helper()
		var e store.Event
		pgtest.Retry(t, func() (err error) { e, err = web.EventByID(ctx, "$bob"); return err })
		return e
	}
	read()
	backup := pgtest.Backup(t, dsn)
	pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
	for i := range 3 {
		put(t, archiver, mk(t, fmt.Sprintf("$lost%d", i), "m.room.message", "@alice:example.org", int64(3000+i), nil, `{"msgtype":"m.text","body":"lost"}`))
	}
	// A relevant change: web's next read reloads its copy.
	if _, err := archiver.OptOut(ctx, "@carol:example.org", "operator"); err != nil {
		t.Fatal(err)
	}
	lostHead, _ := archiver.FeedHead(ctx)
	var once sync.Once
	web.SetConsentLoading(func() {
		once.Do(func() {
			pgtest.Restore(t, dsn, backup)
			pgtest.Retry(t, func() error { _, err := archiver.FeedHead(ctx); return err })
			for range 20 { // web's pool: every cut session fails once
				pgtest.Retry(t, func() error { _, err := web.FeedHead(ctx); return err })
			}
			for i := range 8 {
				put(t, archiver, mk(t, fmt.Sprintf("$new%d", i), "m.room.message", "@alice:example.org", int64(4000+i), nil, `{"msgtype":"m.text","body":"new"}`))
			}
		})
	})
	read()
	web.SetConsentLoading(nil)
	read()
	head, _ := archiver.FeedHead(ctx)
	var rs store.ReadState
	pgtest.Retry(t, func() (err error) { rs, err = web.ReadState(ctx, room); return err })
	t.Logf("lost feed's head %d, restored feed's head %d; Screened %d, FeedWentBack %d", lostHead, head, rs.Screened, rs.FeedWentBack)
	if rs.FeedWentBack == 0 {
		t.Errorf("the feed went back (and was passed) during screening's load; FeedWentBack is still 0 (Screened %d)", rs.Screened)
	}
}
