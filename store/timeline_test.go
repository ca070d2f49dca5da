package store_test

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// selectedBoth is which of evs, stored in st, the SQL condition cond
// selects and which the Go predicate pred says it would, each sorted.
func selectedBoth(t *testing.T, st *store.Store, evs []store.Event, cond string, pred func(store.Event) bool) (bySQL, byGo []id.EventID) {
	t.Helper()
	ctx := context.Background()
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if bySQL, err = scanIDs(conn.QueryContext(ctx, `SELECT event_id FROM events WHERE `+cond+` ORDER BY event_id`)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		stored, err := st.EventByID(ctx, e.ID)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		if pred(stored) {
			byGo = append(byGo, e.ID)
		}
	}
	slices.Sort(byGo)
	return bySQL, byGo
}

// TestTimelineMessageRuleAgrees checks that the SQL fragment every query
// uses for "a timeline message" selects exactly the events the Go predicate
// (Event.Displayable, which the write path's counters use) calls one, over
// the edge cases: state events, redacted messages and edits, reactions,
// edits, threads, notices, stickers and types the archive does not know.
func TestTimelineMessageRuleAgrees(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const bob = "@bob:example.org"
		evs := append(baseRoom(t),
			mk(t, "$text", "m.room.message", bob, 2000, nil, `{"msgtype":"m.text","body":"hello"}`),
			mk(t, "$notice", "m.room.message", bob, 2001, nil, `{"msgtype":"m.notice","body":"a bot"}`),
			mk(t, "$emote", "m.room.message", bob, 2002, nil, `{"msgtype":"m.emote","body":"waves"}`),
			mk(t, "$sticker", "m.sticker", bob, 2003, nil, `{"body":"cat","url":"mxc://example.org/cat"}`),
			mk(t, "$edit", "m.room.message", bob, 2004, nil,
				`{"msgtype":"m.text","body":"* hi","m.new_content":{"msgtype":"m.text","body":"hi"},"m.relates_to":{"rel_type":"m.replace","event_id":"$text"}}`),
			mk(t, "$stickeredit", "m.sticker", bob, 2005, nil,
				`{"body":"dog","url":"mxc://example.org/dog","m.relates_to":{"rel_type":"m.replace","event_id":"$sticker"}}`),
			// A broken m.replace (no target) is no relation: a message.
			mk(t, "$brokenedit", "m.room.message", bob, 2006, nil,
				`{"msgtype":"m.text","body":"* x","m.relates_to":{"rel_type":"m.replace"}}`),
			mk(t, "$reaction", "m.reaction", bob, 2007, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$text","key":"👍"}}`),
			mk(t, "$thread", "m.room.message", bob, 2008, nil,
				`{"msgtype":"m.text","body":"in a thread","m.relates_to":{"rel_type":"m.thread","event_id":"$text"}}`),
			mk(t, "$reply", "m.room.message", bob, 2009, nil,
				`{"msgtype":"m.text","body":"a reply","m.relates_to":{"m.in_reply_to":{"event_id":"$text"}}}`),
			mk(t, "$unknown", "org.example.custom", bob, 2010, nil, `{"body":"not a message"}`),
			mk(t, "$encrypted", "m.room.encrypted", bob, 2011, nil, `{"algorithm":"m.megolm.v1.aes-sha2"}`),
			mk(t, "$poll", "org.matrix.msc3381.poll.start", bob, 2012, nil, `{"body":"a poll"}`),
			// A state event of a message type: the type decides, as before.
			mk(t, "$statemsg", "m.room.message", bob, 2013, sk(""), `{"msgtype":"m.text","body":"state"}`),
			mk(t, "$topic", "m.room.topic", "@alice:example.org", 2014, sk(""), `{"topic":"t"}`),
			mk(t, "$gone", "m.room.message", bob, 2015, nil, `{"msgtype":"m.text","body":"deleted"}`),
			mk(t, "$goneedit", "m.room.message", bob, 2016, nil,
				`{"msgtype":"m.text","body":"* y","m.new_content":{"msgtype":"m.text","body":"y"},"m.relates_to":{"rel_type":"m.replace","event_id":"$emote"}}`),
			mk(t, "$r1", "m.room.redaction", bob, 3000, nil, `{"redacts":"$gone"}`),
			mk(t, "$r2", "m.room.redaction", bob, 3001, nil, `{"redacts":"$goneedit"}`),
		)
		put(t, st, evs...)
		bySQL, byGo := selectedBoth(t, st, evs, store.TimelineMessageSQL, func(e store.Event) bool { return e.Displayable() })
		if !slices.Equal(bySQL, byGo) {
			t.Errorf("timeline messages differ:\n SQL %v\n Go  %v", bySQL, byGo)
		}
		// The rule itself, so that both cannot drift together.
		want := []id.EventID{"$brokenedit", "$emote", "$gone", "$notice", "$reply", "$statemsg", "$sticker", "$text", "$thread"}
		if !slices.Equal(byGo, want) {
			t.Errorf("timeline messages %v, want %v", byGo, want)
		}
	})
}
