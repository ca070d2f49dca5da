package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// openPeriods opens an index whose periods close at a few documents.
func openPeriods(t *testing.T, st *store.Store, dir string, periodDocs int) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{BatchSize: 10, PeriodDocs: periodDocs}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// allPages pages through a search and returns the IDs in the order given,
// failing on a repeated one.
func allPages(t *testing.T, ix *indexer.Indexer, q, sort string, size int) []string {
	t.Helper()
	var out []string
	cur := ""
	for range 200 {
		res := search(t, ix, q, sort, size, cur)
		for _, e := range res.Events {
			if slices.Contains(out, string(e.ID)) {
				t.Fatalf("%s %s: %s repeated across pages", q, sort, e.ID)
			}
			out = append(out, string(e.ID))
		}
		if cur = res.Next; cur == "" {
			return out
		}
	}
	t.Fatalf("%s %s: more than 200 pages", q, sort)
	return nil
}

// zebras writes messages $z<i> "zebra <i>" at the given times.
func zebras(from int, ts ...int64) []string {
	var out []string
	for i, at := range ts {
		out = append(out, msg(fmt.Sprintf("$z%03d", from+i), at, fmt.Sprintf(`{"msgtype":"m.text","body":"zebra number%d"}`, from+i)))
	}
	return out
}

func seq(n int, start, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// Messages on both sides of period boundaries are found in both orders,
// a page at a time (cursors cross the boundaries), with edits, a redaction
// and a late message of an old time routed to the period of its time.
func TestPeriodBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openPeriods(t, st, t.TempDir(), 8)
		const day = 24 * 60 * 60 * 1000
		base := int64(1_700_000_000_000)
		add(t, st, lines(zebras(0, seq(60, base, day/3)...)...)...)
		catchUp(t, ix)
		if n := ix.Periods(); n < 3 {
			t.Fatalf("60 messages at 8 per period made %d periods", n)
		}
		var want []string
		for i := range 60 {
			want = append(want, fmt.Sprintf("$z%03d", i))
		}
		check := func(when string) {
			t.Helper()
			for _, size := range []int{1, 7, 100} {
				if got := allPages(t, ix, "zebra", indexer.SortOldest, size); !slices.Equal(got, want) {
					t.Errorf("%s, oldest first in pages of %d:\n got %v\nwant %v", when, size, got, want)
				}
				if got := allPages(t, ix, "zebra", indexer.SortNewest, size); !slices.Equal(got, reversed(want)) {
					t.Errorf("%s, newest first in pages of %d:\n got %v", when, size, got)
				}
			}
			if n, _ := ix.DocCount(); n != uint64(len(want)) {
				t.Errorf("%s: %d documents, want %d (a document in two periods?)", when, n, len(want))
			}
		}
		check("after the build")
		// A message of an old time arriving late goes to its period.
		add(t, st, zebras(100, base+day/6)...)
		want = slices.Insert(want, 1, "$z100")
		catchUp(t, ix)
		check("after a late message")
		// An edit of every message (those a period kept past its
		// successor's start too: each must stay one document) and a
		// redaction in the middle.
		changes := []string{`{"event_id":"$red","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":` + fmt.Sprint(base+100*day) + `,"redacts":"$z030","content":{}}`}
		for _, z := range want {
			word := "edited"
			if z == "$z000" {
				word = "okapi"
			}
			changes = append(changes, msg("$edit"+z[1:], base+100*day, `{"msgtype":"m.text","body":"* zebra `+word+`","m.new_content":{"msgtype":"m.text","body":"zebra `+word+`"},"m.relates_to":{"rel_type":"m.replace","event_id":"`+z+`"}}`))
		}
		add(t, st, changes...)
		want = slices.DeleteFunc(want, func(s string) bool { return s == "$z030" })
		catchUp(t, ix)
		check("after an edit and a redaction")
		if got := allPages(t, ix, "okapi", indexer.SortNewest, 5); fmt.Sprint(got) != "[$z000]" {
			t.Errorf("the edit's text: %v", got)
		}
		// Relevance asks every period.
		if got := allPages(t, ix, "zebra", indexer.SortRelevance, 13); len(got) != len(want) {
			t.Errorf("relevance found %d of %d", len(got), len(want))
		}
		// Reopened, the periods and their bounds are read back.
		ix.Close()
		ix = openPeriods(t, st, filepath.Dir(ix.Path()), 8)
		check("reopened")
	})
}

