package indexer_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// corpusStore imports n events replayed from the real IRC corpus (or its
// bundled sample, corpus.Dir).
func corpusStore(t *testing.T, dialect string, n int) *store.Store {
	t.Helper()
	logs := indexer.CorpusLogs(t)
	path := filepath.Join(t.TempDir(), "corpus.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if _, err := corpus.Generate(w, logs, n); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()
	st := storetest.Open(t, dialect)
	if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return st
}

func openIndex(t *testing.T, st *store.Store, dir string) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{BatchSize: 500}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func catchUp(t *testing.T, ix *indexer.Indexer) {
	t.Helper()
	if _, err := ix.CatchUp(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func search(t *testing.T, ix *indexer.Indexer, q, sort string, size int, cursor string) indexer.Result {
	t.Helper()
	pq, err := indexer.ParseQuery(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	res, err := ix.Search(context.Background(), indexer.Request{Query: pq, Sort: sort, Size: size, Cursor: cursor})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return res
}

func body(e store.Event) string { return strings.ToLower(event.StringField(e.Content, "body")) }

func TestSearchOnTheCorpus(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := corpusStore(t, dialect, 6000)
			ix := openIndex(t, st, t.TempDir())
			catchUp(t, ix)
			if n, _ := ix.DocCount(); n < 5000 {
				t.Fatalf("indexed %d messages", n)
			}
			ubuntu := search(t, ix, "ubuntu", "", 50, "")
			if len(ubuntu.Events) == 0 || ubuntu.Total < 50 {
				t.Fatalf("ubuntu: %d results of %d", len(ubuntu.Events), ubuntu.Total)
			}
			for _, e := range ubuntu.Events {
				if !strings.Contains(body(e), "ubuntu") {
					t.Errorf("result without the word: %q", body(e))
				}
			}
			// Phrases match words in order; -word excludes.
			phrase := search(t, ix, `"sudo apt-get"`, "", 50, "")
			if len(phrase.Events) < 5 {
				t.Errorf("the phrase found %d messages in a corpus full of it", len(phrase.Events))
			}
			for _, e := range phrase.Events {
				if !strings.Contains(body(e), "sudo apt-get") {
					t.Errorf("phrase result %q", body(e))
				}
			}
			for _, e := range search(t, ix, "ubuntu -kubuntu", "", 50, "").Events {
				if strings.Contains(body(e), "kubuntu") {
					t.Errorf("excluded word in %q", body(e))
				}
			}
			// Filters: sender and room, from the first result.
			first := ubuntu.Events[0]
			for _, e := range search(t, ix, fmt.Sprintf("from:%s", first.Sender), "", 50, "").Events {
				if e.Sender != first.Sender {
					t.Errorf("from: filter returned %s", e.Sender)
				}
			}
			for _, e := range search(t, ix, fmt.Sprintf("ubuntu in:%s", first.RoomID), "", 50, "").Events {
				if e.RoomID != first.RoomID {
					t.Errorf("in: filter returned %s", e.RoomID)
				}
			}
			// Newest and oldest first, paged by cursor without gaps or repeats.
			for _, order := range []string{indexer.SortNewest, indexer.SortOldest} {
				var all []store.Event
				cur := ""
				for page := 0; page < 4; page++ {
					res := search(t, ix, "ubuntu", order, 20, cur)
					all = append(all, res.Events...)
					if res.Next == "" {
						break
					}
					cur = res.Next
				}
				seen := map[string]bool{}
				for i, e := range all {
					if seen[string(e.ID)] {
						t.Fatalf("%s: %s repeated across pages", order, e.ID)
					}
					seen[string(e.ID)] = true
					if i > 0 && ((order == indexer.SortNewest && e.OriginTS > all[i-1].OriginTS) || (order == indexer.SortOldest && e.OriginTS < all[i-1].OriginTS)) {
						t.Fatalf("%s: out of order at %d", order, i)
					}
				}
				if len(all) < 60 {
					t.Errorf("%s: only %d results over 4 pages", order, len(all))
				}
			}
			// Dates bound results.
			mid := ubuntu.Events[len(ubuntu.Events)/2].OriginTS
			day := timeDay(mid)
			for _, e := range search(t, ix, "ubuntu before:"+day, "", 50, "").Events {
				if timeDay(e.OriginTS) >= day {
					t.Errorf("before:%s returned a message of %s", day, timeDay(e.OriginTS))
				}
			}
			// A filter alone lists messages.
			if res := search(t, ix, "has:link", "newest", 10, ""); len(res.Events) == 0 {
				t.Error("has:link found nothing in a corpus full of URLs")
			} else if !strings.Contains(body(res.Events[0]), "http") {
				t.Errorf("has:link result without a link: %q", body(res.Events[0]))
			}
		})
	}
}

// A small room the tests change step by step.
func lines(extra ...string) []string {
	return append([]string{
		`{"event_id":"$c","room_id":"!r:x","type":"m.room.create","sender":"@a:x","origin_server_ts":1000,"state_key":"","content":{"room_version":"10"}}`,
		`{"event_id":"$hv","room_id":"!r:x","type":"m.room.history_visibility","sender":"@a:x","origin_server_ts":1001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
	}, extra...)
}

func msg(evID string, ts int64, content string) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!r:x","type":"m.room.message","sender":"@a:x","origin_server_ts":%d,"content":%s}`, evID, ts, content)
}

func add(t *testing.T, st *store.Store, ls ...string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "e.ndjson")
	os.WriteFile(p, []byte(strings.Join(ls, "\n")), 0o600)
	if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), p, ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

// paged is the IDs of the results of q, page after page (of size), in the
// order found, up to pages pages.
func paged(t *testing.T, ix *indexer.Indexer, q, sort string, size, pages int) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range pages {
		res := search(t, ix, q, sort, size, cursor)
		for _, e := range res.Events {
			out = append(out, string(e.ID))
		}
		if cursor = res.Next; cursor == "" {
			break
		}
	}
	return out
}

