package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Rooms imported one after another over the same years (the bench's
// Markdown replay, an archive that joins old rooms): history arrives out of
// time order, and every pass after the first goes to periods already
// closed. A 1M replay left one period with 498k of 752k documents.
const (
	splitPeriodDocs = 20
	splitPasses     = 4
	splitPerPass    = 100
	splitDay        = 24 * 60 * 60 * 1000
	splitBase       = int64(1_700_000_000_000)
)

// importPasses adds splitPasses rooms' worth of history over the same
// days, one pass after another, catching up the index after each when ix
// is set (as a running archive-web does), and returns every message's ID.
func importPasses(t *testing.T, st *store.Store, ixs ...*indexer.Indexer) []string {
	t.Helper()
	add(t, st, lines()...)
	var all []string
	for k := range splitPasses {
		// Shifted by k ms: the passes interleave in time.
		add(t, st, zebras(k*splitPerPass, seq(splitPerPass, splitBase+int64(k), splitDay/5)...)...)
		for i := range splitPerPass {
			all = append(all, fmt.Sprintf("$z%03d", k*splitPerPass+i))
		}
		for _, ix := range ixs {
			catchUp(t, ix)
		}
	}
	return all
}

// checkPeriodsBounded fails if a period holds more than a full period and
// one step (the step is written before the period is found full).
func checkPeriodsBounded(t *testing.T, ix *indexer.Indexer, when string) {
	t.Helper()
	limit := uint64(indexer.FullPeriodDocs(splitPeriodDocs) + 10) // openPeriods' BatchSize
	counts := ix.PeriodDocCounts()
	for _, n := range counts {
		if n > limit {
			t.Errorf("%s: documents per period %v; want none over %d", when, counts, limit)
			return
		}
	}
}

// sameAsOneIndex compares time-ordered pages (exactly) and relevance
// pages (the same messages, none repeated) with a single-period index of
// the same store.
func sameAsOneIndex(t *testing.T, ix, one *indexer.Indexer, when string) {
	t.Helper()
	// Pages of one for the rare words, cursors between periods for the
	// common one.
	for _, c := range []struct {
		q     string
		sizes []int
	}{{"zebra", []int{13, 100}}, {"number150", []int{1, 7}}, {"number7", []int{1, 4}}, {"okapi", []int{1, 3}}, {"zebra -okapi", []int{50}}} {
		q := c.q
		for _, size := range c.sizes {
			for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
				got, want := allPages(t, ix, q, sort, size), allPages(t, one, q, sort, size)
				if !slices.Equal(got, want) {
					t.Errorf("%s: %q %s in pages of %d:\n got %v\nwant %v", when, q, sort, size, got, want)
				}
			}
			got, want := allPages(t, ix, q, indexer.SortRelevance, size), allPages(t, one, q, indexer.SortRelevance, size)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %q by relevance in pages of %d: %d messages, one index %d", when, q, size, len(got), len(want))
			}
		}
	}
	got, _ := ix.DocCount()
	want, _ := one.DocCount()
	if got != want {
		t.Errorf("%s: %d documents, one index %d (a message in two periods?)", when, got, want)
	}
}

