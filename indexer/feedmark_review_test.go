package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// helper-87's review of the rewind (feedmark.go): each test failed on
// 9784314.

// The feed goes back while a step is written: after the step read its
// changes (and the next step's prefetch read none after them), before the
// step's anchor is read. The archiver has meanwhile written past the
// step's last position: the anchor read then was a change of the new feed,
// the next step checked only it (newer than its start), and the new
// changes at positions up to the checkpoint were skipped for good. The
// anchor is now read in one statement with the step's last change and the
// old anchor, and the step is not written. The "restore" is the feed's
// tail replaced in SQL, with a lock on events holding the step's write
// (reevaluateUser) in the window.
func TestFeedWentBackDuringAStepsWrite(t *testing.T) { feedBackDuringWrite(t, true) }

// The same once the step is written: rewound.
func TestFeedWentBackAfterAStepsWrite(t *testing.T) { feedBackDuringWrite(t, false) }

func feedBackDuringWrite(t *testing.T, during bool) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 500,
		msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept"}`),
		`{"event_id":"$bob","room_id":"!r:x","type":"m.room.message","sender":"@bob:x","origin_server_ts":2500,"content":{"msgtype":"m.text","body":"zebraword from bob"}}`)
	x, _ := ix.Checkpoint()
	want, conn := gammaUnfed(t, st, dsn, x)
	if _, err := st.OptOut(ctx, "@bob:x", "operator"); err != nil { // the step: one change, L
		t.Fatal(err)
	}
	l, _ := st.FeedHead(ctx)
	t.Logf("checkpoint %d, opt-out at %d", x, l)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if during {
		go func() { _, err := ix.CatchUp(ctx, nil); done <- err }()
	} else {
		tx.Rollback(ctx)
		catchUp(t, ix)
		done <- nil
		if tx, err = conn.Begin(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the step read, the prefetch read nothing, the write waits on events
	// The "restore", past the step's last position (the archiver
	// writes on).
	if err := replaceFeedTail(ctx, tx, x, max(l+1, x+6)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cp0, _ := ix.Checkpoint()
	catchUp(t, ix)
	catchUp(t, ix)
	cp, _ := ix.Checkpoint()
	head, _ := st.FeedHead(ctx)
	t.Logf("checkpoint after the step %d, then %d; feed head %d", cp0, cp, head)
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Errorf("after the feed went back during a step's write, gamma finds %v; want %v", got, want)
	}
}

// A lost edit and a lost thread reply of messages no rewound step named:
// the rewind read again the reply's ID (gone: deleted) but not its root,
// whose document kept the thread flag, as a rebuild would not. A step's
// journal now holds the messages it wrote for its events (a thread's root,
// an edit's original).
func TestRewindReadsWhatAStepWroteAgain(t *testing.T) {
	st, ix, dsn := pgIndexed(t, 500,
		msg("$orig", 2000, `{"msgtype":"m.text","body":"kernel original words"}`),
		msg("$root", 2001, `{"msgtype":"m.text","body":"kernel root"}`))
	backup := backUp(t, st, dsn)
	add(t, st,
		msg("$edit", 3000, `{"msgtype":"m.text","body":"* zebraedit","m.new_content":{"msgtype":"m.text","body":"zebraedit"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`),
		msg("$reply", 3001, `{"msgtype":"m.text","body":"lost reply","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`))
	catchUp(t, ix)
	if got := ids(search(t, ix, "zebraedit", "newest", 20, "")); !slices.Equal(got, []string{"$orig"}) {
		t.Fatalf("before the restore zebraedit finds %v", got)
	}
	before, _ := ix.Checkpoint()
	restoreTo(t, st, dsn, backup)
	want := addNew(t, st, before)
	catchUp(t, ix)
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Fatalf("gamma finds %v; want %v (no rewind?)", got, want)
	}
	if got := ids(search(t, ix, "zebraedit", "newest", 20, "")); len(got) != 0 {
		t.Errorf("after the rewind, the lost edit's text still finds %v", got)
	}
	if got := ids(search(t, ix, "kernel is:thread", "newest", 20, "")); len(got) != 0 {
		t.Errorf("after the rewind, is:thread finds %v (the reply was lost)", got)
	}
	if got := ids(search(t, ix, "original", "newest", 20, "")); !slices.Equal(got, []string{"$orig"}) {
		t.Errorf("after the rewind, the original's own text finds %v", got)
	}
}

