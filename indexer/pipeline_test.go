package indexer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A catch-up reads its next step from the store while it writes the
// current one. A redaction and a new message stored in between (after the
// next step was read) still reach the index: the index ends up as a fresh
// one built afterwards.
func TestChangesDuringACatchUpReachTheIndex(t *testing.T) {
	st := corpusStore(t, "sqlite", 3000)
	ctx := context.Background()
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: 200}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	var victim store.Event
	last := 0
	_, err = ix.CatchUp(ctx, func(pos int64, applied int) {
		step := applied - last
		last = applied
		if victim.ID != "" {
			return
		}
		// The next step (the changes after pos) has been read by now:
		// redact a message in it. It is at least as long as this one
		// (steps double up to the batch size, and the corpus's text is
		// far below the text bound); the first steps may hold the
		// rooms' state only.
		cs, err := st.Changes(ctx, pos, step)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if e, err := st.EventByID(ctx, c.EventID); err == nil && e.Type == "m.room.message" {
				victim = e
				break
			}
		}
		if victim.ID == "" {
			return
		}
		add(t, st,
			fmt.Sprintf(`{"event_id":"$gone","room_id":%q,"type":"m.room.redaction","sender":%q,"origin_server_ts":%d,"redacts":%q,"content":{"redacts":%q}}`,
				victim.RoomID, victim.Sender, victim.OriginTS+1, victim.ID, victim.ID),
			fmt.Sprintf(`{"event_id":"$late","room_id":%q,"type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"axolotl arrives late"}}`,
				victim.RoomID, victim.Sender, victim.OriginTS+2))
	})
	if err != nil {
		t.Fatal(err)
	}
	if victim.ID == "" {
		t.Fatal("no message in any step")
	}
	if e, err := st.EventByID(ctx, victim.ID); err != nil || !e.Redacted {
		t.Fatalf("the message was not redacted: %v %+v", err, e)
	}
	fresh := openIndex(t, st, t.TempDir())
	catchUp(t, fresh)
	got, _ := ix.DocCount()
	want, _ := fresh.DocCount()
	if got != want {
		t.Errorf("the index holds %d documents, a fresh one %d", got, want)
	}
	if ids := ids(search(t, ix, "axolotl", "", 10, "")); fmt.Sprint(ids) != "[$late]" {
		t.Errorf("axolotl = %v, want the late message", ids)
	}
}
