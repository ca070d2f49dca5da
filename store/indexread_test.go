package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// EventsInStoreOrder is EventsByID for IDs in the order the store took
// them (a catch-up's step): whichever way it reads them (a run of rows by
// nid, or by ID), it returns the same events, screened the same way: a
// hidden sender's without content, an erased one not at all, an ID the
// store never held not at all, and an event far from the run (an old
// message a later edit names) as well as those in it.
func TestEventsInStoreOrderAgreesWithEventsByID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		var stored []id.EventID
		for i := range 60 {
			// Every tenth opted out, every tenth erased; the runs
			// below begin and end with alice's.
			sender := "@alice:example.org"
			switch i % 10 {
			case 5:
				sender = "@bob:example.org"
			case 7:
				sender = "@carol:example.org"
			}
			e := mk(t, fmt.Sprintf("$m%02d", i), "m.room.message", sender, 2000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"line %d"}`, i))
			evs = append(evs, e)
			stored = append(stored, e.ID)
		}
		put(t, st, evs...)
		if _, err := st.OptOut(ctx, "@carol:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			ids  []id.EventID
		}{
			{"a whole run", stored},
			{"a run in its middle", stored[10:50]},
			{"every other one", everyOther(stored)},
			{"a run and an old event", append(slices.Clone(stored[40:]), "$create", "$name")},
			{"an old event first", append([]id.EventID{"$pl"}, stored[30:]...)},
			{"unknown IDs around a run", append(append([]id.EventID{"$never"}, stored[6:27]...), "$nor-this")},
			{"one event", stored[7:8]},
			{"far apart only", []id.EventID{"$create", stored[59]}},
			{"none", nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want, err := st.EventsByID(ctx, c.ids)
				if err != nil {
					t.Fatal(err)
				}
				got, err := st.EventsInStoreOrder(ctx, c.ids)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := describe(got), describe(want); g != w {
					t.Errorf("EventsInStoreOrder:\n%s\nEventsByID:\n%s", g, w)
				}
			})
		}
	})
}

func everyOther(ids []id.EventID) []id.EventID {
	var out []id.EventID
	for i := 0; i < len(ids); i += 2 {
		out = append(out, ids[i])
	}
	return out
}

// describe lists events by ID with what screening and indexing read of
// them, in ID order.
func describe(evs []store.Event) string {
	lines := make([]string, len(evs))
	for i, e := range evs {
		lines[i] = fmt.Sprintf("%s nid=%d room=%s sender=%s ts=%d public=%v redacted=%v optedout=%v expired=%v raw=%s",
			e.ID, e.NID, e.RoomID, e.Sender, e.OriginTS, e.Public, e.Redacted, e.OptedOut, e.Expired, e.Raw)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