// A crash after one period's batch of a step committed and before the
// others (and the checkpoint) did: reopened, the step is replayed and the
// index is the one a fresh build makes.
func TestCrashBetweenPeriodCommits(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	dir := t.TempDir()
	ix := openPeriods(t, st, dir, 8)
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	add(t, st, lines(zebras(0, seq(40, base, day)...)...)...)
	catchUp(t, ix)
	if ix.Periods() < 3 {
		t.Fatalf("only %d periods", ix.Periods())
	}
	before, _ := ix.Checkpoint()
	// One step touching the oldest and the newest period: an edit of an
	// old message, a redaction in the newest, and new messages.
	add(t, st, append([]string{
		msg("$edit", base+50*day, `{"msgtype":"m.text","body":"* zebra okapi","m.new_content":{"msgtype":"m.text","body":"zebra okapi"},"m.relates_to":{"rel_type":"m.replace","event_id":"$z001"}}`),
		`{"event_id":"$red","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":` + fmt.Sprint(base+50*day) + `,"redacts":"$z039","content":{}}`,
	}, zebras(40, base+45*day, base+2*day+1)...)...)
	crash := errors.New("crash")
	var commits atomic.Int32 // periods commit two at a time
	ix.SetAfterCommit(func() error {
		if commits.Add(1) == 1 {
			return crash
		}
		return nil
	})
	if _, err := ix.CatchUp(context.Background(), nil); !errors.Is(err, crash) {
		t.Fatalf("CatchUp = %v, want the crash", err)
	}
	if cp, _ := ix.Checkpoint(); cp != before {
		t.Fatalf("the checkpoint moved to %d (from %d) though not every period committed", cp, before)
	}
	ix.Close()
	ix = openPeriods(t, st, dir, 8)
	if cp, _ := ix.Checkpoint(); cp != before {
		t.Fatalf("reopened at checkpoint %d, want %d", cp, before)
	}
	catchUp(t, ix)
	fresh := openPeriods(t, st, t.TempDir(), 8)
	catchUp(t, fresh)
	for _, q := range []string{"zebra", "okapi", "number1", "number39"} {
		for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
			got, want := allPages(t, ix, q, sort, 3), allPages(t, fresh, q, sort, 3)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s after the crash: %v, a fresh index: %v", q, sort, got, want)
			}
		}
	}
	got, _ := ix.DocCount()
	want, _ := fresh.DocCount()
	if got != want {
		t.Errorf("after the crash: %d documents, a fresh index: %d", got, want)
	}
}

// Times at 1970 (the room began then) and far in the
// future page in both orders across
// periods, and a far-future message cannot stop the newest period from
// being closed.
func TestFarTimesAcrossPeriods(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openPeriods(t, st, t.TempDir(), 5)
	base := int64(1_700_000_000_000)
	var ls []string
	ls = append(ls, msg("$past", 1002, `{"msgtype":"m.text","body":"zebra past"}`))
	ls = append(ls, zebras(0, seq(10, base, 1000)...)...)
	ls = append(ls, msg("$future", 1_000_000_000_000_000_000, `{"msgtype":"m.text","body":"zebra future"}`))
	ls = append(ls, zebras(10, seq(20, base+10_000, 1000)...)...)
	add(t, st, lines(ls...)...)
	catchUp(t, ix)
	if n := ix.Periods(); n < 3 {
		t.Errorf("31 messages at 5 per period, one of them far in the future, made %d periods", n)
	}
	want := []string{"$past"}
	for i := range 30 {
		want = append(want, fmt.Sprintf("$z%03d", i))
	}
	want = append(want, "$future")
	for _, size := range []int{1, 4} {
		if got := allPages(t, ix, "zebra", indexer.SortOldest, size); !slices.Equal(got, want) {
			t.Errorf("oldest first in pages of %d:\n got %v\nwant %v", size, got, want)
		}
		if got := allPages(t, ix, "zebra", indexer.SortNewest, size); !slices.Equal(got, reversed(want)) {
			t.Errorf("newest first in pages of %d:\n got %v", size, got)
		}
	}
}

