package indexer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// manifestOf reads the index manifest of the index under dir.
func manifestOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index", "mxarchive.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forgetKeys leaves the manifest as an index made before it recorded its
// key scheme left it.
func forgetKeys(t *testing.T, dir string) {
	t.Helper()
	m := manifestOf(t, dir)
	if _, ok := m["keys"]; !ok {
		t.Fatal("the manifest records no key scheme")
	}
	delete(m, "keys")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index", "mxarchive.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An index names its documents by store.IDKey, FNV-1a on SQLite and MD5 on
// PostgreSQL. Moved with the archive by archiver migrate-to (store.CopyTo:
// feed positions kept), an index built over SQLite finds nothing over
// PostgreSQL: it is rebuilt, and until then it neither answers (every
// answer would be "no results") nor reports itself caught up. So is an
// index made before the manifest recorded its key scheme, found to be of
// the other scheme by its documents.
func TestIndexMovedToPostgresIsRebuilt(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		t.Run(fmt.Sprintf("recorded=%v", recorded), func(t *testing.T) {
			ctx := context.Background()
			dst := storetest.Open(t, "postgres")
			src := storetest.Open(t, "sqlite")
			add(t, src, lines(
				msg("$m", 2000, `{"msgtype":"m.text","body":"platypus migration"}`),
				msg("$n", 3000, `{"msgtype":"m.text","body":"platypus again"}`),
			)...)
			dir := t.TempDir()
			ix := openIndex(t, src, dir)
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "platypus", "", 10, ""))); got != "[$m $n]" {
				t.Fatalf("on SQLite: %s", got)
			}
			ix.Close()
			if k := manifestOf(t, dir)["keys"]; k != "sqlite" {
				t.Errorf("the manifest records the keys %v, want sqlite", k)
			}
			if !recorded {
				forgetKeys(t, dir)
			}

			if _, err := src.CopyTo(ctx, dst, nil); err != nil {
				t.Fatal(err)
			}
			head, err := dst.FeedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ix = openIndex(t, dst, dir)
			if cp, _ := ix.Checkpoint(); cp != 0 {
				t.Errorf("the index built over SQLite reports position %d over PostgreSQL (head %d): it would be ready with nothing to find", cp, head)
			}
			q, _ := indexer.ParseQuery("platypus")
			if res, err := ix.Search(ctx, indexer.Request{Query: q}); !errors.Is(err, indexer.ErrRebuilding) {
				t.Errorf("the index built over SQLite answered over PostgreSQL: %v, %v", ids(res), err)
			}
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "platypus", "", 10, ""))); got != "[$m $n]" {
				t.Errorf("on PostgreSQL after the rebuild: %s", got)
			}
			if cp, _ := ix.Checkpoint(); cp != head {
				t.Errorf("after the rebuild the checkpoint is %d, want the head %d", cp, head)
			}
			if k := manifestOf(t, dir)["keys"]; k != "postgres" {
				t.Errorf("the rebuilt manifest records the keys %v, want postgres", k)
			}
			add(t, dst, msg("$o", 4000, `{"msgtype":"m.text","body":"platypus afterwards"}`))
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "platypus", "", 10, ""))); got != "[$m $n $o]" {
				t.Errorf("on PostgreSQL after a new message: %s", got)
			}
			// Reopened, it is trusted.
			ix.Close()
			ix = openIndex(t, dst, dir)
			if got := fmt.Sprint(ids(search(t, ix, "platypus", "", 10, ""))); got != "[$m $n $o]" {
				t.Errorf("reopened: %s", got)
			}
		})
	}
}

// An index made before the manifest recorded its key scheme, over the
// same kind of database it is opened over, is trusted as it is: found by
// its documents to be of this scheme, it serves at once and is not
// rebuilt; its manifest records the scheme.
func TestIndexWithoutKeySchemeOfThisDatabaseServes(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, dialect)
			add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"wombat kept"}`))...)
			dir := t.TempDir()
			ix := openIndex(t, st, dir)
			catchUp(t, ix)
			ix.Close()
			forgetKeys(t, dir)
			head, err := st.FeedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ix = openIndex(t, st, dir)
			if cp, _ := ix.Checkpoint(); cp != head {
				t.Errorf("checkpoint %d, want %d", cp, head)
			}
			if got := fmt.Sprint(ids(search(t, ix, "wombat", "", 10, ""))); got != "[$m]" {
				t.Errorf("before any catch-up: %s", got)
			}
			add(t, st, msg("$n", 3000, `{"msgtype":"m.text","body":"wombat new"}`))
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "wombat", "", 10, ""))); got != "[$m $n]" {
				t.Errorf("after a catch-up: %s", got)
			}
			if k := manifestOf(t, dir)["keys"]; k != dialect {
				t.Errorf("the manifest records the keys %v, want %s", k, dialect)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.new")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a rebuild was started: %v", err)
			}
		})
	}
}

// A running index whose checkpoint the feed's head falls behind (the
// database restored under it: new changes reuse positions it has passed)
// finds it out when a catch-up finds nothing new, and is rebuilt: what
// came after the restore is found, and its position is never reported
// past the head meanwhile.
func TestCheckpointPastTheHeadWhileFollowingRebuilds(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, dialect)
			add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"numbat before"}`))...)
			dir := t.TempDir()
			ix := openIndex(t, st, dir)
			catchUp(t, ix)
			head, err := st.FeedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ix.ForceCheckpoint(head + 50); err != nil {
				t.Fatal(err)
			}
			add(t, st, msg("$n", 3000, `{"msgtype":"m.text","body":"numbat after"}`))
			catchUp(t, ix)
			if got := fmt.Sprint(ids(search(t, ix, "numbat", "", 10, ""))); got != "[$m $n]" {
				t.Errorf("after the catch-up: %s", got)
			}
			now, err := st.FeedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp, _ := ix.Checkpoint(); cp != now {
				t.Errorf("checkpoint %d, want the head %d", cp, now)
			}
		})
	}
}

// An index opened over a feed whose head is behind its checkpoint reports
// no position past the head while it is rebuilt.
func TestCheckpointPastTheHeadAtOpenIsNotReported(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	add(t, st, lines(msg("$m", 2000, `{"msgtype":"m.text","body":"quokka"}`))...)
	dir := t.TempDir()
	ix := openIndex(t, st, dir)
	catchUp(t, ix)
	head, err := st.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.ForceCheckpoint(head + 50); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix = openIndex(t, st, dir)
	if cp, _ := ix.Checkpoint(); cp > head {
		t.Errorf("checkpoint %d reported past the head %d", cp, head)
	}
	// It serves meanwhile: its hits are checked against the store.
	if got := fmt.Sprint(ids(search(t, ix, "quokka", "", 10, ""))); got != "[$m]" {
		t.Errorf("while it is rebuilt: %s", got)
	}
	catchUp(t, ix)
	if cp, _ := ix.Checkpoint(); cp != head {
		t.Errorf("after the rebuild: checkpoint %d, want %d", cp, head)
	}
}