// A catch-up through history imported room after room leaves no period
// far past PeriodDocs, whether it runs once over the whole feed (a
// reindex) or after each import; searches page as over one index; an edit
// or a redaction of a message indexed in a period before it filled, made
// after, leaves one document; and the periods reopen as they were.
func TestOutOfOrderHistoryKeepsPeriodsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		dir := t.TempDir()
		following := openPeriods(t, st, t.TempDir(), splitPeriodDocs)
		all := importPasses(t, st, following)
		ix := openPeriods(t, st, dir, splitPeriodDocs)
		catchUp(t, ix)
		one := openPeriods(t, st, t.TempDir(), 1<<30)
		catchUp(t, one)
		if one.Periods() != 1 {
			t.Fatalf("the reference index has %d periods", one.Periods())
		}
		checkPeriodsBounded(t, ix, "one catch-up")
		checkPeriodsBounded(t, following, "a catch-up after each import")
		sameAsOneIndex(t, ix, one, "one catch-up")
		sameAsOneIndex(t, following, one, "a catch-up after each import")

		// Edit the first pass's messages (indexed before their periods
		// filled) and redact one of each pass.
		var changes []string
		for i, z := range all[:splitPerPass] {
			word := "edited"
			if i%10 == 0 {
				word = "okapi"
			}
			changes = append(changes, msg("$edit"+z[1:], splitBase+400*splitDay, `{"msgtype":"m.text","body":"* zebra `+word+`","m.new_content":{"msgtype":"m.text","body":"zebra `+word+`"},"m.relates_to":{"rel_type":"m.replace","event_id":"`+z+`"}}`))
		}
		for k := range splitPasses {
			z := all[k*splitPerPass+50]
			changes = append(changes, `{"event_id":"$red`+z[1:]+`","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":`+fmt.Sprint(splitBase+400*splitDay)+`,"redacts":"`+z+`","content":{}}`)
		}
		add(t, st, changes...)
		for _, x := range []*indexer.Indexer{ix, following, one} {
			catchUp(t, x)
		}
		if n, _ := one.DocCount(); n != uint64(len(all)-splitPasses) {
			t.Fatalf("the reference index holds %d documents, want %d", n, len(all)-splitPasses)
		}
		sameAsOneIndex(t, ix, one, "after edits and redactions")
		sameAsOneIndex(t, following, one, "after edits and redactions, following")
		// Every tenth message of the first pass, but the redacted $z050.
		if got := allPages(t, ix, "okapi", indexer.SortNewest, 100); len(got) != splitPerPass/10-1 {
			t.Errorf("the edits' word is in %d messages, want %d", len(got), splitPerPass/10-1)
		}
		checkPeriodsBounded(t, ix, "after edits")

		ix.Close()
		ix = openPeriods(t, st, dir, splitPeriodDocs)
		sameAsOneIndex(t, ix, one, "reopened")
		// The reopened index routes as before: more history of the same
		// days still leaves every period bounded.
		add(t, st, zebras(900, seq(60, splitBase+5, splitDay/5)...)...)
		catchUp(t, ix)
		catchUp(t, one)
		checkPeriodsBounded(t, ix, "reopened, after more history")
		sameAsOneIndex(t, ix, one, "reopened, after more history")
	})
}

// Crashes after one period's batch of a step committed, again and again
// through a catch-up of history imported room after room (steps that fill
// closed periods among them): each reopened index replays its step, and the
// end is the index a catch-up without crashes makes.
func TestCrashesWhilePeriodsFill(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	importPasses(t, st)
	dir := t.TempDir()
	crash := errors.New("crash")
	crashes := 0
	var ix *indexer.Indexer
	for round := 0; ; round++ {
		if round > 500 {
			t.Fatal("the catch-up never ended")
		}
		ix = openPeriods(t, st, dir, splitPeriodDocs)
		var commits atomic.Int32
		at := int32(2 + (round*7)%30)
		ix.SetAfterCommit(func() error {
			if commits.Add(1) == at {
				return crash
			}
			return nil
		})
		_, err := ix.CatchUp(context.Background(), nil)
		if err == nil {
			ix.SetAfterCommit(nil)
			break
		}
		if !errors.Is(err, crash) {
			t.Fatal(err)
		}
		crashes++
		ix.Close()
	}
	if crashes < 10 {
		t.Fatalf("only %d crashes", crashes)
	}
	checkPeriodsBounded(t, ix, "after the crashes")
	one := openPeriods(t, st, t.TempDir(), 1<<30)
	catchUp(t, one)
	sameAsOneIndex(t, ix, one, "after the crashes")
}

