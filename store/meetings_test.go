package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// MeetingStarts finds the messages that may start a meeting, in order, in
// this room only, without redacted ones or edits themselves: an original
// that an edit mentioning "startmeeting" targets ($chat) is found once, as
// the original.
func TestMeetingStarts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const alice = "@alice:example.org"
		put(t, st, append(baseRoom(t),
			mk(t, "$s1", "m.room.message", alice, 2000, nil, `{"msgtype":"m.text","body":"#startmeeting Weekly"}`),
			mk(t, "$chat", "m.room.message", alice, 2100, nil, `{"msgtype":"m.text","body":"hello"}`),
			mk(t, "$s2", "m.room.message", alice, 2200, nil, `{"msgtype":"m.text","body":"#StartMeeting"}`),
			mk(t, "$mention", "m.room.message", alice, 2300, nil, `{"msgtype":"m.text","body":"say startmeeting to begin"}`),
			mk(t, "$gone", "m.room.message", alice, 2400, nil, `{"msgtype":"m.text","body":"#startmeeting oops"}`),
			mk(t, "$edit", "m.room.message", alice, 2500, nil, `{"msgtype":"m.text","body":"* #startmeeting","m.new_content":{"msgtype":"m.text","body":"#startmeeting"},"m.relates_to":{"rel_type":"m.replace","event_id":"$chat"}}`),
			named(t, "!other:example.org", "$elsewhere", "m.room.message", alice, "", 2600, nil, `{"msgtype":"m.text","body":"#startmeeting"}`),
		)...)
		if res := put(t, st, mk(t, "$r", "m.room.redaction", alice, 3000, nil, `{"redacts":"$gone"}`)); res.RedactionsApplied != 1 {
			t.Fatalf("redaction not applied: %+v", res)
		}
		evs, err := st.MeetingStarts(context.Background(), room)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, string(e.ID))
		}
		if strings.Join(got, " ") != "$s1 $chat $s2 $mention" {
			t.Errorf("MeetingStarts = %v, want $s1 $chat $s2 $mention", got)
		}
	})
}