// A period that closes is merged down to one segment: every segment holds
// its own dictionaries (a period of ten segments took half again the bytes
// of one, 475 against 308 per message), and each one open costs the
// process pages of its own. The newest period keeps taking batches.
func TestClosedPeriodsAreMergedToOneSegment(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openUnmerged(t, st)
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	// Ten messages a step: a period of 40 documents is written in four
	// segments or more.
	add(t, st, lines()...)
	for i := 0; i < 130; i += 10 {
		add(t, st, zebras(i, seq(10, base+int64(i)*day/3, day/3)...)...)
		catchUp(t, ix)
	}
	if ix.Periods() < 3 {
		t.Fatalf("130 messages at 40 per period made %d periods", ix.Periods())
	}
	waitOneSegmentPerClosedPeriod(t, ix)
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 130 {
		t.Errorf("after the merges, %d of 130 messages found", len(got))
	}
}

// A rare word's time-ordered search asks only the periods whose
// dictionaries hold it, all at once: asked one by one, newest first, a word
// found in a few old messages cost a search of every period (rare term
// newest first, 1M messages: p99 21 ms against 5.7 in one index).
func TestRareWordAsksOnlyItsPeriods(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openPeriods(t, st, t.TempDir(), 8)
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	ls := zebras(0, seq(40, base, day)...)
	ls = append(ls, msg("$okapi1", base+day/2, `{"msgtype":"m.text","body":"okapi one"}`),
		msg("$okapi2", base+30*day+1, `{"msgtype":"m.text","body":"okapi two"}`))
	add(t, st, lines(ls...)...)
	catchUp(t, ix)
	if ix.Periods() < 4 {
		t.Fatalf("only %d periods", ix.Periods())
	}
	var asked []string
	ix.SetAsked(func(p string) { asked = append(asked, p) })
	for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
		asked = nil
		got := allPages(t, ix, "okapi", sort, 10)
		if len(got) != 2 {
			t.Errorf("%s: found %v", sort, got)
		}
		if len(asked) != 2 {
			t.Errorf("%s: asked the periods %v, want only the two that hold the word", sort, asked)
		}
	}
}

// A period's months are read once and kept until a batch is written to it:
// a message in a month the period did not hold is found by the next walk,
// in both orders, and a month emptied by a redaction costs nothing.
func TestWalkSeesNewMonths(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openPeriods(t, st, t.TempDir(), 1000)
		ix.SetSortAllLimit(0) // walk every search month by month
		const day = 24 * 60 * 60 * 1000
		base := int64(1_700_000_000_000)
		add(t, st, lines(zebras(0, seq(10, base, day)...)...)...)
		catchUp(t, ix)
		want := []string{}
		for i := range 10 {
			want = append(want, fmt.Sprintf("$z%03d", i))
		}
		check := func(when string) {
			t.Helper()
			if got := allPages(t, ix, "zebra", indexer.SortOldest, 3); !slices.Equal(got, want) {
				t.Errorf("%s, oldest first:\n got %v\nwant %v", when, got, want)
			}
			if got := allPages(t, ix, "zebra", indexer.SortNewest, 3); !slices.Equal(got, reversed(want)) {
				t.Errorf("%s, newest first:\n got %v\nwant %v", when, got, reversed(want))
			}
		}
		check("first")
		// Two months later, and two months before: months the walk has
		// not seen.
		add(t, st, zebras(10, base+70*day, base-70*day)...)
		want = append([]string{"$z011"}, append(want, "$z010")...)
		catchUp(t, ix)
		check("after messages in new months")
		add(t, st, `{"event_id":"$red","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":`+fmt.Sprint(base+80*day)+`,"redacts":"$z010","content":{}}`)
		want = slices.DeleteFunc(want, func(s string) bool { return s == "$z010" })
		catchUp(t, ix)
		check("after the newest month's only message is redacted")
	})
}

