package indexer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A PostgreSQL database restored from a backup (or failed over to a
// replica that lacked the last commits) under a running archive-web: the
// store's pool reconnects to it, the archiver stores more changes than the
// restore lost, and the feed's positions up to the index's checkpoint now
// name other changes. The index, which went on from its checkpoint,
// never indexed the messages at the positions it had passed; now its
// next step finds the feed holding another change at its checkpoint
// (feedmark.go) and rebuilds it from the store.
func TestFeedThatWentBackUnderARunningIndex(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	add(t, st, lines(msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept by the backup"}`))...)
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: 500}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	catchUp(t, ix)
	backup := pgtest.Backup(t, dsn)
	var lost []string
	for i := range 5 {
		lost = append(lost, msg(fmt.Sprintf("$lost%d", i), int64(3000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"beta lost %d"}`, i)))
	}
	retry(t, func() error { _, err := st.FeedHead(ctx); return err }) // its pool's sessions were cut
	add(t, st, lost...)
	catchUp(t, ix)
	if got := ids(search(t, ix, "beta", "newest", 20, "")); len(got) != 5 {
		t.Fatalf("before the restore, beta finds %v", got)
	}
	before, err := ix.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}

	pgtest.Restore(t, dsn, backup)
	retry(t, func() error { _, err := st.FeedHead(ctx); return err })
	var want []string
	for i := range 12 {
		id := fmt.Sprintf("$new%d", i)
		want = append(want, id)
		add(t, st, msg(id, int64(4000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"gamma after the restore %d"}`, i)))
	}
	if head, err := st.FeedHead(ctx); err != nil || head <= before {
		t.Fatalf("the test wants the feed's head (%d, %v) past the index's checkpoint %d", head, err, before)
	}
	catchUp(t, ix)
	catchUp(t, ix) // what came during the rebuild's swap, if anything
	slices.Sort(want)
	if got := ids(search(t, ix, "gamma", "newest", 20, "")); !slices.Equal(got, want) {
		t.Errorf("after the restore, gamma finds %v; want %v", got, want)
	}
	if got := ids(search(t, ix, "beta", "newest", 20, "")); len(got) != 0 {
		t.Errorf("the messages the restore lost are found: %v", got)
	}
	if got := ids(search(t, ix, "alpha", "newest", 20, "")); !slices.Equal(got, []string{"$kept"}) {
		t.Errorf("alpha finds %v", got)
	}
	head, err := st.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := ix.Checkpoint(); err != nil || cp != head {
		t.Errorf("after the rebuild the index reports position %d (err %v); the feed's head is %d", cp, err, head)
	}
}

// retry runs fn until it succeeds, for at most 10 s.
func retry(t *testing.T, fn func() error) {
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
