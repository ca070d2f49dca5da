package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A message's only thread reply is deleted (erase-user of the replier;
// retention expiry and purge-room delete the same way). The index dropped
// the reply's own document but never read the root again (the reply's
// row gone, nothing said which root it had), so once the index had caught
// up, is:thread still found the root, whose thread no longer exists. A
// deleted thread reply now feeds a change of its root.
func TestIsThreadFollowsErasure(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$m", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"rootword here"}`),
			zLine("$tr", "m.room.message", 2000, zUser, nil, `{"msgtype":"m.text","body":"a reply","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}`),
		))
		ix := e.withSearch(t)
		if n := e.page(t, "/search?q=rootword+is:thread", http.StatusOK).Find("li.result").Length(); n != 1 {
			t.Fatalf("before: %d results for rootword is:thread", n)
		}
		if _, err := st.EraseUser(ctx, zUser, false); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if n := e.page(t, "/search?q=rootword+is:thread", http.StatusOK).Find("li.result").Length(); n != 0 {
			t.Errorf("after the only thread reply was erased and the index caught up, is:thread still finds the root (%d results)", n)
		}
	})
}

// The same with the reply redacted, which already fed its root.
func TestIsThreadFollowsRedaction(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$m", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"rootword here"}`),
			zLine("$tr", "m.room.message", 2000, zUser, nil, `{"msgtype":"m.text","body":"a reply","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}`),
		))
		ix := e.withSearch(t)
		e.addEvents(t, redactionLine("$r", zUser, 1767225605000, "$tr", ""))
		if _, err := ix.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if n := e.page(t, "/search?q=rootword+is:thread", http.StatusOK).Find("li.result").Length(); n != 0 {
			t.Errorf("after the only thread reply was redacted and the index caught up, is:thread still finds the root (%d results)", n)
		}
	})
}