func ids(res indexer.Result) []string {
	var out []string
	for _, e := range res.Events {
		out = append(out, string(e.ID))
	}
	slices.Sort(out)
	return out
}

func TestEditsRedactionsAndTheStoreAsTruth(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	add(t, st, lines(
		msg("$m", 2000, `{"msgtype":"m.text","body":"the alpha release"}`),
		msg("$reply", 3000, `{"msgtype":"m.text","body":"> <@a:x> the alpha release\n\nsounds good","m.relates_to":{"m.in_reply_to":{"event_id":"$m"}}}`),
	)...)
	catchUp(t, ix)
	if got := ids(search(t, ix, "alpha", "", 10, "")); fmt.Sprint(got) != "[$m]" {
		t.Errorf("alpha = %v: the reply's fallback quote must not be indexed", got)
	}
	add(t, st, msg("$e", 4000, `{"msgtype":"m.text","body":"* the beta release","m.new_content":{"msgtype":"m.text","body":"the beta release"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
	catchUp(t, ix)
	if len(search(t, ix, "alpha", "", 10, "").Events) != 0 || fmt.Sprint(ids(search(t, ix, "beta", "", 10, ""))) != "[$m]" {
		t.Error("the edit did not replace the indexed text")
	}
	// Redacted in the store, index not caught up yet: never shown.
	add(t, st, `{"event_id":"$red","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":5000,"redacts":"$m","content":{}}`)
	if got := search(t, ix, "beta", "", 10, ""); len(got.Events) != 0 {
		t.Errorf("a redacted message was returned before the index caught up: %v", ids(got))
	}
	before, _ := ix.DocCount()
	catchUp(t, ix)
	after, _ := ix.DocCount()
	if after != before-1 {
		t.Errorf("the redaction did not remove the document: %d → %d", before, after)
	}
	// The room stops being world-readable: hidden, so nothing of it is found.
	add(t, st, `{"event_id":"$hv2","room_id":"!r:x","type":"m.room.history_visibility","sender":"@a:x","origin_server_ts":6000,"state_key":"","content":{"history_visibility":"shared"}}`)
	if got := search(t, ix, "sounds", "", 10, ""); len(got.Events) != 0 {
		t.Error("a message of a hidden room was returned")
	}
	catchUp(t, ix)
	if n, _ := ix.DocCount(); n != 0 {
		t.Errorf("%d documents left of a hidden room", n)
	}
}

// Indexing stopped between batches (a crash; each batch with its checkpoint
// is atomic) resumes from the checkpoint: nothing missing, nothing extra.
func TestResumesFromTheCheckpoint(t *testing.T) {
	st := corpusStore(t, "sqlite", 3000)
	dir := t.TempDir()
	ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{BatchSize: 200}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	_, err = ix.CatchUp(ctx, func(pos int64, applied int) {
		if batches++; batches == 4 {
			cancel() // "crash" after four batches
		}
	})
	if err == nil {
		t.Fatal("catch-up was not interrupted")
	}
	mid, _ := ix.Checkpoint()
	ix.Close()
	if mid == 0 {
		t.Fatal("no checkpoint was written")
	}
	ix = openIndex(t, st, dir)
	catchUp(t, ix)
	got, _ := ix.DocCount()
	fresh := openIndex(t, st, t.TempDir())
	catchUp(t, fresh)
	want, _ := fresh.DocCount()
	if got != want || want == 0 {
		t.Errorf("after resuming: %d documents, a fresh index has %d", got, want)
	}
}

func TestBrokenIndexIsRebuilt(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"survivor"}`))...)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "index"), 0o750)
	os.WriteFile(filepath.Join(dir, "index", "index_meta.json"), []byte("{not json"), 0o600)
	ix := openIndex(t, st, dir)
	catchUp(t, ix)
	if got := ids(search(t, ix, "survivor", "", 10, "")); fmt.Sprint(got) != "[$m]" {
		t.Errorf("after rebuilding a broken index: %v", got)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "index.broken-*"))
	if len(matches) != 1 {
		t.Errorf("the broken index was not kept aside: %v", matches)
	}
	// Rebuild swaps a fresh index in and keeps working.
	if err := ix.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(search(t, ix, "survivor", "", 10, "")); fmt.Sprint(got) != "[$m]" {
		t.Errorf("after Rebuild: %v", got)
	}
}