// A step whose batch committed but whose manifest write failed (or a
// crash in between) was not in the journal and left the previous anchor:
// a restore to a head between that anchor and the step's opt-out was not
// noticed, and Bob's documents, which the step deleted, never came back.
// The step's anchor is now on disk before its documents, and the step in
// the journal once they are written.
func TestFailedManifestWriteThenRestoreKeepsBobSearchable(t *testing.T) {
	restoreAfterFailedOptOutStep(t, func(ix *indexer.Indexer) {
		tmp := filepath.Join(ix.Path(), "mxarchive.json.tmp")
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.CatchUp(context.Background(), nil); err == nil {
			t.Fatal("the test wants the manifest's write to fail")
		}
		os.Remove(tmp)
	})
}

// restoreAfterFailedOptOutStep indexes Bob's message, backs the database
// up, opts Bob out and has fail make the catch-up of that step fail after
// its documents may be written; then restores the backup (where Bob has
// not opted out), stores more than the restore lost, and checks that the
// index finds Bob's message and the new ones.
func restoreAfterFailedOptOutStep(t *testing.T, fail func(ix *indexer.Indexer)) {
	t.Helper()
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 500, msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept"}`))
	add(t, st, `{"event_id":"$bob","room_id":"!r:x","type":"m.room.message","sender":"@bob:x","origin_server_ts":3000,"content":{"msgtype":"m.text","body":"zebraword from bob"}}`)
	catchUp(t, ix)
	a, _ := ix.Checkpoint()
	backup := backUp(t, st, dsn) // head a
	if _, err := st.OptOut(ctx, "@bob:x", "operator"); err != nil {
		t.Fatal(err)
	}
	fail(ix)
	if cp, _ := ix.Checkpoint(); cp != a {
		t.Fatalf("checkpoint %d, want %d", cp, a)
	}
	restoreTo(t, st, dsn, backup)
	want := addNew(t, st, a+1)
	catchUp(t, ix)
	if e, err := st.EventByID(ctx, "$bob"); err != nil || e.OptedOut {
		t.Fatalf("the restored archive hides Bob's message? %v", err)
	}
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Errorf("gamma finds %v; want %v", got, want)
	}
	if got := ids(search(t, ix, "zebraword", "newest", 20, "")); !slices.Equal(got, []string{"$bob"}) {
		t.Errorf("Bob's message, shown by the restored archive, is not searchable: zebraword finds %v", got)
	}
}