// A rebuild merges every period of the new index once, to one segment,
// before it swaps it in: it is built under a plan that leaves segments
// alone (nothing searches it yet; Bleve's default plan rewrote every
// document three or four times, a third of a 1M reindex's CPU), and a
// closed period still takes the messages of its time that come later in
// the feed, as an imported room's history does.
func TestRebuildMergesEveryPeriodOnce(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	// Bleve's own merges leave the segments alone, as its default plan
	// leaves those of a large index (ten of a size per tier) and the
	// bulk plan a period's.
	ix := openUnmerged(t, st)
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	add(t, st, lines()...)
	add(t, st, zebras(0, seq(130, base, day/3)...)...)
	// Late history: messages of the first periods' times, in steps of
	// their own.
	for i := 0; i < 30; i += 5 {
		add(t, st, zebras(200+i, seq(5, base+int64(i)*day/7+1, day/7)...)...)
	}
	if err := ix.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if ix.Periods() < 3 {
		t.Fatalf("160 messages at 40 per period made %d periods", ix.Periods())
	}
	if segs := ix.Segments(); slices.IndexFunc(segs, func(n int) bool { return n != 1 }) >= 0 {
		t.Errorf("segments per period after a rebuild, oldest first: %v; want one in each", segs)
	}
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 160 {
		t.Errorf("after the rebuild, %d of 160 messages found", len(got))
	}
}

// A catch-up through a large backlog (archive-web's first start on an
// archive, an import while it runs) merges, after it, the closed periods
// it wrote to: rooms imported one after another take the feed through
// time once per room, so a period merged when it closed takes writes
// again; at 3M IRC messages 13 closed periods were left in 207 segments,
// whose opening kept 254 MiB of the index resident.
func TestLargeCatchUpMergesTheClosedPeriodsItWroteTo(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openUnmerged(t, st)
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	// One room's history, then another's over the same months.
	add(t, st, lines(zebras(0, seq(130, base, day/3)...)...)...)
	add(t, st, lines(zebras(200, seq(60, base+day/7, day/3)...)...)...)
	catchUp(t, ix)
	if ix.Periods() < 3 {
		t.Fatalf("190 messages at 40 per period made %d periods", ix.Periods())
	}
	waitOneSegmentPerClosedPeriod(t, ix)
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 190 {
		t.Errorf("after the catch-up, %d of 190 messages found", len(got))
	}
}

// openUnmerged opens an index of 40-document periods, written in batches
// of ten, that Bleve's own merges leave alone (WithoutBackgroundMerges).
func openUnmerged(t *testing.T, st *store.Store) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.WithoutBackgroundMerges(indexer.Options{BatchSize: 10, PeriodDocs: 40}), storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// waitOneSegmentPerClosedPeriod waits, up to 20 s, for the indexer's
// background merges to leave every closed period in one segment (or none:
// the successor of a full period may have taken nothing before the next
// period began).
func waitOneSegmentPerClosedPeriod(t *testing.T, ix *indexer.Indexer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		segs := ix.Segments()
		if slices.IndexFunc(segs[:len(segs)-1], func(n int) bool { return n > 1 }) < 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segments per period, oldest first: %v; want one in every closed period", segs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// day is a day in milliseconds, for the rebuild tests' times.
const day = 24 * 60 * 60 * 1000

// idlePeriodsArchive is the rebuild tests' archive: 130 messages, three a
// day from base, indexed by periods of 40, and the test skipped where
// /proc/self/maps cannot show what the process maps.
func idlePeriodsArchive(t *testing.T) (*store.Store, *indexer.Indexer, int64) {
	t.Helper()
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skipf("no /proc/self/maps to see what is mapped: %v", err)
	}
	st := storetest.Open(t, "sqlite")
	ix := openPeriods(t, st, t.TempDir(), 40)
	base := int64(1_700_000_000_000)
	add(t, st, lines(zebras(0, seq(130, base, day/3)...)...)...)
	return st, ix, base
}