func TestBadRequests(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	q, _ := indexer.ParseQuery("x in:#nowhere:x")
	for name, req := range map[string]indexer.Request{
		"unknown room": {Query: q},
		"bad sort":     {Query: indexer.Query{Words: []string{"x"}}, Sort: "random"},
		"bad cursor":   {Query: indexer.Query{Words: []string{"x"}}, Cursor: "%%%"},
		// A time cursor with one key instead of two made Bleve panic.
		"short time cursor":      {Query: indexer.Query{Words: []string{"x"}}, Sort: indexer.SortNewest, Cursor: base64.RawURLEncoding.EncodeToString([]byte(`{"a":["1"]}`))},
		"cursor of another sort": {Query: indexer.Query{Words: []string{"x"}}, Cursor: base64.RawURLEncoding.EncodeToString([]byte(`{"a":["0000000000001","$x"]}`))},
	} {
		if _, err := ix.Search(context.Background(), req); err == nil || !strings.Contains(err.Error(), "bad search request") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// Phrases are matched by word pairs and checked against the store: a
// message with every pair but not in one run is not a match, and the check
// reads the latest edit.
func TestPhrasesByPairs(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	add(t, st, lines(
		msg("$run", 2000, `{"msgtype":"m.text","body":"Just run sudo apt-get install vim"}`),
		msg("$pairs", 3000, `{"msgtype":"m.text","body":"sudo apt then apt-get get install"}`),
		msg("$two", 4000, `{"msgtype":"m.text","body":"install sudo first"}`),
		msg("$apart", 5000, `{"msgtype":"m.text","body":"apt is not get"}`),
		msg("$edited", 6000, `{"msgtype":"m.text","body":"nothing here"}`),
		msg("$e", 7000, `{"msgtype":"m.text","body":"* x","m.new_content":{"msgtype":"m.text","body":"SUDO apt-get   install it"},"m.relates_to":{"rel_type":"m.replace","event_id":"$edited"}}`),
	)...)
	catchUp(t, ix)
	for _, c := range []struct{ q, want string }{
		{`"sudo apt-get install"`, "[$edited $run]"},
		{`"apt get"`, "[$edited $pairs $run]"},
		{`apt-get`, "[$edited $pairs $run]"}, // a split word is a phrase
		{`"install sudo"`, "[$two]"},
		{`install -"sudo apt-get install"`, "[$pairs $two]"},
		{`install -"apt get"`, "[$two]"},
		// A message with both words apart is no match for the phrase,
		// and is not left out by excluding it.
		{`apt -"apt get"`, "[$apart]"},
		{`"apt get" -"sudo apt-get install"`, "[$pairs]"},
		{`apt -get`, "[]"},
		{`"!!!"`, "[]"},
	} {
		for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest} {
			if got := fmt.Sprint(ids(search(t, ix, c.q, sort, 10, ""))); got != c.want {
				t.Errorf("%s (%s) = %s, want %s", c.q, sort, got, c.want)
			}
		}
	}
}

// The index holds a message's word pairs as buckets of a hash
// (pairs.go), not as the pairs themselves. A message with a phrase's
// words apart and another pair of the same bucket has every term the
// phrase is searched by, and is no match all the same (the check against
// the store), nor left out by excluding the phrase.
func TestPairsInBuckets(t *testing.T) {
	// A pair of words in the bucket of "zebra grass".
	want := indexer.PairBucket("zebra", "grass")
	var x, y string
	for i := 0; x == ""; i++ {
		if a, b := fmt.Sprintf("c%d", i), fmt.Sprintf("d%d", i); indexer.PairBucket(a, b) == want {
			x, y = a, b
		}
	}
	st := storetest.Open(t, "sqlite")
	dir := t.TempDir()
	ix := openIndex(t, st, dir)
	add(t, st, lines(
		msg("$m", 2000, `{"msgtype":"m.text","body":"Zebra grass grows here"}`),
		msg("$apart", 3000, `{"msgtype":"m.text","body":"grass and zebra"}`),
		msg("$collide", 4000, fmt.Sprintf(`{"msgtype":"m.text","body":"zebra and grass, then %s %s"}`, x, y)),
	)...)
	catchUp(t, ix)
	for _, c := range []struct{ q, want string }{
		{`"zebra grass"`, "[$m]"},
		{`"zebra grass grows"`, "[$m]"},
		{fmt.Sprintf(`"%s %s"`, x, y), "[$collide]"},
		{`zebra -"zebra grass"`, "[$apart $collide]"},
		{`grass -"and zebra"`, "[$collide $m]"},
	} {
		for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
			if got := fmt.Sprint(ids(search(t, ix, c.q, sort, 10, ""))); got != c.want {
				t.Errorf("%s (%s) = %s, want %s", c.q, sort, got, c.want)
			}
		}
	}
	ix.Close()
	idx, err := bleve.Open(filepath.Join(dir, "index", "p0000"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	d, err := idx.FieldDict("text")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var words, buckets []string
	for e, err := d.Next(); e != nil || err != nil; e, err = d.Next() {
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.Term, " ") {
			buckets = append(buckets, e.Term)
		} else {
			words = append(words, e.Term)
		}
	}
	wantBuckets := []string{want}
	for _, p := range [][2]string{{"grass", "grows"}, {"grows", "here"}, {"grass", "and"}, {"and", "zebra"}, {"zebra", "and"}, {"and", "grass"}, {"grass", "then"}, {"then", x}} {
		wantBuckets = append(wantBuckets, indexer.PairBucket(p[0], p[1]))
	}
	slices.Sort(wantBuckets)
	wantBuckets = slices.Compact(wantBuckets)
	if fmt.Sprint(buckets) != fmt.Sprint(wantBuckets) {
		t.Errorf("the index holds the pair terms %q, want %q", buckets, wantBuckets)
	}
	if got, want := fmt.Sprint(words), fmt.Sprintf("[and %s %s grass grows here then zebra]", x, y); got != want {
		t.Errorf("the index holds the words %s, want %s", got, want)
	}
}

// The check against the store finds a phrase wherever it is in a long
// Markdown message: only in its last part, across list markers, code
// fences, emphasis and line breaks, in capitals and in full-width letters
// (normalised as the index normalises them); and a message that has every
// pair of the phrase, apart, is no match however long.
func TestPhraseLateInALongMessage(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	var filler strings.Builder
	for i := range 200 {
		fmt.Fprintf(&filler, "- item %d: apt is a tool, *get* it; install notes\n", i)
	}
	long := func(tail string) string {
		b, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": "## Notes\n\n" + filler.String() + "\n" + tail})
		return string(b)
	}
	add(t, st, lines(
		msg("$fence", 2000, long("```\nrun **SUDO**\n```\n- `apt-get`\n\n> install vim\n")),
		msg("$wide", 3000, long("Then ｓｕｄｏ Apt-Get\tINSTALL it.")),
		msg("$apart", 4000, long("sudo apt; apt-get get\n\nget install, install sudo")),
		msg("$split", 5000, long("sudo\napt-get\n- reinstall\n\nget install")),
	)...)
	catchUp(t, ix)
	for _, c := range []struct{ q, want string }{
		{`"sudo apt-get install"`, "[$fence $wide]"},
		{`notes -"sudo apt-get install"`, "[$apart $split]"},
	} {
		for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
			got := ids(search(t, ix, c.q, sort, 10, ""))
			slices.Sort(got)
			if fmt.Sprint(got) != c.want {
				t.Errorf("%s (%s) = %s, want %s", c.q, sort, got, c.want)
			}
		}
	}
}

