package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

const hourMS = int64(time.Hour / time.Millisecond)

// HourCounts counts a day's shown messages by the hour in one query (a day
// page of several pages once spent 24 of its queries here), with the
// per-hour counts DayCounts gives for each hour: the first and last
// millisecond of an hour, empty hours left out, a busy hour capped at
// MaxCount, and redacted, edit, non-public and opted-out messages not
// counted; polls counted as messages, as DayCounts counts them.
func TestHourCounts(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, dialect)
			d0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
			const poll = `{"m.poll.start":{"question":{"m.text":"Lunch?"},"answers":[{"id":"y","m.text":"Yes"}]}}`
			msg := func(evID, sender string, ts int64) store.Event {
				return mk(t, evID, "m.room.message", sender, ts, nil, `{"msgtype":"m.text","body":"hi"}`)
			}
			hidden := msg("$private", "@alice:example.org", d0+7*hourMS+3)
			hidden.Public = false
			evs := append(baseRoom(t),
				msg("$prev", "@alice:example.org", d0-1), // the day before's last millisecond
				msg("$h0a", "@alice:example.org", d0),    // 00:00:00.000
				msg("$h0b", "@alice:example.org", d0+hourMS-1),
				msg("$h1", "@alice:example.org", d0+hourMS), // 01:00:00.000
				msg("$gone", "@alice:example.org", d0+7*hourMS+1),
				mk(t, "$edit", "m.room.message", "@alice:example.org", d0+7*hourMS+2, nil,
					`{"msgtype":"m.text","body":"* hi","m.new_content":{"msgtype":"m.text","body":"hi"},"m.relates_to":{"rel_type":"m.replace","event_id":"$h1"}}`),
				hidden,
				msg("$bob7", "@bob:example.org", d0+7*hourMS+4),
				msg("$bob8", "@bob:example.org", d0+8*hourMS),
				msg("$h8", "@alice:example.org", d0+8*hourMS+5),
				msg("$last", "@alice:example.org", d0+24*hourMS-1),
				msg("$next", "@alice:example.org", d0+24*hourMS), // the next day
				// Polls count as messages (DayCounts): hour 3 has only
				// one; Bob's counts until he opts out; a redacted one,
				// an edit of one and a state event of a poll's type do
				// not count.
				mk(t, "$poll3", "m.poll.start", "@alice:example.org", d0+3*hourMS+1, nil, poll),
				mk(t, "$poll3e", "m.poll.start", "@alice:example.org", d0+3*hourMS+2, nil, editOf("$poll3", poll)),
				mk(t, "$poll3s", "m.poll.start", "@alice:example.org", d0+3*hourMS+3, sk(""), poll),
				mk(t, "$pollbob", "org.matrix.msc3381.poll.start", "@bob:example.org", d0+8*hourMS+6, nil, poll),
				mk(t, "$pollgone", "m.poll.start", "@alice:example.org", d0+10*hourMS, nil, poll),
				mk(t, "$pollbusy", "m.poll.start", "@alice:example.org", d0+5*hourMS+store.MaxCount+10, nil, poll),
			)
			for i := range store.MaxCount + 5 { // a busy hour
				evs = append(evs, msg(fmt.Sprintf("$busy%d", i), "@alice:example.org", d0+5*hourMS+int64(i)))
			}
			put(t, st, evs...)
			put(t, st, mk(t, "$red", "m.room.redaction", "@alice:example.org", d0+9*hourMS, nil, `{"redacts":"$gone"}`),
				mk(t, "$redpoll", "m.room.redaction", "@alice:example.org", d0+10*hourMS+1, nil, `{"redacts":"$pollgone"}`))
			// Bob's messages count until he opts out, and again once he
			// opts in: with no one opted out, the counts skip the
			// opt-out probe (shownMessageCond).
			withBob := map[int64]int{d0: 2, d0 + hourMS: 1, d0 + 3*hourMS: 1, d0 + 5*hourMS: store.MaxCount, d0 + 7*hourMS: 1, d0 + 8*hourMS: 3, d0 + 23*hourMS: 1}
			if got, err := st.HourCounts(ctx, room, d0); err != nil || fmt.Sprint(got) != fmt.Sprint(withBob) {
				t.Errorf("before the opt-out: HourCounts = %v, %v\nwant                                %v", got, err, withBob)
			}
			if _, err := st.OptOut(ctx, "@bob:example.org", "dm"); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					return
				}
				if _, err := st.OptIn(ctx, "@bob:example.org"); err != nil {
					t.Fatal(err)
				}
				if got, err := st.HourCounts(ctx, room, d0); err != nil || fmt.Sprint(got) != fmt.Sprint(withBob) {
					t.Errorf("after the opt-in: HourCounts = %v, %v\nwant                              %v", got, err, withBob)
				}
			}()

			count, err := st.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			// The first read loads the store's view of policies and opt-outs;
			// later ones only check the change feed for news (one query).
			if _, err := st.HourCounts(ctx, room, d0); err != nil {
				t.Fatal(err)
			}
			before := count()
			got, err := st.HourCounts(ctx, room, d0)
			if err != nil {
				t.Fatal(err)
			}
			queries := count() - before
			t.Logf("HourCounts: %d queries", queries)
			if queries > 2 {
				t.Errorf("HourCounts issued %d queries, want at most 2 (the consent check and the count)", queries)
			}
			want := map[int64]int{d0: 2, d0 + hourMS: 1, d0 + 3*hourMS: 1, d0 + 5*hourMS: store.MaxCount, d0 + 8*hourMS: 1, d0 + 23*hourMS: 1}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("HourCounts = %v\nwant         %v", got, want)
			}
			for h := d0; h < d0+24*hourMS; h += hourMS {
				per, err := st.DayCounts(ctx, room, h, h+hourMS)
				if err != nil {
					t.Fatal(err)
				}
				if per[d0] != got[h] {
					t.Errorf("hour %s: HourCounts %d, counted alone %d", time.UnixMilli(h).UTC().Format("15:04"), got[h], per[d0])
				}
			}
			if got, err := st.HourCounts(ctx, "!unknown:example.org", d0); err != nil || len(got) != 0 {
				t.Errorf("unknown room: %v %v", got, err)
			}

			// From an hour on: the same counts, for those hours only.
			rest, err := st.HourCountsFrom(ctx, room, d0, d0+5*hourMS)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[int64]int{d0 + 5*hourMS: store.MaxCount, d0 + 8*hourMS: 1, d0 + 23*hourMS: 1}; fmt.Sprint(rest) != fmt.Sprint(want) {
				t.Errorf("HourCountsFrom 05:00 = %v\nwant                   %v", rest, want)
			}
			for _, bad := range []int64{d0 - hourMS, d0 + 24*hourMS, d0 + 5*hourMS + 1} {
				if _, err := st.HourCountsFrom(ctx, room, d0, bad); err == nil {
					t.Errorf("HourCountsFrom at %d: no error", bad-d0)
				}
			}
			// The events a day page reads, counted with Counted, give
			// the store's counts: the Go statement of a message shown in
			// full is the SQL one.
			page, _, err := st.DayPage(ctx, room, d0, d0+24*hourMS, store.Position{}, 2*store.MaxCount, 0)
			if err != nil {
				t.Fatal(err)
			}
			mine := map[int64]int{}
			for _, e := range page {
				if e.Counted() {
					h := d0 + (e.OriginTS-d0)/hourMS*hourMS
					mine[h] = min(mine[h]+1, store.MaxCount)
				}
			}
			if fmt.Sprint(mine) != fmt.Sprint(got) {
				t.Errorf("counted with Counted %v\nHourCounts           %v", mine, got)
			}
		})
	}
}

