package indexer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mxarchive/mxarchive/store"
)

// An index of format 10 or later names each document by its event's key
// (docID), and store.IDKey is FNV-1a on SQLite and the first 8 bytes of
// the ID's MD5 on PostgreSQL. An index built over one kind of database
// finds nothing over the other: every hit's key names no event there, and
// the store check drops it. `archiver migrate-to` moves an archive from
// SQLite to PostgreSQL keeping the change feed's positions, so an index
// kept through the move looked caught up (lag 0, /readyz ready) and
// answered every search with nothing. The manifest records the key scheme
// (manifest.Keys: the store's dialect), and an index whose scheme is not
// the store's is rebuilt; until the rebuild is swapped in, its answers
// would be wrong, so Search refuses (ErrRebuilding) and Checkpoint reports
// the rebuild's progress, not the old index's position.
//
// The other way an index stops matching its store is a database restored
// from a backup older than the index: the feed's positions are reused, the
// index's checkpoint is past the feed's head, and every change up to the
// checkpoint would be skipped. The checkpoint is compared with the head at
// Open and whenever a catch-up finds nothing new (at most once per
// headCheckInterval); an index ahead is rebuilt. It serves meanwhile (its
// hits are checked against the store, so what the restore lost is not
// shown; what came after the restore is missing until the swap), but its
// position is not reported, so /readyz is not ready. A restore the feed
// has passed again is told by the index's anchor, and rewound where it can
// be (feedmark.go).

// ErrRebuilding is Search's answer while the index is rebuilt because its
// documents are named for another kind of database: its answers would be
// empty, not merely old.
var ErrRebuilding = errors.New("the search index is being rebuilt for this database; search is back when it is done")

// headCheckInterval bounds how often a catch-up that found nothing new
// compares the checkpoint with the feed's head.
const headCheckInterval = time.Second

// keySampleDocs is how many documents of each period an index that does
// not record its key scheme is checked by.
const keySampleDocs = 16

// keyScheme names the store's IDKey scheme as the manifest records it:
// the store's dialect, whose IDKey never changes (TestIDKeyIsStable).
func keyScheme(st *store.Store) string { return st.Dialect() }

// checkStore checks, before the index is trusted, that its documents are
// named by the store's key scheme and that its checkpoint is not past the
// feed's head; either failing marks it for a rebuild. It returns an error
// only when the store could not answer; then it runs again before the
// next catch-up.
func (ix *Indexer) checkStore(ctx context.Context) error {
	ix.mu.RLock()
	set := ix.set
	ix.mu.RUnlock()
	if set == nil {
		return errNoIndex
	}
	if !ix.keysChecked.Load() {
		if err := ix.checkKeys(ctx, set); err != nil {
			return err
		}
		ix.keysChecked.Store(true)
	}
	if _, err := ix.checkHead(ctx, set.checkpoint.Load(), true); err != nil {
		return err
	}
	ix.verified.Store(true)
	return nil
}