// When most hits fail the check against the store, a short page still
// carries a cursor, and following it finds the rest.
func TestShortPagesKeepACursor(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	var ls []string
	// 40 messages with every pair of "a b c" apart, then 2 with the run.
	for i := range 40 {
		ls = append(ls, msg(fmt.Sprintf("$x%02d", i), int64(2000+i), `{"msgtype":"m.text","body":"a b, then b c"}`))
	}
	ls = append(ls, msg("$y1", 1500, `{"msgtype":"m.text","body":"a b c"}`), msg("$y2", 1600, `{"msgtype":"m.text","body":"x a b c"}`))
	add(t, st, lines(ls...)...)
	catchUp(t, ix)
	got := paged(t, ix, `"a b c"`, indexer.SortNewest, 2, 20)
	if fmt.Sprint(got) != "[$y2 $y1]" && fmt.Sprint(got) != "[$y1 $y2]" {
		t.Errorf("paging a phrase whose pairs are mostly apart found %v", got)
	}
}

// An index in an older format is replaced by a fresh one at start.
func TestOldFormatIsRebuilt(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"kept words"}`))...)
	dir := t.TempDir()
	old, err := bleve.New(filepath.Join(dir, "index"), bleve.NewIndexMapping())
	if err != nil {
		t.Fatal(err)
	}
	// Its checkpoint is the feed's head: one past it is rebuilt for
	// that (TestRestoredDatabaseRebuildsTheIndex), and would not report it.
	head, err := st.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old.SetInternal([]byte("mxarchive.checkpoint"), []byte(strconv.FormatInt(head, 10)))
	old.Close()
	legacyMeta := filepath.Join(dir, "index", "index_meta.json")
	// The old index serves until the new one, built beside it, is
	// swapped in: an archive is not left without search for a rebuild.
	ix := openIndex(t, st, dir)
	if cp, _ := ix.Checkpoint(); cp != head {
		t.Fatalf("the old index was not kept while the new one is built (checkpoint %d)", cp)
	}
	if _, err := os.Stat(legacyMeta); err != nil {
		t.Fatalf("the old index was not kept while the new one is built: %v", err)
	}
	catchUp(t, ix)
	if _, err := os.Stat(legacyMeta); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old index was not replaced (%v)", err)
	}
	if cp, _ := ix.Checkpoint(); cp != head {
		t.Fatalf("the new index's checkpoint is %d, want the feed's head %d", cp, head)
	}
	if got := fmt.Sprint(ids(search(t, ix, `"kept words"`, "", 10, ""))); got != "[$m]" {
		t.Errorf("after the format upgrade: %s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "index.*")); len(left) != 0 {
		t.Errorf("left beside the index: %v", left)
	}
	// Reopened, the new index is kept.
	ix.Close()
	ix = openIndex(t, st, dir)
	if _, err := os.Stat(legacyMeta); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rebuilt index was not kept on reopening (%v)", err)
	}
	if cp, _ := ix.Checkpoint(); cp != head {
		t.Errorf("the rebuilt index was not kept on reopening (checkpoint %d, want %d)", cp, head)
	}
}

// With a language configured, words are stemmed, phrases too, and the index
// reopens with its analyzers.
func TestLanguageStemming(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	dir := t.TempDir()
	open := func() *indexer.Indexer {
		ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{Language: "en"}, storetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	ix := open()
	add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"She was installing packages quickly"}`))...)
	catchUp(t, ix)
	ix.Close()
	ix = open()
	defer ix.Close()
	for _, q := range []string{"install", "packages", `"installed package"`, `"install packages quickly"`} {
		if got := fmt.Sprint(ids(search(t, ix, q, "", 10, ""))); got != "[$m]" {
			t.Errorf("%s = %s", q, got)
		}
	}
	if got := search(t, ix, `"packages installing"`, "", 10, ""); len(got.Events) != 0 {
		t.Errorf("words out of order matched a phrase: %v", ids(got))
	}
}

