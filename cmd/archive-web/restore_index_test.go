package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// TestMain makes a PostgreSQL server available to the package's tests
// (pgtest: started on first use).
func TestMain(m *testing.M) { pgtest.Main(m) }

// A database restored from a backup older than the search index reuses
// the feed positions the index has passed. archive-web finds the index's
// checkpoint past the feed's head, does not report that position (a
// negative lag, which /readyz took for ready), and rebuilds the index
// from the store: what arrives after the restore is found, what the
// restore lost is not.
func TestRestoredDatabaseRebuildsTheIndex(t *testing.T) {
	ctx := context.Background()
	dataDir, indexPath, open := restoredArchive(t)
	st := open()
	defer st.Close()
	for i := range 3 {
		restorePut(t, st, restoreMsg(fmt.Sprintf("$new%d", i), fmt.Sprintf("gamma after the restore %d", i), int64(3000+i)))
	}
	head, err := st.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Opened, the index does not report the position it holds, past
	// the head: /readyz and the lag metric would say it is ahead.
	ix, err := indexer.Open(st, indexPath, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := ix.Checkpoint(); err != nil || cp > head {
		t.Errorf("the index of the lost feed reports position %d (err %v), past the head %d", cp, err, head)
	}
	ix.Close()

	searchesAfterRestore(t, dataDir, st, 3)
}

// A database restored from a backup older than the search index, which
// then stored more changes than it lost before archive-web started: the
// feed's head is past the index's checkpoint again, but the positions up
// to it now name other changes. The index records the change it reached
// (feedmark.go); archive-web finds the feed holding another one there,
// does not report the index's position, and rebuilds it. The index used
// to go on from its checkpoint: the messages stored after the restore at
// the positions it had passed were never searchable.
func TestRestoredDatabasePastTheIndexRebuildsIt(t *testing.T) {
	ctx := context.Background()
	dataDir, indexPath, open := restoredArchive(t)
	st := open()
	defer st.Close()
	const n = 12 // past the five lost messages' changes
	for i := range n {
		restorePut(t, st, restoreMsg(fmt.Sprintf("$new%d", i), fmt.Sprintf("gamma after the restore %d", i), int64(3000+i)))
	}
	ix, err := indexer.Open(st, indexPath, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ix.Checkpoint()
	ix.Close()
	if head, herr := st.FeedHead(ctx); herr != nil || cp > head {
		t.Fatalf("the test wants the feed's head (%d, %v) past the index's checkpoint %d", head, herr, cp)
	}
	if err != nil || cp != 0 {
		t.Errorf("the index of the lost feed reports position %d (err %v), where the feed holds another change", cp, err)
	}
	searchesAfterRestore(t, dataDir, st, n)
}

// searchesAfterRestore starts archive-web on dataDir, stores $later, and
// checks that search finds it and $new0 up to $new<n-1> (stored after the
// restore: "gamma"), $kept ("alpha") but none of $lost ("beta"), and that
// /readyz is ready after the rebuild.
func searchesAfterRestore(t *testing.T, dataDir string, st *store.Store, n int) {
	t.Helper()
	addr, stop := startWeb(t, dataDir, "web:\n  listen: 127.0.0.1:0\nmedia:\n  enabled: false\n")
	defer stop()
	restorePut(t, st, restoreMsg("$later", "gamma while it serves", 4000))
	search := func(q string) string {
		_, body := get(t, "http://"+addr+"/api/v1/search?q="+url.QueryEscape(q))
		return body
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		body := search("gamma")
		found := strings.Contains(body, "$later")
		for i := range n {
			found = found && strings.Contains(body, fmt.Sprintf(`"$new%d"`, i))
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			_, ready := get(t, "http://"+addr+"/readyz")
			t.Fatalf("the messages stored after the restore are not all found 15 s on; /readyz says %q; search: %s", ready, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body := search("beta"); strings.Contains(body, "$lost") {
		t.Errorf("a message the restore lost is found: %s", body)
	}
	if body := search("alpha"); !strings.Contains(body, "$kept") {
		t.Errorf("a message the backup kept is not found: %s", body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz after the rebuild: %d %s", code, body)
	}
}

// restoredArchive makes an archive whose database is then restored from
// a backup older than its search index: the backup holds $kept, the index
// also $lost0 to $lost4, stored after it. It returns the data directory,
// the index's path and a function that opens the restored database.
func restoredArchive(t *testing.T) (dataDir, indexPath string, open func() *store.Store) {
	t.Helper()
	ctx := context.Background()
	dataDir = t.TempDir()
	open = func() *store.Store {
		t.Helper()
		st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	indexPath = filepath.Join(dataDir, "index")
	st := open()
	restorePut(t, st,
		map[string]any{"event_id": "$c", "room_id": "!r:example.org", "type": "m.room.create", "sender": "@alice:example.org", "state_key": "", "origin_server_ts": 1000, "content": map[string]any{"room_version": "10"}},
		map[string]any{"event_id": "$h", "room_id": "!r:example.org", "type": "m.room.history_visibility", "sender": "@alice:example.org", "state_key": "", "origin_server_ts": 1001, "content": map[string]any{"history_visibility": "world_readable"}},
		restoreMsg("$kept", "alpha kept by the backup", 1002),
	)
	ix, err := indexer.Open(st, indexPath, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := st.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		restorePut(t, st, restoreMsg(fmt.Sprintf("$lost%d", i), fmt.Sprintf("beta lost %d", i), int64(2000+i)))
	}
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	st.Close()

	// The database restored; the index left as it was.
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dataDir, "mxarchive.db")
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dataDir, indexPath, open
}

// restorePut stores events given as JSON objects, public.
func restorePut(t *testing.T, st *store.Store, evs ...map[string]any) {
	t.Helper()
	var out []store.Event
	for _, m := range evs {
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.Event{Event: *ev, Public: true})
	}
	if _, err := st.PutEvents(context.Background(), out); err != nil {
		t.Fatal(err)
	}
}

// restoreMsg is a text message of Alice's in !r:example.org.
func restoreMsg(id, body string, ts int64) map[string]any {
	return map[string]any{"event_id": id, "room_id": "!r:example.org", "type": "m.room.message", "sender": "@alice:example.org",
		"origin_server_ts": ts, "content": map[string]any{"msgtype": "m.text", "body": body}}
}

// An index moved with its archive from SQLite to PostgreSQL (archiver
// migrate-to) names its documents by SQLite's keys and would answer every
// search with nothing: until its rebuild is swapped in, a search is a 503.
func TestIndexOfAnotherDatabaseAnswers503(t *testing.T) {
	ctx := context.Background()
	dst := storetest.Open(t, "postgres")
	src := storetest.Open(t, "sqlite")
	restorePut(t, src,
		map[string]any{"event_id": "$c", "room_id": "!r:example.org", "type": "m.room.create", "sender": "@alice:example.org", "state_key": "", "origin_server_ts": 1000, "content": map[string]any{"room_version": "10"}},
		map[string]any{"event_id": "$h", "room_id": "!r:example.org", "type": "m.room.history_visibility", "sender": "@alice:example.org", "state_key": "", "origin_server_ts": 1001, "content": map[string]any{"history_visibility": "world_readable"}},
		restoreMsg("$m", "platypus", 1002),
	)
	indexPath := filepath.Join(t.TempDir(), "index")
	ix, err := indexer.Open(src, indexPath, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if _, err := src.CopyTo(ctx, dst, nil); err != nil {
		t.Fatal(err)
	}
	ix, err = indexer.Open(dst, indexPath, indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	srv, err := web.New(dst, render.New(render.Options{}), storetest.Logger(t), web.Options{Search: ix})
	if err != nil {
		t.Fatal(err)
	}
	search := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/search?q=platypus", nil))
		return rec
	}
	if rec := search(); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "being rebuilt") {
		t.Errorf("a search of the index built over SQLite, over PostgreSQL: %d (Retry-After %q), want a 503 saying the index is rebuilt:\n%.500s",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if rec := search(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "platypus") {
		t.Errorf("after the rebuild: %d", rec.Code)
	}
}
