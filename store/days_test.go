package store_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

const dayMS = int64(24 * time.Hour / time.Millisecond)

func fmtDays(days []store.Day) string {
	parts := make([]string, len(days))
	for i, d := range days {
		parts[i] = fmt.Sprintf("%s@%d", d.Start.Format("2006-01-02"), d.LastTS)
	}
	return strings.Join(parts, " ")
}

// RoomDays lists exactly the days with a message shown in full, each with
// its latest such message: days holding only redacted, opted-out,
// non-public, edit or state events are left out.
func TestRoomDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
		msg := func(evID, sender string, ts int64) store.Event {
			return mk(t, evID, "m.room.message", sender, ts, nil, `{"msgtype":"m.text","body":"hi"}`)
		}
		hidden := msg("$private", "@alice:example.org", d0+3*dayMS+10)
		hidden.Public = false
		put(t, st, append(baseRoom(t),
			msg("$a1", "@alice:example.org", d0+5),         // day 0: two messages
			msg("$a2", "@alice:example.org", d0+dayMS-1),   // the day's last millisecond
			msg("$gone", "@alice:example.org", d0+dayMS+7), // day 1: only a redacted message
			mk(t, "$edit", "m.room.message", "@alice:example.org", d0+2*dayMS+1, nil, // day 2: only an edit
				`{"msgtype":"m.text","body":"* hi","m.new_content":{"msgtype":"m.text","body":"hi"},"m.relates_to":{"rel_type":"m.replace","event_id":"$a1"}}`),
			hidden, // day 3: only a message sent while the room was not public
			mk(t, "$topic", "m.room.topic", "@alice:example.org", d0+4*dayMS, sk(""), `{"topic":"t"}`), // day 4: state only
			msg("$bob", "@bob:example.org", d0+5*dayMS+3),                                              // day 5: only an opted-out sender
			msg("$b1", "@bob:example.org", d0+6*dayMS+1),                                               // day 6: an opted-out sender, then alice
			msg("$c1", "@alice:example.org", d0+6*dayMS+2),                                             //
			msg("$b2", "@bob:example.org", d0+6*dayMS+9),                                               // (bob's later message does not count)
			msg("$z", "@alice:example.org", d0+40*dayMS+dayMS/2),                                       // a month later
		)...)
		put(t, st, mk(t, "$red", "m.room.redaction", "@alice:example.org", d0+dayMS+8, nil, `{"redacts":"$gone"}`))
		if _, err := st.OptOut(ctx, "@bob:example.org", "dm"); err != nil {
			t.Fatal(err)
		}
		want := "2026-03-02@" + fmt.Sprint(d0+dayMS-1) + " 2026-03-08@" + fmt.Sprint(d0+6*dayMS+2) + " 2026-04-11@" + fmt.Sprint(d0+40*dayMS+dayMS/2)
		days, err := st.RoomDays(ctx, room, math.MinInt64, math.MaxInt64, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmtDays(days); got != want {
			t.Errorf("days = %s\nwant   %s", got, want)
		}
		// Bounds and the limit.
		if days, _ := st.RoomDays(ctx, room, d0+dayMS, d0+40*dayMS, 100); fmtDays(days) != "2026-03-08@"+fmt.Sprint(d0+6*dayMS+2) {
			t.Errorf("days in [day 1, day 40) = %s", fmtDays(days))
		}
		if days, _ := st.RoomDays(ctx, room, math.MinInt64, math.MaxInt64, 2); len(days) != 2 || days[1].Start.Day() != 8 {
			t.Errorf("limit 2 = %s", fmtDays(days))
		}
		// Opting in again brings day 5 back.
		if _, err := st.OptIn(ctx, "@bob:example.org"); err != nil {
			t.Fatal(err)
		}
		if days, _ := st.RoomDays(ctx, room, math.MinInt64, math.MaxInt64, 100); len(days) != 4 || days[2].LastTS != d0+6*dayMS+9 {
			t.Errorf("after opt-in: %s", fmtDays(days))
		}
		if days, err := st.RoomDays(ctx, "!unknown:example.org", math.MinInt64, math.MaxInt64, 100); err != nil || len(days) != 0 {
			t.Errorf("unknown room: %s %v", fmtDays(days), err)
		}
	})
}

// Expired messages make no day appear.
func TestRoomDaysExpiry(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(48 * time.Hour)}})
			now := time.Now().UnixMilli()
			put(t, st, append(baseRoom(t),
				mk(t, "$old", "m.room.message", "@alice:example.org", now-5*dayMS, nil, `{"msgtype":"m.text","body":"old"}`),
				mk(t, "$new", "m.room.message", "@alice:example.org", now-1000, nil, `{"msgtype":"m.text","body":"new"}`),
			)...)
			days, err := st.RoomDays(ctx, room, math.MinInt64, math.MaxInt64, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 1 || days[0].LastTS != now-1000 {
				t.Errorf("with a 48 h lifetime: %s", fmtDays(days))
			}
		})
	}
}
