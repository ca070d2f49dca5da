package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/web"
)

// memberDay is a room whose 2026-01-01 holds 1,000 events, members of them
// membership changes (joins, name changes, leaves by many users) and the
// rest messages.
func memberDay(t *testing.T, members int) string {
	var lines []string
	for i := range 1000 {
		ts := 1767225601000 + int64(i)*1000
		if i >= members {
			lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), ts, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
			continue
		}
		user := fmt.Sprintf("@u%d:example.org", i%50)
		content := []string{`{"membership":"join"}`, `{"membership":"join","displayname":"Name %d"}`, `{"membership":"leave"}`}[i/50%3]
		if i/50%3 == 1 {
			content = fmt.Sprintf(content, i)
		}
		lines = append(lines, fmt.Sprintf(`{"event_id":"$s%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":%s}`,
			i, user, ts, user, content))
	}
	return writeRoom(t, lines...)
}

// TestDayQueriesBounded: a day page of 1,000 events issues a bounded number
// of queries, however many of its events are membership changes (each
// once cost a query of its own for the membership it replaced), and so do
// the day's text log and JSON.
func TestDayQueriesBounded(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) { dayQueries(t, dialect) })
	}
}

func dayQueries(t *testing.T, dialect string) {
	{
		counts := map[string][2]int64{}
		for k, members := range []int{0, 500} {
			st := storetest.Open(t, dialect)
			e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 1000, APIDayPageSize: 1000}, memberDay(t, members))
			// The room's via servers are known, as WarmVia leaves them
			// after a start: with 500 member events the room has more than
			// a page reads for them, and their computation after the page's
			// response would count in the next request's queries.
			if err := e.srv.WarmVia(context.Background()); err != nil {
				t.Fatal(err)
			}
			count, err := st.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"} {
				before := count()
				if rec := e.get(t, path); rec.Code != http.StatusOK {
					t.Fatalf("GET %s = %d", path, rec.Code)
				}
				c := counts[path]
				c[k] = count() - before
				counts[path] = c
			}
		}
		for path, c := range counts {
			t.Logf("%s: %d queries with 0 membership events, %d with 500", path, c[0], c[1])
			// The batched read of the previous membership is one more
			// query (two past an IN list of 500), never one per event. A
			// day of several pages counts its hours in one query
			// (store.HourCounts; it was one per hour, 46 queries in all).
			if c[1] > c[0]+2 || c[1] > 25 {
				t.Errorf("%s: %d queries with 0 membership events, %d with 500: not bounded", path, c[0], c[1])
			}
		}
	}
}