// checkKeys compares the index's key scheme with the store's. An index
// that does not record one (made before the manifest held it) is checked
// by its documents: if any of a sample is found in the store by its key
// and time, the index was built over this kind of database (a document
// named by another scheme is found with a chance of 2^-64), and the
// scheme is recorded in its manifest. One with keyed documents none
// of which is found is of the other kind, and one with none (empty, or of
// formats 6 to 9, which name event IDs) has nothing to get wrong.
func (ix *Indexer) checkKeys(ctx context.Context, set *shards) error {
	want := keyScheme(ix.store)
	if set.legacy {
		return nil // format 4 or older: names event IDs, and is rebuilt anyway
	}
	if set.keys == want {
		return nil
	}
	if set.keys != "" {
		ix.foreignKeys(set.keys, want)
		return nil
	}
	keys, times := map[uint64][]int64{}, 0
	for _, p := range set.periods {
		idx, err := set.index(p)
		if err != nil {
			return err
		}
		d, err := idx.FieldDictRange(fieldID, nil, nil)
		if err != nil {
			return err
		}
		for n := 0; n < keySampleDocs; {
			e, err := d.Next()
			if err != nil || e == nil {
				break
			}
			ts, ref, ok := splitDocID(e.Term)
			if k, isKey := parseKeyRef(ref); ok && isKey {
				keys[k] = append(keys[k], ts)
				times++
				n++
			}
		}
		d.Close()
	}
	if times == 0 {
		ix.recordKeys(set, want)
		return nil
	}
	list := make([]uint64, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	// Unscreened: an index's oldest documents are the ones that expire,
	// and an expired (or opted-out) message is still this store's.
	evs, err := ix.store.EventTimesByKey(ctx, list)
	if err != nil {
		return fmt.Errorf("check the search index's keys: %w", err)
	}
	for evID, origin := range evs {
		for _, ts := range keys[ix.store.IDKey(evID)] {
			if ts == indexTime(origin) {
				ix.recordKeys(set, want)
				return nil
			}
		}
	}
	ix.foreignKeys("unknown", want)
	return nil
}

// recordKeys records the set's key scheme in its manifest. Not written
// (a full disk), it is written with the next step, and until then the
// next Open checks the documents again.
func (ix *Indexer) recordKeys(set *shards, keys string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	set.keys = keys
	if err := set.writeManifest(); err != nil {
		ix.log.Warn("recording the search index's key scheme", "path", ix.path, "err", err)
	}
}

// foreignKeys marks the index as named by another store's keys.
func (ix *Indexer) foreignKeys(have, want string) {
	ix.log.Warn("the search index was built over another kind of database (its documents are named by another key scheme, as after archiver migrate-to): "+
		"it finds nothing here; rebuilding it, and search answers 503 until the new index is swapped in",
		"path", ix.path, "index_keys", have, "database", want)
	ix.wrongKeys.Store(true)
	ix.stale.Store(true)
}

// checkHead compares a checkpoint with the feed's head, and marks an
// index ahead of it, or, atOpen, one whose anchor the feed no longer holds
// (feedmark.go), for a rebuild (ahead is then true).
func (ix *Indexer) checkHead(ctx context.Context, checkpoint int64, atOpen bool) (ahead bool, err error) {
	ix.headChecked.Store(time.Now().UnixNano())
	head, err := ix.store.FeedHead(ctx)
	if err != nil {
		return false, err
	}
	if checkpoint <= head {
		// The feed reaches the checkpoint again: it may hold other
		// changes than the index read (feedmark.go). At Open, with no
		// journal to rewind by, the index is rebuilt; a running
		// catch-up's steps check it themselves.
		if !atOpen {
			return false, nil
		}
		var anchor *posMark
		ix.mu.RLock()
		if ix.set != nil {
			anchor = ix.set.anchor.Load()
		}
		ix.mu.RUnlock()
		if anchor == nil {
			return false, nil
		}
		err := ix.checkAnchor(ctx, *anchor)
		if errors.Is(err, errFeedDiverged) {
			ix.diverged(err)
			return true, nil
		}
		return false, err
	}
	ix.log.Warn("the search index has indexed past the change feed's head: the database was restored from an older backup or replaced; rebuilding the index",
		"path", ix.path, "checkpoint", checkpoint, "feed_head", head)
	ix.ahead.Store(true)
	ix.stale.Store(true)
	return true, nil
}

// headDue reports whether a catch-up that found nothing should compare
// the checkpoint with the feed's head again.
func (ix *Indexer) headDue() bool {
	return time.Since(time.Unix(0, ix.headChecked.Load())) >= headCheckInterval
}

// untrusted reports whether the live index's position must not be
// reported: it is ahead of the feed, or named for another database.
func (ix *Indexer) untrusted() bool { return ix.ahead.Load() || ix.wrongKeys.Load() }