// A period asked after the page is full (periods overlap: rooms imported
// one after another over the same years), holding few hits of the query
// spread over many months, has them sorted rather than walked month by
// month: each window unions whole months of the period's postings (a rare
// term newest first at 3M messages: 1.5-3 ms walked, 0.2 sorted). Pages
// stay those of one index, in both orders.
func TestLaterPeriodsSortFewHits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const perPass, every = 60, 30 * splitDay // 60 messages a month apart: five years
		var want []string
		add(t, st, lines()...)
		for k := range 2 {
			var ls []string
			for i := range perPass {
				evID := fmt.Sprintf("$p%dm%02d", k, i)
				body := fmt.Sprintf("zebra number%d", k*perPass+i)
				if i%12 == k*6 {
					body += " okapi" // five a pass, spread over the months
					want = append(want, evID)
				}
				ls = append(ls, msg(evID, splitBase+int64(k)+int64(i)*every, `{"msgtype":"m.text","body":"`+body+`"}`))
			}
			add(t, st, ls...)
		}
		ix := openPeriods(t, st, t.TempDir(), splitPeriodDocs)
		catchUp(t, ix)
		one := openPeriods(t, st, t.TempDir(), 1<<30)
		catchUp(t, one)
		if ix.Periods() < 4 {
			t.Fatalf("%d periods; want the passes to overlap in several", ix.Periods())
		}
		// Asked one by one, not all at once for being rare.
		ix.SetAtOnceLimit(0)
		var asked []string
		ix.SetAsked(func(p string) { asked = append(asked, p) })
		before := ix.MonthWindows()
		for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
			for _, size := range []int{1, 3} {
				asked = nil
				got, ref := allPages(t, ix, "okapi", sort, size), allPages(t, one, "okapi", sort, size)
				if !slices.Equal(got, ref) || len(got) != len(want) {
					t.Errorf("okapi %s in pages of %d:\n got %v\nwant %v", sort, size, got, ref)
				}
				if pages := (len(got) + size - 1) / size; len(asked) <= pages {
					t.Errorf("okapi %s: %d pages of %d asked %d periods: none asked a second period", sort, pages, size, len(asked))
				}
			}
		}
		if n := ix.MonthWindows() - before; n != 0 {
			t.Errorf("%d month windows walked for a word with a few hits in each period; want every period's sorted", n)
		}
	})
}

// Long messages close a period before PeriodDocs does: a period is merged,
// and so mapped into archive-web, whole, and 150k long Markdown messages
// (170 MiB of index) took a reindex past 400 MiB. Their periods end at
// about PeriodBytes (estimated from the text), the same number of short
// lines keeps one period, and searches page through the periods as
// through one index. The estimate is the period's own, kept across
// restarts: one long message does not close a period of short lines, as
// an estimate from the step's documents alone did.
func TestLongMessagesMakeSmallerPeriods(t *testing.T) {
	const n = 60
	long := strings.Repeat(" okapi giraffe", 150) // 2,100 bytes
	longs := func(from, n int) []string {
		var ls []string
		for i := range n {
			ls = append(ls, msg(fmt.Sprintf("$z%03d", from+i), splitBase+int64(from+i)*splitDay/3, fmt.Sprintf(`{"msgtype":"m.text","body":"zebra number%d%s"}`, from+i, long)))
		}
		return ls
	}
	open := func(st *store.Store, dir string) *indexer.Indexer {
		ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{BatchSize: 10, PeriodDocs: 1 << 30, PeriodBytes: 40_000}, storetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		catchUp(t, ix)
		return ix
	}
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(longs(0, n)...)...)
	// 256 + 2 × 2,114 bytes a message: 9 messages a period, full at 14.
	ix := open(st, t.TempDir())
	one, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: 10}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	catchUp(t, one)
	if one.Periods() != 1 {
		t.Fatalf("the reference index has %d periods", one.Periods())
	}
	counts := ix.PeriodDocCounts()
	if len(counts) < 4 {
		t.Fatalf("%d messages of 2 KB in periods of 40 KB: documents per period %v", n, counts)
	}
	for _, c := range counts {
		if c > 14+10 {
			t.Errorf("documents per period %v; want none over a full period and a step", counts)
		}
	}
	sameAsOneIndex(t, ix, one, "long messages")

	// Short lines (256 + 2 × 14 bytes each), under the same bound: 100
	// keep one period, and so does one long message more.
	st = storetest.Open(t, "sqlite")
	add(t, st, lines(zebras(0, seq(100, splitBase, splitDay/3)...)...)...)
	dir := t.TempDir()
	short := open(st, dir)
	add(t, st, longs(100, 1)...)
	catchUp(t, short)
	if short.Periods() != 1 {
		t.Errorf("100 short lines and a long message in periods of 40 KB: documents per period %v", short.PeriodDocCounts())
	}
	// Reopened, the period weighs what it held: 40 lines more pass the
	// bound, as they would have without the restart.
	short.Close()
	short = open(st, dir)
	add(t, st, zebras(200, seq(40, splitBase+200*splitDay, splitDay/3)...)...)
	catchUp(t, short)
	if short.Periods() != 2 {
		t.Errorf("141 messages weighing some 44 KB, across a restart, in periods of 40 KB: documents per period %v", short.PeriodDocCounts())
	}
}