// Opting out removes a user's messages from the index (and opting in
// brings them back); a retention policy drops expired ones at once.
func TestOptOutAndRetentionLeaveTheIndex(t *testing.T) {
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true}})
	ix := openIndex(t, st, t.TempDir())
	now := time.Now().UnixMilli()
	add(t, st, lines(
		msg("$a", now-3*86400000, `{"msgtype":"m.text","body":"quokka old"}`),
		msg("$b", now-1000, `{"msgtype":"m.text","body":"quokka new"}`),
		`{"event_id":"$z","room_id":"!r:x","type":"m.room.message","sender":"@z:x","origin_server_ts":`+fmt.Sprint(now-2000)+`,"content":{"msgtype":"m.text","body":"quokka by z"}}`,
	)...)
	catchUp(t, ix)
	if got := fmt.Sprint(ids(search(t, ix, "quokka", "", 10, ""))); got != "[$a $b $z]" {
		t.Fatalf("before: %s", got)
	}
	ctx := context.Background()
	if _, err := st.OptOut(ctx, "@z:x", "dm"); err != nil {
		t.Fatal(err)
	}
	catchUp(t, ix)
	if n, _ := ix.DocCount(); n != 2 {
		t.Errorf("after the opt-out the index holds %d documents, want 2", n)
	}
	if _, err := st.OptIn(ctx, "@z:x"); err != nil {
		t.Fatal(err)
	}
	catchUp(t, ix)
	if n, _ := ix.DocCount(); n != 3 {
		t.Errorf("after the opt-in the index holds %d documents, want 3", n)
	}
	add(t, st, `{"event_id":"$ret","room_id":"!r:x","type":"m.room.retention","sender":"@a:x","origin_server_ts":`+fmt.Sprint(now-500)+`,"state_key":"","content":{"max_lifetime":86400000}}`)
	if got := fmt.Sprint(ids(search(t, ix, "quokka", "", 10, ""))); got != "[$b $z]" {
		t.Errorf("an expired message was returned before the index caught up: %s", got)
	}
	catchUp(t, ix)
	if n, _ := ix.DocCount(); n != 2 {
		t.Errorf("after the retention policy the index holds %d documents, want 2", n)
	}
}

// has:link reads the message's own text, not the reply fallback quoting
// someone else's link; a captioned file is findable by its name.
func TestLinkAndFileNameAreTheMessagesOwn(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	add(t, st, lines(
		msg("$link", 2000, `{"msgtype":"m.text","body":"see https://example.org/x"}`),
		msg("$reply", 3000, `{"msgtype":"m.text","body":"> <@a:example.org> see https://example.org/x\n\nnice","format":"org.matrix.custom.html",`+
			`"formatted_body":"<mx-reply><blockquote>see <a href=\"https://example.org/x\">https://example.org/x</a></blockquote></mx-reply>nice",`+
			`"m.relates_to":{"m.in_reply_to":{"event_id":"$link"}}}`),
		msg("$file", 4000, `{"msgtype":"m.file","body":"the quarterly figures","filename":"report.pdf","url":"mxc://example.org/f"}`),
	)...)
	catchUp(t, ix)
	if got := ids(search(t, ix, "nice has:link", "", 10, "")); len(got) != 0 {
		t.Errorf("a reply quoting a link counts as having one: %v", got)
	}
	if got := ids(search(t, ix, "see has:link", "", 10, "")); len(got) != 1 || got[0] != "$link" {
		t.Errorf("see has:link = %v", got)
	}
	for _, q := range []string{"report.pdf", "quarterly"} {
		if got := ids(search(t, ix, q, "", 10, "")); len(got) != 1 || got[0] != "$file" {
			t.Errorf("%s = %v, want the captioned file", q, got)
		}
	}
}

