package indexer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// pgIndexed opens a store on a new PostgreSQL database holding the small
// room (lines) with extra lines, and an index with batches of batchSize
// caught up with it. It returns them with the database's URL.
func pgIndexed(t *testing.T, batchSize int, extra ...string) (*store.Store, *indexer.Indexer, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	add(t, st, lines(extra...)...)
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: batchSize}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	catchUp(t, ix)
	return st, ix, dsn
}

// restoreTo puts the backup in place of dsn's database and waits until
// st's pool, whose sessions the restore cut, answers again.
func restoreTo(t *testing.T, st *store.Store, dsn, backup string) {
	t.Helper()
	pgtest.Restore(t, dsn, backup)
	pgtest.Retry(t, func() error { _, err := st.FeedHead(context.Background()); return err })
}

// backUp copies dsn's database (pgtest.Backup) and waits until st's pool
// answers again.
func backUp(t *testing.T, st *store.Store, dsn string) string {
	t.Helper()
	b := pgtest.Backup(t, dsn)
	pgtest.Retry(t, func() error { _, err := st.FeedHead(context.Background()); return err })
	return b
}

// addNew stores $new0… ("gamma after the restore N") until the feed's
// head is past pos, and returns their IDs, sorted.
func addNew(t *testing.T, st *store.Store, pos int64) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		id := fmt.Sprintf("$new%d", i)
		out = append(out, id)
		add(t, st, msg(id, int64(40000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"gamma after the restore %d"}`, i)))
		if head, err := st.FeedHead(context.Background()); err != nil || head > pos {
			break
		}
	}
	slices.Sort(out)
	return out
}

// A PostgreSQL database restored from a backup (or failed over to a
// replica that lacked the last commits) under a running archive-web: the
// store's pool reconnects to it, the archiver stores more changes than the
// restore lost, and the feed's positions up to the index's checkpoint now
// name other changes. The index, which went on from its checkpoint,
// never indexed the messages at the positions it had passed; now its
// next step finds the feed without the change it read last (feedmark.go)
// and rewinds to the step the feed agrees with.
func TestFeedThatWentBackUnderARunningIndex(t *testing.T) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 500, msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept by the backup"}`))
	backup := backUp(t, st, dsn)
	var lost []string
	for i := range 5 {
		lost = append(lost, msg(fmt.Sprintf("$lost%d", i), int64(3000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"beta lost %d"}`, i)))
	}
	add(t, st, lost...)
	catchUp(t, ix)
	if got := ids(search(t, ix, "beta", "newest", 20, "")); len(got) != 5 {
		t.Fatalf("before the restore, beta finds %v", got)
	}
	before, err := ix.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	restoreTo(t, st, dsn, backup)
	want := addNew(t, st, before)
	catchUp(t, ix)
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
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
		t.Errorf("after the restore the index reports position %d (err %v); the feed's head is %d", cp, err, head)
	}
}

// A step reads the feed up to its last change, then the events it names as
// the store holds them then: here Bob's message after his opt-out,
// committed after the change the step ended at. A restore to a head
// between the two keeps the change at the checkpoint and loses the
// opt-out; the index, which checked the change at its checkpoint only,
// kept Bob's message out, and the restored archive showed it on every page
// but never in search. The index's anchor is the feed's last change read
// after the step (helper-86's review).
func TestFeedWentBackBehindWhatTheIndexRead(t *testing.T) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 1, msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept"}`))
	add(t, st, `{"event_id":"$bob","room_id":"!r:x","type":"m.room.message","sender":"@bob:x","origin_server_ts":3000,"content":{"msgtype":"m.text","body":"zebraword from bob"}}`)
	p, err := st.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	backup := backUp(t, st, dsn) // its head is p
	if _, err := st.OptOut(ctx, "@bob:x", "operator"); err != nil {
		t.Fatal(err)
	}
	// Steps of one change; the catch-up stops (archive-web stops) once
	// the checkpoint is p, its state read after the opt-out.
	cctx, cancel := context.WithCancel(ctx)
	ix.CatchUp(cctx, func(pos int64, _ int) {
		if pos >= p {
			cancel()
		}
	})
	cancel()
	if cp, _ := ix.Checkpoint(); cp != p {
		t.Fatalf("the test wants the checkpoint at %d, not %d", p, cp)
	}
	if got := ids(search(t, ix, "zebraword", "newest", 20, "")); len(got) != 0 {
		t.Fatalf("the test wants Bob's message left out after his opt-out: %v", got)
	}
	restoreTo(t, st, dsn, backup)
	want := addNew(t, st, p+1)
	catchUp(t, ix)
	if e, err := st.EventByID(ctx, "$bob"); err != nil || e.OptedOut {
		t.Fatalf("the restored archive hides Bob's message? %v %v", e.OptedOut, err)
	}
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Errorf("gamma finds %v; want %v", got, want)
	}
	if got := ids(search(t, ix, "zebraword", "newest", 20, "")); !slices.Equal(got, []string{"$bob"}) {
		t.Errorf("Bob's message, shown by the restored archive (which holds no opt-out), is not searchable: zebraword finds %v", got)
	}
}

