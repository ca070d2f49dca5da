package indexer_test

import (
	"slices"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// is:thread finds the messages of threads: those that have a thread reply
// (store.ThreadRoots) and the replies, not a message with a reaction, an
// edit or a reply outside a thread; a root whose first reply comes later
// is found once the index has followed it.
func TestIsThreadFindsRoots(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.Open(t, dialect)
			add(t, st, lines(
				msg("$root", 1700000000000, `{"msgtype":"m.text","body":"kernel root"}`),
				msg("$liked", 1700000001000, `{"msgtype":"m.text","body":"kernel liked"}`),
				msg("$edited", 1700000002000, `{"msgtype":"m.text","body":"kernel edited"}`),
				msg("$quoted", 1700000003000, `{"msgtype":"m.text","body":"kernel quoted"}`),
				msg("$later", 1700000004000, `{"msgtype":"m.text","body":"kernel later"}`),
				msg("$inthread", 1700000005000, `{"msgtype":"m.text","body":"kernel reply","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
				`{"event_id":"$like","room_id":"!r:x","type":"m.reaction","sender":"@b:x","origin_server_ts":1700000006000,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$liked","key":"x"}}}`,
				msg("$edit", 1700000007000, `{"msgtype":"m.text","body":"* kernel edited again","m.new_content":{"msgtype":"m.text","body":"kernel edited again"},"m.relates_to":{"rel_type":"m.replace","event_id":"$edited"}}`),
				msg("$answer", 1700000008000, `{"msgtype":"m.text","body":"an answer","m.relates_to":{"m.in_reply_to":{"event_id":"$quoted"}}}`),
			)...)
			ix := openIndex(t, st, t.TempDir())
			catchUp(t, ix)
			if got := ids(search(t, ix, "kernel is:thread", "newest", 10, "")); !slices.Equal(got, []string{"$inthread", "$root"}) {
				t.Errorf("is:thread found %v, want [$inthread $root]", got)
			}
			add(t, st, msg("$late", 1700000009000, `{"msgtype":"m.text","body":"late reply","m.relates_to":{"rel_type":"m.thread","event_id":"$later"}}`))
			catchUp(t, ix)
			if got := ids(search(t, ix, "kernel is:thread", "newest", 10, "")); !slices.Equal(got, []string{"$inthread", "$later", "$root"}) {
				t.Errorf("after a reply to $later, is:thread found %v, want [$inthread $later $root]", got)
			}
		})
	}
}
