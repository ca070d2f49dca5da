package ingest_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A file that states its room's history visibility is judged by it,
// vouched or not (TestVouchedExportStateIsPublic), even when an earlier
// file of the same run (one ingester: archiver import a.json b.json)
// named the room without stating it: a vouch ends with its file. It
// outlived it, and the later file's state and messages before its first
// visibility event were stored public, where imported alone they are
// hidden.
func TestVouchEndsWithItsFile(t *testing.T) {
	first := func(t *testing.T) string {
		// A stray member event of the room: no visibility stated.
		return writeLines(t, []string{
			ev("$stray", "m.room.member", "@eve:example.org", 50, sk("@eve:example.org"), `{"membership":"join"}`),
		})
	}
	second := func(t *testing.T) string {
		return writeLines(t, []string{
			ev("$c", "m.room.create", "@alice:example.org", 1, sk(""), `{"room_version":"10"}`),
			ev("$j", "m.room.member", "@alice:example.org", 2, sk("@alice:example.org"), `{"membership":"join"}`),
			ev("$k", "m.room.member", "@bob:example.org", 3, sk("@bob:example.org"), `{"membership":"join"}`),
			msg("$m", 4, "said while the history was not public"),
			ev("$h", "m.room.history_visibility", "@alice:example.org", 6, sk(""), `{"history_visibility":"world_readable"}`),
			msg("$m2", 7, "shown"),
		})
	}
	check := func(t *testing.T, st *store.Store, label string) {
		evs, err := st.EventsByID(context.Background(), []id.EventID{"$j", "$k", "$m"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Public {
				t.Errorf("%s: %s %s (before the stated visibility) stored public", label, e.Type, e.ID)
			}
		}
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// Alone: the stated file hides what came before its visibility.
		alone := ingest.New(st, storetest.Logger(t), "")
		importFile(t, alone, second(t), ingest.ImportOptions{AssumeWorldReadable: true})
		check(t, st, "alone")
	})
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := ingest.New(st, storetest.Logger(t), "")
		importFile(t, in, first(t), ingest.ImportOptions{AssumeWorldReadable: true})
		importFile(t, in, second(t), ingest.ImportOptions{AssumeWorldReadable: true})
		check(t, st, "after a file that named the room")
	})
}