// An expired message matches nothing, and the count a search reports is of
// verified results, before any purge (an import-only archive never
// purges): neither a word nor a sender of expired history can be tested
// through the total.
func TestExpiredHistoryIsNotCounted(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			ix := openIndex(t, st, t.TempDir())
			const lifetime = 1500
			now := time.Now().UnixMilli()
			add(t, st, lines(
				`{"event_id":"$ret","room_id":"!r:x","type":"m.room.retention","sender":"@a:x","origin_server_ts":`+fmt.Sprint(now-100)+`,"state_key":"","content":{"max_lifetime":`+fmt.Sprint(lifetime)+`}}`,
				`{"event_id":"$old","room_id":"!r:x","type":"m.room.message","sender":"@gone:x","origin_server_ts":`+fmt.Sprint(now-50)+`,"content":{"msgtype":"m.text","body":"wombat xylophone"}}`,
			)...)
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "xylophone", "", 10, ""))); got != "[$old]" {
				t.Fatalf("while fresh: %s", got)
			}
			// Let $old expire; the index still holds it (nothing is purged).
			time.Sleep(time.Until(time.UnixMilli(now - 50 + lifetime + 200)))
			add(t, st, msg("$new", time.Now().UnixMilli(), `{"msgtype":"m.text","body":"wombat fresh"}`))
			catchUp(t, ix)
			for _, c := range []struct {
				q, sort string
				want    string
				total   uint64
			}{
				{"wombat", "", "[$new]", 1},
				{"wombat", indexer.SortNewest, "[$new]", 1},
				{"xylophone", "", "[]", 0},
				{"xylophone", indexer.SortOldest, "[]", 0},
				{"from:@gone:x", "", "[]", 0},
				{"from:@gone:x", indexer.SortNewest, "[]", 0},
			} {
				res := search(t, ix, c.q, c.sort, 10, "")
				if got := fmt.Sprint(ids(res)); got != c.want || res.Total != c.total || !res.Exact {
					t.Errorf("%q (%s) = %s, total %d (exact %v); want %s, total %d exactly", c.q, c.sort, got, res.Total, res.Exact, c.want, c.total)
				}
				// Not merely dropped by the check: the expired message
				// does not match in the index.
				if res.IndexEstimate != c.total {
					t.Errorf("%q (%s): the index counts %d hits, want %d", c.q, c.sort, res.IndexEstimate, c.total)
				}
			}
			// archive-web's sweep deletes what expired since it was
			// indexed (no purge has run).
			if n, err := ix.DropExpired(context.Background()); err != nil || n != 1 {
				t.Errorf("DropExpired = %d, %v; want 1", n, err)
			}
			if n, _ := ix.DocCount(); n != 1 {
				t.Errorf("after DropExpired the index holds %d documents, want 1", n)
			}
			if n, err := ix.DropExpired(context.Background()); err != nil || n != 0 {
				t.Errorf("DropExpired again = %d, %v; want 0", n, err)
			}
		})
	}
}

// Under the operator's default lifetime, a room with a longer policy of its
// own keeps matching while the others' old messages stop matching.
func TestDefaultRetentionSparesRoomsWithTheirOwn(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			const lifetime = 1500
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(lifetime * time.Millisecond)}})
			ix := openIndex(t, st, t.TempDir())
			now := time.Now().UnixMilli()
			add(t, st, lines(
				`{"event_id":"$ret","room_id":"!r:x","type":"m.room.retention","sender":"@a:x","origin_server_ts":1002,"state_key":"","content":{"max_lifetime":86400000000}}`,
				msg("$kept", now-50, `{"msgtype":"m.text","body":"numbat kept"}`),
				`{"event_id":"$c2","room_id":"!s:x","type":"m.room.create","sender":"@a:x","origin_server_ts":1000,"state_key":"","content":{"room_version":"10"}}`,
				`{"event_id":"$hv2","room_id":"!s:x","type":"m.room.history_visibility","sender":"@a:x","origin_server_ts":1001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
				`{"event_id":"$gone","room_id":"!s:x","type":"m.room.message","sender":"@a:x","origin_server_ts":`+fmt.Sprint(now-50)+`,"content":{"msgtype":"m.text","body":"numbat gone"}}`,
			)...)
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "numbat", "", 10, ""))); got != "[$gone $kept]" {
				t.Fatalf("while fresh: %s", got)
			}
			time.Sleep(time.Until(time.UnixMilli(now - 50 + lifetime + 200)))
			for _, q := range []string{"numbat", "numbat in:!r:x", "numbat in:!s:x"} {
				res := search(t, ix, q, indexer.SortNewest, 10, "")
				want := "[$kept]"
				if strings.Contains(q, "!s:x") {
					want = "[]"
				}
				if got := fmt.Sprint(ids(res)); got != want || res.IndexEstimate != uint64(len(res.Events)) || res.Total != uint64(len(res.Events)) {
					t.Errorf("%q = %s (index %d, total %d), want %s", q, got, res.IndexEstimate, res.Total, want)
				}
			}
			if n, err := ix.DropExpired(context.Background()); err != nil || n != 1 {
				t.Errorf("DropExpired = %d, %v; want 1 ($gone)", n, err)
			}
			if got := fmt.Sprint(ids(search(t, ix, "numbat", "", 10, ""))); got != "[$kept]" {
				t.Errorf("after DropExpired: %s", got)
			}
		})
	}
}

// The count carried from page to page: a lower bound while more pages
// follow (the results verified so far, one of the next page's included),
// exact on the last.
func TestCountsAreVerifiedAcrossPages(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	var ls []string
	for i := range 5 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), `{"msgtype":"m.text","body":"capybara"}`))
	}
	add(t, st, lines(ls...)...)
	catchUp(t, ix)
	for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
		var got []string
		cursor := ""
		for page := 0; page < 4; page++ {
			res := search(t, ix, "capybara", sort, 2, cursor)
			got = append(got, fmt.Sprintf("%d/%d/%v", len(res.Events), res.Total, res.Exact))
			if cursor = res.Next; cursor == "" {
				break
			}
		}
		if s := fmt.Sprint(got); s != "[2/3/false 2/5/false 1/5/true]" {
			t.Errorf("%s: pages (results/total/exact) = %s", sort, s)
		}
	}
}

// in:#alias names the room the alias routes to, never a room that merely
// claims it in its state: here the real room's old alias, which a hostile
// room then takes as its canonical alias.
func TestInAliasIgnoresSquatters(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	importRouted := func(ls ...string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "e.ndjson")
		if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), p, ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
			t.Fatal(err)
		}
	}
	alias := func(room, evID, a string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.canonical_alias","sender":"@a:x","origin_server_ts":%d,"state_key":"","content":{"alias":%q}}`, evID, room, ts, a)
	}
	importRouted(lines(alias("!r:x", "$a1", "#a:x", 1002), msg("$real", 2000, `{"msgtype":"m.text","body":"hello from the real room"}`))...)
	importRouted(alias("!r:x", "$a2", "#b:x", 3000))
	hostile := strings.NewReplacer(`"!r:x"`, `"!h:x"`, `"$c"`, `"$hc"`, `"$hv"`, `"$hhv"`, `"$real"`, `"$fake"`)
	var ls []string
	for _, l := range lines(alias("!r:x", "$h1", "#a:x", 1002), msg("$real", 2000, `{"msgtype":"m.text","body":"hello from the hostile room"}`)) {
		ls = append(ls, hostile.Replace(l))
	}
	importRouted(ls...)
	catchUp(t, ix)
	if got := ids(search(t, ix, "hello in:#a:x", "", 10, "")); fmt.Sprint(got) != "[$real]" {
		t.Errorf("in:#a:x = %v, want the real room's message", got)
	}
}