// A rebuild closes the periods it has not written to for a few steps, so
// that their segment files leave the process (at 3M IRC messages every
// period stayed open and a reindex peaked at 411 MiB, 280 of them the
// index's files), and reopens one when a later message, edit or deletion
// of its time comes: a late message and an edit are still indexed.
func TestRebuildUnmapsIdlePeriods(t *testing.T) {
	st, ix, base := idlePeriodsArchive(t)
	// Late history of the first period's time, and an edit of its first
	// message, after steps that wrote elsewhere.
	add(t, st, zebras(200, seq(5, base+day/7, day/7)...)...)
	add(t, st, msg("$edit", base+200*day, `{"msgtype":"m.text","body":"* zebra quagga","m.new_content":{"msgtype":"m.text","body":"zebra quagga"},"m.relates_to":{"rel_type":"m.replace","event_id":"$z000"}}`))
	add(t, st, zebras(300, seq(60, base+100*day, day/3)...)...)

	next := ix.Path() + ".new"
	unmapped := map[string]bool{}
	err := ix.Rebuild(context.Background(), func(int64, int) {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Fatal(err)
		}
		dirs, _ := filepath.Glob(filepath.Join(next, "p*"))
		for _, d := range dirs[:max(len(dirs)-1, 0)] { // the newest is written to
			if !strings.Contains(string(maps), d+string(filepath.Separator)) {
				unmapped[filepath.Base(d)] = true
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Periods() < 4 {
		t.Fatalf("195 messages at 40 per period made %d periods", ix.Periods())
	}
	if len(unmapped) == 0 {
		t.Error("during the rebuild, every closed period's files stayed mapped")
	}
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 195 {
		t.Errorf("after the rebuild, %d of 195 messages found", len(got))
	}
	if got := ids(search(t, ix, "quagga", "", 10, "")); fmt.Sprint(got) != "[$z000]" {
		t.Errorf("quagga = %v: the late edit of a closed period's message was not indexed", got)
	}
	if got := ids(search(t, ix, "number203", "", 10, "")); fmt.Sprint(got) != "[$z203]" {
		t.Errorf("number203 = %v: the late message of a closed period's time was not indexed", got)
	}
}

// A parked period that cannot be reopened when a late message of its time
// comes fails the rebuild with an error naming it; the half-built index
// is removed and the live one keeps serving.
func TestRebuildFailsOnAPeriodItCannotReopen(t *testing.T) {
	st, ix, base := idlePeriodsArchive(t)
	catchUp(t, ix)
	add(t, st, zebras(200, seq(5, base+day/7, day/7)...)...)
	next := ix.Path() + ".new"
	broken := false
	err := ix.Rebuild(context.Background(), func(int64, int) {
		maps, _ := os.ReadFile("/proc/self/maps")
		first := filepath.Join(next, "p0000")
		if !broken && !strings.Contains(string(maps), first+string(filepath.Separator)) {
			// Parked: its metadata goes, so it cannot be opened again.
			if err := os.Remove(filepath.Join(first, "index_meta.json")); err != nil {
				t.Error(err)
			}
			broken = true
		}
	})
	if !broken {
		t.Fatal("the first period was never parked")
	}
	if err == nil || !strings.Contains(err.Error(), "reopen index period p0000") {
		t.Fatalf("err = %v, want a failure to reopen p0000", err)
	}
	if _, serr := os.Stat(next); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the half-built index is still at %s (%v)", next, serr)
	}
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 130 {
		t.Errorf("the live index found %d of its 130 messages after the failed rebuild", len(got))
	}
}

// Messages of equal score come newest first, whatever order the index
// holds them in (Bleve's own, for equal scores, is its segments', which a
// merge between two pages can change) and wherever a page ends in a run of
// them: a page asks a period again when the run goes on past what it
// returned.
func TestEqualScoresNewestFirst(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	// Stored (and so indexed) out of time order.
	var ls []string
	for i := range 30 {
		j := i * 7 % 30
		ls = append(ls, zebras(j, base+int64(j)*day/3)...)
	}
	add(t, st, lines(ls...)...)
	var newest []string
	for i := 29; i >= 0; i-- {
		newest = append(newest, fmt.Sprintf("$z%03d", i))
	}
	one := openPeriods(t, st, t.TempDir(), 1000)
	catchUp(t, one)
	for _, size := range []int{1, 7, 20, 100} {
		if got := allPages(t, one, "zebra", indexer.SortRelevance, size); !slices.Equal(got, newest) {
			t.Errorf("one period, pages of %d:\n got %v\nwant %v", size, got, newest)
		}
	}
	// In periods of 8 the scores differ from period to period (each has
	// its own term statistics), but every way of paging gives one order.
	ix := openPeriods(t, st, t.TempDir(), 8)
	catchUp(t, ix)
	if ix.Periods() < 3 {
		t.Fatalf("%d periods", ix.Periods())
	}
	whole := allPages(t, ix, "zebra", indexer.SortRelevance, 100)
	if len(whole) != 30 {
		t.Fatalf("%d of 30 found", len(whole))
	}
	for _, size := range []int{1, 7, 8, 13} {
		if got := allPages(t, ix, "zebra", indexer.SortRelevance, size); !slices.Equal(got, whole) {
			t.Errorf("periods of 8, pages of %d:\n got %v\nwant %v", size, got, whole)
		}
	}
}

// A time-ordered search bounds the periods' hits from their dictionaries
// (newest or oldest first) only until they are too many to ask at once:
// past that the rest are asked one by one, and reading every period's
// dictionaries cost a phrase newest first at 3M a sixth of its time. The
// pages are the same either way.
func TestPeriodBoundsStopWhenTooMany(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	const day = 24 * 60 * 60 * 1000
	base := int64(1_700_000_000_000)
	add(t, st, lines(zebras(0, seq(60, base, day/3)...)...)...)
	ix := openPeriods(t, st, t.TempDir(), 8)
	catchUp(t, ix)
	one := openPeriods(t, st, t.TempDir(), 1000)
	catchUp(t, one)
	if ix.Periods() < 5 {
		t.Fatalf("%d periods", ix.Periods())
	}
	ix.SetAtOnceLimit(10) // every period holds 8 or so zebras
	for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
		before := ix.PeriodBounds()
		res := search(t, ix, "zebra", sort, 5, "")
		if n := ix.PeriodBounds() - before; n < 1 || n > 2 {
			t.Errorf("zebra %s: %d of %d periods bounded, want the one or two whose sum passes 10", sort, n, ix.Periods())
		}
		if len(res.Events) != 5 {
			t.Errorf("zebra %s: %d results", sort, len(res.Events))
		}
		if got, want := allPages(t, ix, "zebra", sort, 7), allPages(t, one, "zebra", sort, 7); !slices.Equal(got, want) {
			t.Errorf("zebra %s in pages of 7:\n got %v\nwant %v", sort, got, want)
		}
		// A rare word is still bounded in every period, and asked at once.
		before = ix.PeriodBounds()
		search(t, ix, "number7", sort, 5, "")
		if n := ix.PeriodBounds() - before; n != int64(ix.Periods()) {
			t.Errorf("number7 %s: %d periods bounded, want all %d", sort, n, ix.Periods())
		}
	}
}
