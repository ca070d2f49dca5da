package store_test

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedReadsHoldNoJSONInSQLite: on SQLite, whose window functions
// and sorts hold their rows in memory, Related and RelatedIn rank a
// message's relations without carrying their JSON through the sort: a
// read of a thread of 600 replies of 90,000 bytes (54 MB, of which
// MaxRelatedBytes are read) takes the process's resident memory no more
// than 20 MiB above what it was (the 2 MiB read, more with -race).
// Carried through, each read held 25-60 MB of it (measured by the process's
// peak, VmHWM, reset before each read; the store's tests run one at a
// time).
func TestRelatedReadsHoldNoJSONInSQLite(t *testing.T) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		t.Skip("no /proc/self/clear_refs to reset the peak with")
	}
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	at := bigThread(t, st, 600)
	for name, read := range map[string]func() ([]store.Event, error){
		"Related":   func() ([]store.Event, error) { return st.Related(ctx, []id.EventID{"$root"}) },
		"RelatedIn": func() ([]store.Event, error) { return st.RelatedIn(ctx, room, at, at) },
	} {
		if _, err := read(); err != nil { // the connection's statements and pages, once
			t.Fatal(err)
		}
		// The garbage of writing the thread, and of the tests before, is
		// collected first: a collection or a heap grown for it during the
		// read counted in the read's peak (36 MiB once in CI, whose
		// earlier tests had left more).
		debug.FreeOSMemory()
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Fatal(err)
		}
		before := procStatusKB(t, "VmRSS")
		got, err := read()
		if err != nil || len(got) == 0 || len(got) > 30 {
			t.Fatalf("%s: %d events, %v", name, len(got), err)
		}
		grew := procStatusKB(t, "VmHWM") - before
		t.Logf("%s: the peak grew %d KiB", name, grew)
		if grew > 20<<10 {
			t.Errorf("%s: the process's peak grew %d KiB during a read of %d relations", name, grew, len(got))
		}
	}
}

// procStatusKB is a field of /proc/self/status, in KiB.
func procStatusKB(t *testing.T, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == field+":" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// bigThread stores a room whose message $root, on day 20, has n thread
// replies $reply000… of 90,000 bytes each, and more (relations of $root
// the caller makes), and returns $root's place.
func bigThread(t *testing.T, st *store.Store, n int, more ...store.Event) store.Position {
	t.Helper()
	day := 20 * dayMS
	evs := append(baseRoom(t), mk(t, "$root", "m.room.message", "@alice:example.org", day+1000, nil, `{"msgtype":"m.text","body":"root"}`))
	pad := strings.Repeat("a", 90000)
	for i := range n {
		evs = append(evs, mk(t, fmt.Sprintf("$reply%03d", i), "m.room.message", "@bob:example.org", day+2000+int64(i), nil,
			fmt.Sprintf(`{"msgtype":"m.text","body":"reply %d %s","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`, i, pad)))
	}
	put(t, st, append(evs, more...)...)
	root, err := st.EventByID(context.Background(), "$root")
	if err != nil {
		t.Fatal(err)
	}
	return store.PositionOf(root)
}