// A step whose manifest could not be written (a full disk) leaves the
// index at its previous checkpoint, and must leave it with its previous
// anchor: with the step's own, the next step checked nothing it could
// find, and a restore the feed had passed again was not noticed
// (helper-86's review).
func TestFailedManifestWriteKeepsTheAnchor(t *testing.T) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 500, msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept"}`))
	backup := backUp(t, st, dsn)
	add(t, st, msg("$lost", 3000, `{"msgtype":"m.text","body":"beta lost"}`))
	catchUp(t, ix)
	a, err := ix.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	add(t, st, msg("$lost2", 3001, `{"msgtype":"m.text","body":"beta lost two"}`))
	tmp := filepath.Join(ix.Path(), "mxarchive.json.tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil { // the manifest's write fails
		t.Fatal(err)
	}
	if _, err := ix.CatchUp(ctx, nil); err == nil {
		t.Fatal("the test wants the manifest's write to fail")
	}
	os.Remove(tmp)
	if cp, _ := ix.Checkpoint(); cp != a {
		t.Fatalf("after the failed write the checkpoint is %d, not %d", cp, a)
	}
	restoreTo(t, st, dsn, backup)
	want := addNew(t, st, a+1)
	catchUp(t, ix)
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Errorf("after a failed manifest write and a restore, gamma finds %v; want %v", got, want)
	}
}

// A failover that lost one commit, as one to an asynchronous replica
// does, is rewound, not rebuilt: a rebuild reports its own position from
// 0, and every replica's /readyz (ready up to web.ready_index_lag, 1000
// changes) said 503 for the rebuild's length, pages included
// (helper-86's review).
func TestLossyFailoverRewindsTheIndex(t *testing.T) {
	var ls []string
	for i := range 1500 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	st, ix, dsn := pgIndexed(t, 500, ls...)
	if lag := loseLastCommit(t, st, ix, dsn); lag > 10 {
		t.Errorf("after a failover that lost one change, the index reported a lag of up to %d changes", lag)
	}
	for _, n := range []string{"0", "1499"} {
		if got := ids(search(t, ix, n, "newest", 20, "")); !slices.Equal(got, []string{"$m" + n}) {
			t.Errorf("%s finds %v", n, got)
		}
	}
}

// loseLastCommit stores $lost and catches ix up with it, then fails over
// to a copy of the database taken before it (pgtest.Backup and Restore),
// which then stores $new and $new2. It returns the largest lag (the
// feed's head less the index's reported position) of the catch-up that
// follows.
func loseLastCommit(t *testing.T, st *store.Store, ix *indexer.Indexer, dsn string) int64 {
	t.Helper()
	ctx := context.Background()
	backup := backUp(t, st, dsn)
	add(t, st, msg("$lost", 900000, `{"msgtype":"m.text","body":"lost"}`)) // the commit the replica lacked
	catchUp(t, ix)
	restoreTo(t, st, dsn, backup)
	add(t, st, msg("$new", 900001, `{"msgtype":"m.text","body":"new"}`), msg("$new2", 900002, `{"msgtype":"m.text","body":"new2"}`))
	maxLag := int64(0)
	lag := func() {
		head, _ := st.FeedHead(ctx)
		cp, _ := ix.Checkpoint()
		maxLag = max(maxLag, head-cp)
	}
	if _, err := ix.CatchUp(ctx, func(int64, int) { lag() }); err != nil {
		t.Fatal(err)
	}
	lag()
	if got := ids(search(t, ix, "new", "newest", 20, "")); !slices.Equal(got, []string{"$new"}) {
		t.Errorf("after the failover, new finds %v", got)
	}
	return maxLag
}
