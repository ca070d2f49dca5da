package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// MeetingStarts finds the messages that may start a meeting, in order, in
// this room only, without redacted ones or edits themselves: an original
// that an edit mentioning "startmeeting" targets ($chat) is found once, as
// the original, as is one that mentions it and whose edit does too ($s1).
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
			// A start that mentions it and whose edit does too: found once.
			mk(t, "$edit1", "m.room.message", alice, 2700, nil, `{"msgtype":"m.text","body":"* #startmeeting Weekly sync","m.new_content":{"msgtype":"m.text","body":"#startmeeting Weekly sync"},"m.relates_to":{"rel_type":"m.replace","event_id":"$s1"}}`),
		)...)
		if res := put(t, st, mk(t, "$r", "m.room.redaction", alice, 3000, nil, `{"redacts":"$gone"}`)); res.RedactionsApplied != 1 {
			t.Fatalf("redaction not applied: %+v", res)
		}
		evs, err := st.MeetingStarts(context.Background(), room, 0)
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
		// Past MaxMeetings the newest are kept; until bounds their time.
		var more []store.Event
		for i := range store.MaxMeetings {
			more = append(more, mk(t, fmt.Sprintf("$n%04d", i), "m.room.message", alice, 5000+int64(i), nil, `{"msgtype":"m.text","body":"#startmeeting"}`))
		}
		put(t, st, more...)
		if evs, err = st.MeetingStarts(context.Background(), room, 0); err != nil {
			t.Fatal(err)
		}
		if len(evs) != store.MaxMeetings || evs[0].ID != "$n0000" || evs[len(evs)-1].ID != more[len(more)-1].ID {
			t.Errorf("MeetingStarts of %d = %d, from %s to %s; want the newest %d in order", store.MaxMeetings+4, len(evs), evs[0].ID, evs[len(evs)-1].ID, store.MaxMeetings)
		}
		if evs, err = st.MeetingStarts(context.Background(), room, 2250); err != nil || len(evs) != 3 || evs[2].ID != "$s2" {
			t.Errorf("MeetingStarts until 2250 = %d, %v; want $s1 $chat $s2", len(evs), err)
		}
	})
}

// TestMeetingStartsAreIndexProbes: MeetingStarts reads both its halves
// (the messages mentioning "startmeeting", the originals their edits
// target) from events_meeting, the index of such messages, on both
// databases (queryPlan): a meetings page costs the room's meetings, not
// the room. With the halves as one OR, both databases read every message
// of the room.
func TestMeetingStartsAreIndexProbes(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.MeetingStartsSQL(st), string(room), store.MaxMeetings, 1<<62)
		if n := strings.Count(plan, "events_meeting"); n < 2 {
			t.Errorf("MeetingStarts reads events_meeting %d times, want both halves:\n%s", n, plan)
		}
		// (How the originals are then looked up is the planner's choice on
		// a table this small; on the 1M replay, by event_id.)
		if strings.Contains(strings.ToLower(plan), "seq scan") || strings.Contains(plan, "SCAN events") || strings.Contains(plan, "SCAN x") {
			t.Errorf("MeetingStarts reads the room:\n%s", plan)
		}
	})
}