// peakHeap samples the heap in use while fn runs.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func bigMessages(from, n int) []string {
	body := strings.Repeat("lorem ipsum dolor sit amet consectetur ", 25) // ~1 KB
	var ls []string
	for i := from; i < from+n; i++ {
		ls = append(ls, msg(fmt.Sprintf("$b%d", i), int64(100000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"%s %d"}`, body, i)))
	}
	return ls
}

// After a backlog catch-up (a restart, an import) every step's anchor is
// the feed's head read after it: the same change for all. A failover that
// lost the last commit left no journal step whose anchor the feed held,
// and the index was rewound to before the backlog or rebuilt. It now goes
// back to the newest step whose own last change the feed holds, and reads
// again the steps whose anchors are gone.
func TestRewindAfterABacklog(t *testing.T) {
	st, ix, dsn := pgIndexed(t, 500)
	var ls []string
	for i := range 1500 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	add(t, st, ls...) // a backlog: archive-web was down, or an import ran
	if lag := loseLastCommit(t, st, ix, dsn); lag > 10 {
		t.Errorf("after a failover that lost one change, following a backlog catch-up, the index reported a lag of up to %d changes", lag)
	}
}

// A rewind wrote the journal's steps after the one it rewound to (up to
// 64 steps, 100,000 IDs) as one batch, where a catch-up's steps are cut to
// catchUpText each: 1.2 GiB of heap after a failover that lost one change.
// It now writes a step's a batch.
func TestRewindIsBoundedLikeItsSteps(t *testing.T) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 2000)
	add(t, st, bigMessages(0, 2000)...)
	catchUp(t, ix)
	add(t, st, bigMessages(2000, 10000)...)
	backup := backUp(t, st, dsn)
	add(t, st, msg("$lost", 9000000, `{"msgtype":"m.text","body":"lost"}`))
	catchPeak := peakHeap(func() { catchUp(t, ix) })
	restoreTo(t, st, dsn, backup)
	add(t, st, msg("$new", 9000001, `{"msgtype":"m.text","body":"new"}`), msg("$new2", 9000002, `{"msgtype":"m.text","body":"new2"}`))
	var rewindStart time.Time
	rewindPeak := peakHeap(func() {
		rewindStart = time.Now()
		if _, err := ix.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("peak heap: catch-up of 10k messages %d MiB; rewind after losing one change %d MiB (%v)", catchPeak>>20, rewindPeak>>20, time.Since(rewindStart))
	if rewindPeak > 2*catchPeak {
		t.Errorf("the rewind of one lost change held %d MiB, the catch-up of the whole backlog %d MiB", rewindPeak>>20, catchPeak>>20)
	}
}

// Rebuild's swap reopens the index from disk (openShards), which dropped
// the builder's journal: a failover that lost the last commit right after
// a rebuild (or a reindex at start) found no step to rewind to and rebuilt
// the whole index again. The swapped-in set takes the builder's journal.
func TestRewindAfterARebuild(t *testing.T) {
	ctx := context.Background()
	var ls []string
	for i := range 1500 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	st, ix, dsn := pgIndexed(t, 500, ls...)
	if err := ix.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if lag := loseLastCommit(t, st, ix, dsn); lag > 10 {
		t.Errorf("a failover that lost one change after a rebuild: the index reported a lag of up to %d changes (rebuilt again)", lag)
	}
}

// helper-88's review of the rewind (757aa37): each test failed on 757aa37.

// A failover that loses the one step written since Open (a journal of one
// step; before it, the manifest's anchor, which the feed holds) found no
// step to go back to and rebuilt the whole index. A step's journal now
// holds where it began.
func TestRewindOfTheFirstStepAfterOpen(t *testing.T) {
	var ls []string
	for i := range 1500 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	st, ix, dsn := pgIndexed(t, 500, ls...)
	path := ix.Path()
	ix.Close()
	ix2, err := indexer.Open(st, path, indexer.Options{BatchSize: 500}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix2.Close() })
	catchUp(t, ix2)
	if lag := loseLastCommit(t, st, ix2, dsn); lag > 10 {
		t.Errorf("after a restart, a failover that lost the one change indexed since: the index reported a lag of up to %d changes (rebuilt)", lag)
	}
}

// A step whose batch committed (a period's, or all) but whose write then
// failed (afterCommit: as a disk error in a later period's batch) had its
// anchor in the manifest but was not in the journal: a restore to before
// it was answered by a rewind that read nothing again, and Bob's
// documents, which the step deleted, never came back. A step is journaled
// before its documents are written, and read again until it is written.
func TestPartialCommitThenRestoreKeepsBobSearchable(t *testing.T) {
	restoreAfterFailedOptOutStep(t, func(ix *indexer.Indexer) {
		ix.SetAfterCommit(func() error { return errors.New("disk full in another period") })
		if _, err := ix.CatchUp(context.Background(), nil); err == nil {
			t.Fatal("the test wants the step's commit to fail")
		}
		ix.SetAfterCommit(nil)
	})
}

// The feed goes back again while a rewind writes (between its batches and
// its anchor's read). The rewind's anchor was read alone, not with the
// change at the checkpoint it rewinds to: the new feed's head was taken
// as the anchor, the checkpoint was a position the new feed gave to
// another change, and those changes were skipped for good. It is now read
// with them, and the rewind looked at anew.
func TestFeedWentBackDuringARewind(t *testing.T) {
	ctx := context.Background()
	st, ix, dsn := pgIndexed(t, 500, msg("$kept", 2000, `{"msgtype":"m.text","body":"alpha kept"}`))
	x, _ := ix.Checkpoint()
	want, conn := gammaUnfed(t, st, dsn, x)
	add(t, st, msg("$f0", 6000, `{"msgtype":"m.text","body":"filler zero"}`))
	catchUp(t, ix)
	add(t, st, msg("$f1", 6001, `{"msgtype":"m.text","body":"filler one"}`))
	catchUp(t, ix)
	p2, _ := ix.Checkpoint()
	backup := backUp(t, st, dsn)
	// The lost step edits $f0: the rewind writes $f0 again.
	add(t, st, msg("$lost", 900000, `{"msgtype":"m.text","body":"* lost","m.new_content":{"msgtype":"m.text","body":"lost"},"m.relates_to":{"rel_type":"m.replace","event_id":"$f0"}}`))
	catchUp(t, ix)
	restoreTo(t, st, dsn, backup)
	add(t, st, msg("$new", 900001, `{"msgtype":"m.text","body":"new"}`), msg("$new2", 900002, `{"msgtype":"m.text","body":"new2"}`))
	conn.Close(ctx)
	var fired atomic.Bool
	var hookErr error
	ix.SetAfterCommit(func() error {
		if fired.Swap(true) {
			return nil
		}
		cpx, _ := ix.Checkpoint()
		t.Logf("hook fires at checkpoint %d", cpx)
		// The second "restore", past the checkpoint the rewind goes
		// back to (the archiver writes on).
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			hookErr = err
			return nil
		}
		defer c.Close(ctx)
		tx, err := c.Begin(ctx)
		if err != nil {
			hookErr = err
			return nil
		}
		if hookErr = replaceFeedTail(ctx, tx, x, max(p2+2, x+6)); hookErr != nil {
			return nil
		}
		hookErr = tx.Commit(ctx)
		return nil
	})
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ix.SetAfterCommit(nil)
	cp1, _ := ix.Checkpoint()
	t.Logf("after the first catch-up: checkpoint %d", cp1)
	if hookErr != nil || !fired.Load() {
		t.Fatalf("hook: fired %v, %v", fired.Load(), hookErr)
	}
	catchUp(t, ix)
	catchUp(t, ix)
	cp, _ := ix.Checkpoint()
	head, _ := st.FeedHead(ctx)
	t.Logf("x %d, rewound to %d, checkpoint %d, head %d", x, p2, cp, head)
	if got := ids(search(t, ix, "gamma", "newest", 50, "")); !slices.Equal(got, want) {
		t.Errorf("after the feed went back during a rewind, gamma finds %v; want %v", got, want)
	}
}

// gammaUnfed stores $g0 to $g5 ("gamma N") and removes their changes from
// the feed after x, so that the index sees them only once a simulated
// restore puts changes naming them back (replaceFeedTail). It returns
// their IDs, sorted, and a connection to the database, closed when the
// test ends.
func gammaUnfed(t *testing.T, st *store.Store, dsn string, x int64) ([]string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	var want, adds []string
	for i := range 6 {
		want = append(want, fmt.Sprintf("$g%d", i))
		adds = append(adds, msg(fmt.Sprintf("$g%d", i), int64(5000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"gamma %d"}`, i)))
	}
	add(t, st, adds...)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `DELETE FROM changes WHERE pos > $1`, x); err != nil {
		t.Fatal(err)
	}
	return want, conn
}

// replaceFeedTail replaces, in tx, the feed's changes after x by six that
// name $g0 to $g5 (gammaUnfed) and others up to position upto: the new
// feed of a restore, which the archiver has written on past upto.
func replaceFeedTail(ctx context.Context, tx pgx.Tx, x, upto int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM changes WHERE pos > $1`, x); err != nil {
		return err
	}
	const insert = `INSERT INTO changes (pos, kind, room_id, event_id, at, user_id) OVERRIDING SYSTEM VALUE VALUES ($1, 'stored', '!r:x', $2, $3, '')`
	for p := x + 1; p <= upto; p++ {
		ev := "$kept"
		if p <= x+6 {
			ev = fmt.Sprintf("$g%d", p-x-1)
		}
		if _, err := tx.Exec(ctx, insert, p, ev, time.Now().UnixMilli()); err != nil {
			return err
		}
	}
	return nil
}