// HourCounts leaves expired messages out: the hour holding the expiry cut
// counts only what is after it, earlier hours nothing. The store's clock
// is set, so the cut is known to the millisecond: now, and with the cut
// just before and just after a midnight, where a day's first message is
// kept or expired by two minutes (the test once read the clock itself and
// took the first for expired; it failed when run in the five minutes
// before midnight).
func TestHourCountsExpiry(t *testing.T) {
	real := time.Now()
	midnight := real.Truncate(24 * time.Hour)
	clocks := []struct {
		name string
		now  time.Time
	}{
		{"now", real},
		{"cut before midnight", midnight.Add(48*time.Hour - 2*time.Minute)},
		{"cut after midnight", midnight.Add(48*time.Hour + 2*time.Minute)},
	}
	for _, clock := range clocks {
		for _, dialect := range storetest.Dialects {
			t.Run(dialect+"/"+clock.name, func(t *testing.T) {
				ctx := context.Background()
				st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(48 * time.Hour)}})
				st.SetNow(func() time.Time { return clock.now })
				cut := clock.now.UnixMilli() - 48*hourMS
				kept := cut + 5*60000
				day := kept - kept%dayMS
				times := map[string]int64{
					"$expired": kept - 10*60000, // the same hour as the cut, or the one before
					"$early":   day,             // expired, unless the cut is just before it
					"$kept":    kept,
					"$later":   kept + 90*60000,
				}
				evs := baseRoom(t)
				want := map[int64]int{}
				for evID, ts := range times {
					evs = append(evs, mk(t, evID, "m.room.message", "@alice:example.org", ts, nil, `{"msgtype":"m.text","body":"hi"}`))
					if ts >= cut && ts < day+dayMS {
						want[ts-ts%hourMS]++
					}
				}
				put(t, st, evs...)
				got, err := st.HourCounts(ctx, room, day)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("HourCounts with a 48 h lifetime = %v\nwant %v", got, want)
				}
			})
		}
	}
}
