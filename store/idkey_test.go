package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestIDKeyIsStable: search indexes on disk name events by their keys, so
// a key never changes: FNV-1a on SQLite, MD5's first 8 bytes on
// PostgreSQL (values computed outside Go).
func TestIDKeyIsStable(t *testing.T) {
	want := map[string]map[id.EventID]uint64{
		"sqlite": {
			"$a": 0x07b84f07b483b2d6,
			"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3Qj1NDMq": 0x3be0603abde851c2,
		},
		"postgres": {
			"$a": 0x52d5b5e885b21331,
			"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3Qj1NDMq": 0x41a65b40786d994b,
		},
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for ev, k := range want[st.Dialect()] {
			if got := st.IDKey(ev); got != k {
				t.Errorf("IDKey(%s) = %#x, want %#x", ev, got, k)
			}
		}
	})
}

// keyedIDs are event IDs of every form a room can hold: a hash (room
// versions 4 and later), an ID with a server name (versions 1-3), and
// hostile ones (non-ASCII, quotes, a backslash, a NUL-free control byte).
var keyedIDs = []string{
	"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3Qj1NDMq",
	"$abcdef:example.org",
	"$é€😀:exämple.org",
	`$"quoted'\back\slash`,
	"$tab\there",
	"$" + strings.Repeat("x", 250),
}

// TestEventsByKey: EventsByKey finds each event by its key, every form of
// ID alike, and nothing for a key no event has; on PostgreSQL the key Go
// computes is the one the index holds (idkey).
func TestEventsByKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		for i, ev := range keyedIDs {
			evs = append(evs, mk(t, ev, "m.room.message", "@alice:example.org", int64(5000+i), nil, `{"msgtype":"m.text","body":"hi"}`))
		}
		put(t, st, evs...)
		if st.Dialect() == "postgres" {
			conn, err := st.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, ev := range keyedIDs {
				var k int64
				if err := conn.QueryRowContext(ctx, `SELECT idkey($1)`, ev).Scan(&k); err != nil {
					t.Fatal(err)
				}
				if uint64(k) != st.IDKey(id.EventID(ev)) {
					t.Errorf("idkey(%q) = %#x in SQL, %#x in Go", ev, uint64(k), st.IDKey(id.EventID(ev)))
				}
			}
		}
		// Each alone, then all at once with a key of nothing among them.
		keys := []uint64{st.IDKey("$not-stored")}
		for _, ev := range keyedIDs {
			keys = append(keys, st.IDKey(id.EventID(ev)))
			got, err := st.EventsByKey(ctx, []uint64{st.IDKey(id.EventID(ev))})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || string(got[0].ID) != ev {
				t.Errorf("EventsByKey(key of %q) = %v", ev, eventIDs(got))
			}
		}
		got, err := st.EventsByKey(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		ids := eventIDs(got)
		slices.Sort(ids)
		want := slices.Clone(keyedIDs)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("EventsByKey(all keys) = %q, want %q", ids, want)
		}
		if got, err := st.EventsByKey(ctx, []uint64{st.IDKey("$not-stored")}); err != nil || len(got) != 0 {
			t.Errorf("EventsByKey(a key of nothing) = %v, %v", eventIDs(got), err)
		}
	})
}

// TestEventsByKeyUsesItsIndex: the lookup by key probes an index, not the
// table: events_eh on SQLite, events_idkey on PostgreSQL.
func TestEventsByKeyUsesItsIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		query, args := store.EventsByKeyQuery(st)
		plan := queryPlan(t, st, query, args...)
		index := map[string]string{"sqlite": "events_eh", "postgres": "events_idkey"}[st.Dialect()]
		if !strings.Contains(plan, index) {
			t.Errorf("EventsByKey's query does not probe %s:\n%s", index, plan)
		}
	})
}

func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.ID)
	}
	return out
}
