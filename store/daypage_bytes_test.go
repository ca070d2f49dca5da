package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestDayPageBoundedByBytes: a day read with a bound on its events' JSON
// stops at the event that reaches it, says more follow only when one
// does, and its pages, forwards and backwards, read every event of the
// day once, as the unbounded read does.
func TestDayPageBoundedByBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, directDay(t)...)
		from, to := 20*dayMS, 21*dayMS
		whole, more, err := st.DayPage(ctx, room, from, to, store.Position{}, 1000, 0)
		if err != nil || more || len(whole) < 40 {
			t.Fatalf("whole day: %d events, more %v, %v", len(whole), more, err)
		}
		for _, bound := range []int{1, 300, 1000, 4000} {
			// Forwards: each page's bytes before its last event are
			// under the bound, with its last they reach it (but on the
			// day's last page).
			var got []store.Event
			for pos, pages := (store.Position{}), 0; ; pages++ {
				evs, more, err := st.DayPage(ctx, room, from, to, pos, 1000, bound)
				if err != nil || len(evs) == 0 || pages > len(whole) {
					t.Fatalf("bound %d: page %d: %d events, %v", bound, pages, len(evs), err)
				}
				if n := jsonBytes(evs[:len(evs)-1]); n >= bound {
					t.Errorf("bound %d: page %d holds %d bytes before its last event", bound, pages, n)
				}
				if n := jsonBytes(evs); more && n < bound {
					t.Errorf("bound %d: page %d (%d bytes) is cut short of it", bound, pages, n)
				}
				got = append(got, evs...)
				if !more {
					break
				}
				pos = store.PositionOf(evs[len(evs)-1])
			}
			if ids(got) != ids(whole) {
				t.Errorf("bound %d: pages read %s, the whole day %s", bound, ids(got), ids(whole))
			}
			// Backwards from the day's end, the same the other way.
			got = nil
			for before, pages := (store.Position{TS: to}), 0; ; pages++ {
				evs, more, err := st.DayPageBefore(ctx, room, from, before, 1000, bound)
				if err != nil || len(evs) == 0 || pages > len(whole) {
					t.Fatalf("bound %d: page %d back: %d events, %v", bound, pages, len(evs), err)
				}
				if n := jsonBytes(evs[1:]); n >= bound {
					t.Errorf("bound %d: page %d back holds %d bytes after its first event", bound, pages, n)
				}
				got = append(append([]store.Event(nil), evs...), got...)
				if !more {
					break
				}
				before = store.PositionOf(evs[0])
			}
			if ids(got) != ids(whole) {
				t.Errorf("bound %d: pages back read %s, the whole day %s", bound, ids(got), ids(whole))
			}
		}
		// A bound the whole day reaches only with its last event: one
		// page, and nothing more.
		evs, more, err := st.DayPage(ctx, room, from, to, store.Position{}, 1000, jsonBytes(whole))
		if err != nil || more || len(evs) != len(whole) {
			t.Errorf("a bound the day's last event reaches: %d events of %d, more %v, %v", len(evs), len(whole), more, err)
		}
	})
}

func jsonBytes(evs []store.Event) int {
	n := 0
	for _, e := range evs {
		n += len(e.Raw)
	}
	return n
}

func ids(evs []store.Event) string {
	s := ""
	for _, e := range evs {
		s += string(e.ID) + " "
	}
	return s
}
