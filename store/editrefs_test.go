package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// putEditFallbackRoom stores Bob's text, Alice's image at uri, fetched, and
// an edit of Bob's text whose own fields, a fallback no page shows, name
// Alice's image; its m.new_content is text.
func putEditFallbackRoom(t *testing.T, st *store.Store, uri string) {
	put(t, st, baseRoom(t)...)
	put(t, st,
		mk(t, "$bob", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`),
		mediaMsg(t, "$alice", "@alice:example.org", 2050, "m.image", uri, ""),
		mk(t, "$forge", "m.room.message", "@mallory:evil.example", 2100, nil,
			`{"msgtype":"m.image","body":"x","url":"`+uri+`","m.new_content":{"msgtype":"m.text","body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$bob"}}`))
	fetched(t, st, uri, shaA)
}

// An edit refers to the files of its m.new_content alone: one whose
// fallback named Alice's image kept it served after Alice redacted the
// message that showed it (helper-95).
func TestEditFallbackDoesNotKeepAFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const uri = "mxc://example.org/alicepic"
		putEditFallbackRoom(t, st, uri)
		wantMedia(t, st, uri, store.MediaReady)
		put(t, st, mk(t, "$r1", "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$alice"}`))
		wantMedia(t, st, uri, store.MediaGone)
	})
}

// An archive whose edits referred to their fallback's files refers to
// them no more once migrated, and a file so left unreferenced is erased:
// as the writes before 039 left it, the edit's reference was there when
// Alice redacted her image, so the redaction kept the file, its blob
// (helper-96).
func TestMigrationDropsEditFallbackRefs(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			const uri = "mxc://example.org/alicepic"
			ctx := context.Background()
			st := migratedFrom(t, d, func(st *store.Store) {
				putEditFallbackRoom(t, st, uri)
				conn, err := st.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, `INSERT INTO media_refs (event_id, room_id, server, media_id) VALUES ('$forge', '!room:example.org', 'example.org', 'alicepic') ON CONFLICT DO NOTHING`); err != nil {
					t.Fatal(err)
				}
				conn.Close()
				put(t, st, mk(t, "$r1", "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$alice"}`))
			}, `UPDATE schema_version SET version = 38`)
			wantMedia(t, st, uri, store.MediaGone)
			conn, err := st.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var erased int64
			var sha string
			if err := conn.QueryRowContext(ctx, `SELECT erased_at, sha256 FROM media WHERE server = 'example.org' AND media_id = 'alicepic'`).Scan(&erased, &sha); err != nil {
				t.Fatal(err)
			}
			var orphans int
			if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM media_orphans WHERE sha256 = $1`, shaA).Scan(&orphans); err != nil {
				t.Fatal(err)
			}
			if erased == 0 || sha != "" || orphans == 0 {
				t.Errorf("after 039 the redacted message's file has erased_at %d, sha256 %q, %d orphan rows; want it erased, its blob handed to the archiver", erased, sha, orphans)
			}
		})
	}
}