// Index size and build time grow with the terms each message adds: the
// words, their pairs, and one term per filter field. A numeric time field
// added sixteen more (its precision terms, one per shift), more than the
// words of a typical line; dates are matched by day and month terms.
func TestFewTermsPerMessage(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(msg("$m", 1_700_000_000_000, `{"msgtype":"m.text","body":"alpha beta gamma delta"}`))...)
	dir := t.TempDir()
	ix, err := indexer.Open(st, filepath.Join(dir, "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, ix)
	if got := fmt.Sprint(ids(search(t, ix, "gamma after:2023-11-13 before:2023-11-16", "", 10, ""))); got != "[$m]" {
		t.Fatalf("the message is not found in its dates: %s", got)
	}
	ix.Close()
	// The index's one period (index format 5: one Bleve index per period).
	idx, err := bleve.Open(filepath.Join(dir, "index", "p0000"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	fields, err := idx.Fields()
	if err != nil {
		t.Fatal(err)
	}
	terms := map[string]int{}
	total := 0
	for _, f := range fields {
		d, err := idx.FieldDict(f)
		if err != nil {
			t.Fatal(err)
		}
		for e, err := d.Next(); e != nil || err != nil; e, err = d.Next() {
			if err != nil {
				t.Fatal(err)
			}
			terms[f]++
			total++
		}
		d.Close()
	}
	// 4 words + 3 pairs of text; sender, room, time, month, day, two
	// flags and the ID: one each.
	if want := 7 + 8; total > want {
		t.Errorf("one message of four words made %d terms (%v); want at most %d", total, terms, want)
	}
}

// A backlog is checkpointed batch by batch, in batches of the configured
// size (TestCatchUpStepsStayAtBatchSize says why they do not grow).
func TestCatchUpCheckpointsEachBatch(t *testing.T) {
	st := corpusStore(t, "sqlite", 3000)
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: 100}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	var sizes []int
	last := 0
	n, err := ix.CatchUp(context.Background(), func(pos int64, applied int) {
		sizes = append(sizes, applied-last)
		last = applied
		if cp, _ := ix.Checkpoint(); cp != pos {
			t.Errorf("after a batch the checkpoint is %d, want %d", cp, pos)
		}
	})
	if err != nil || n < 3000 {
		t.Fatalf("CatchUp = %d, %v", n, err)
	}
	if len(sizes) < n/100 || slices.Max(sizes) > 100 {
		t.Errorf("batches of %v for %d changes at a batch size of 100", sizes, n)
	}
}

// A hostile origin_server_ts far in the future (or before 1970) must not
// break paging: the index's time fields are clamped to what their text
// order can hold, so every cursor is one this archive accepts.
func TestFarFutureTimesPage(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	add(t, st, lines(
		msg("$a", 2000, `{"msgtype":"m.text","body":"zebra one"}`),
		msg("$future", 1_000_000_000_000_000, `{"msgtype":"m.text","body":"zebra two"}`),
		msg("$b", 3000, `{"msgtype":"m.text","body":"zebra three"}`),
	)...)
	catchUp(t, ix)
	for _, sort := range []string{indexer.SortNewest, indexer.SortOldest} {
		got := paged(t, ix, "zebra", sort, 1, 5)
		want := "[$future $b $a]"
		if sort == indexer.SortOldest {
			want = "[$a $b $future]"
		}
		if fmt.Sprint(got) != want {
			t.Errorf("%s, a page at a time: %v, want %s", sort, got, want)
		}
		// Within the room, whose last message is the far one.
		if res := search(t, ix, "zebra in:!r:x", sort, 10, ""); len(res.Events) != 3 {
			t.Errorf("%s, in the room: %v", sort, ids(res))
		}
	}
}

// A month dense with hits is walked by its days: the pages, newest and
// oldest first, are those of sorting every hit, through a month of a hit
// every two hours between a thin month before and after it, and the
// cursors that fall inside it.
func TestDayWalkMatchesFullSort(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	var ls []string
	at := func(y int, m time.Month, d, h int) int64 { return time.Date(y, m, d, h, 0, 0, 0, time.UTC).UnixMilli() }
	for i := range 5 {
		ls = append(ls, msg(fmt.Sprintf("$jan%d", i), at(2026, 1, 3+5*i, 12), `{"msgtype":"m.text","body":"word in january"}`))
	}
	for d := 1; d <= 31; d++ {
		for h := 0; h < 24; h += 2 {
			ls = append(ls, msg(fmt.Sprintf("$mar%02d-%02d", d, h), at(2026, 3, d, h), `{"msgtype":"m.text","body":"word of march"}`))
		}
	}
	for i := range 3 {
		ls = append(ls, msg(fmt.Sprintf("$may%d", i), at(2026, 5, 10+i, 9), `{"msgtype":"m.text","body":"word in may"}`))
	}
	// And a month of a year past 9999 (monthDays cannot list its days).
	for i := range 12 {
		ls = append(ls, msg(fmt.Sprintf("$far%02d", i), 1_000_000_000_000_000+int64(i)*3_600_000, `{"msgtype":"m.text","body":"word far ahead"}`))
	}
	add(t, st, lines(ls...)...)
	catchUp(t, ix)
	pages := func(order string) []string { return paged(t, ix, "word", order, 7, 100) }
	for _, order := range []string{indexer.SortNewest, indexer.SortOldest} {
		ix.SetSortAllLimit(1 << 30)
		ix.SetDayWalkHits(0)
		full := pages(order)
		ix.SetSortAllLimit(0)
		ix.SetDayWalkHits(1)
		before := ix.DayWindows()
		walked := pages(order)
		if len(full) != 5+31*12+3+12 || !slices.Equal(full, walked) {
			t.Errorf("%s: %d results sorted, %d walked by days, or in another order", order, len(full), len(walked))
		}
		if ix.DayWindows() == before {
			t.Errorf("%s: March was not walked by its days", order)
		}
	}
}

// TestDatesPastTheIndexsTime: the index holds a time up to November 2286
// (maxIndexTime) and a later message at it. A date filter past it finds
// what it asks for, and one past the year 9999 finds nothing at once, with
// no page after: its month, "10000-01", sorted before every other, and the
// filter and the time-ordered walk took in the whole archive.
func TestDatesPastTheIndexsTime(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	const y3000 = 32_503_680_000_000 // 3000-01-01
	add(t, st, lines(
		msg("$now", 1_767_225_601_000, `{"msgtype":"m.text","body":"kiwi now"}`),
		msg("$late", y3000+5, `{"msgtype":"m.text","body":"kiwi later"}`),
	)...)
	ix := openIndex(t, st, t.TempDir())
	catchUp(t, ix)
	for _, sort := range []string{"", indexer.SortNewest, indexer.SortOldest} {
		for q, want := range map[string]string{
			"kiwi after:9999-12-31":                   "[]",
			"after:9999-12-31":                        "[]",
			"kiwi after:9999-12-30":                   "[]",
			"kiwi after:2999-12-31":                   "[$late]",
			"kiwi on:3000-01-01":                      "[$late]",
			"kiwi after:2500-01-01 before:9999-12-31": "[$late]",
			"kiwi before:3000-01-02":                  "[$late $now]",
			"kiwi before:9999-12-31":                  "[$late $now]",
			"kiwi after:2000-01-01":                   "[$late $now]",
			"kiwi before:2500-01-01":                  "[$now]",
		} {
			res := search(t, ix, q, sort, 10, "")
			got := ids(res)
			slices.Sort(got)
			if fmt.Sprint(got) != want || res.Next != "" || !res.Exact {
				t.Errorf("%q, sort %q: %v, next %q, exact %v; want %s, no next page, exact", q, sort, got, res.Next, res.Exact, want)
			}
			// Nothing of 2026 was a hit for the check to reject: only $late,
			// which the index holds at its last time.
			if want == "[]" && res.IndexEstimate > 1 {
				t.Errorf("%q, sort %q: the index found %d hits", q, sort, res.IndexEstimate)
			}
		}
	}
}

// An index of format 12 held no polls, and one of 13 no poll flag. Format
// 14 has both, and 15 (its words lower-cased by lowerFilter) too, so an
// index of 12, 13 or 14 is rebuilt at start, and a poll stored before the
// upgrade is found, by its words and by is:poll. An index of 15 whose
// checkpoint is past a poll it does not hold stands for one of 12 that was
// not rebuilt: it finds nothing.
func TestOlderFormatsAreRebuiltWithPolls(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"kept words"}`))...)
	dir := t.TempDir()
	ix := openIndex(t, st, dir)
	catchUp(t, ix)
	ix.Close()
	add(t, st, `{"event_id":"$p","room_id":"!r:x","type":"m.poll.start","sender":"@a:x","origin_server_ts":3000,"content":{"m.poll.start":{"question":{"m.text":"Which wombat?"},"answers":[{"id":"a","m.text":"Any"}]}}}`)
	head, err := st.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The manifest as an index of format (12 or 13) that holds no poll
	// but has read the feed past one left it.
	leave := func(format string) {
		t.Helper()
		path := filepath.Join(dir, "index", "mxarchive.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["format"], m["checkpoint"] = format, head
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ format, want string }{{"15/", "[]"}, {"12/", "[$p]"}, {"13/", "[$p]"}, {"14/", "[$p]"}} {
		leave(c.format)
		ix = openIndex(t, st, dir)
		catchUp(t, ix)
		for _, q := range []string{"wombat", "is:poll"} {
			if got := fmt.Sprint(ids(search(t, ix, q, "", 10, ""))); got != c.want {
				t.Errorf("opened at format %s: %s finds %s, want %s", c.format, q, got, c.want)
			}
		}
		ix.Close()
	}
}
