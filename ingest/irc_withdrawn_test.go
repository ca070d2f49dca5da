package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// twoLineLog is a day's log of two lines, on lines 2 and 3 of the file.
const twoLineLog = "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:01 <clarkb> two\n"

// lineNumbers lists the lines of les whose error is target.
func lineNumbers(les []ingest.LineError, target error) string {
	var out []string
	for _, le := range les {
		if errors.Is(le.Err, target) {
			out = append(out, fmt.Sprint(le.Line))
		}
	}
	return strings.Join(out, " ")
}

// TestLinesPurgedWithAWrongRoomAreReportedOnReimport: a log imported with
// a mistyped --new-room, that room purged, and the log imported into the
// right room. A line's ID comes from network, channel, day, time and
// position, not the room, so the purge's tombstones hold the lines out
// of the right room too (the tombstone rule: what was deleted on purpose
// never comes back). The report said "5 events read, 3 stored, 0 already
// archived" (the 3 the new room's own events) and counted the two lines
// nowhere (helper-116): they are now counted and named.
func TestLinesPurgedWithAWrongRoomAreReportedOnReimport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		p := filepath.Join(t.TempDir(), "#opendev.log")
		if err := os.WriteFile(p, []byte(twoLineLog), 0o600); err != nil {
			t.Fatal(err)
		}
		wrong := ircOptions(t)
		wrong.NewRoomAlias = "#opendve:archive.test"
		wrong.Room, _ = irclog.RoomID(wrong.NewRoomAlias)
		if rep := importIRC(t, in, p, wrong); rep.Stored != 5 {
			t.Fatalf("into the wrong room: %s", rep)
		}
		if _, err := st.PurgeRoom(ctx, wrong.Room, false); err != nil {
			t.Fatal(err)
		}

		right := ircOptions(t)
		rep := importIRC(t, in, p, right)
		if rep.Stored != 3 || rep.Duplicates != 0 || rep.Withdrawn != 2 || len(rep.Changed) != 0 || len(rep.OtherRoom) != 0 {
			t.Errorf("into the right room: %s; want the room's 3 events stored and its 2 lines withdrawn", rep)
		}
		if got := lineNumbers(rep.WithdrawnLines, ingest.ErrIRCWithdrawn); got != "2 3" || len(rep.WithdrawnLines) != 2 {
			t.Errorf("withdrawn lines %v; want lines 2 and 3", rep.WithdrawnLines)
		}
		if s := rep.String(); !strings.Contains(s, "; 2 events were deleted from this archive before (their room purged, their sender erased, expired, or withheld as not public) and are not imported again") {
			t.Errorf("report %q does not say the 2 lines were deleted before", s)
		}
		if got := ircDay(t, st, right.Room); len(got) != 0 {
			t.Errorf("right room holds %q: a purge's tombstones must keep the lines out", got)
		}
	})
}

// TestErasedSendersLinesAreReportedNotImported: an erased nick's line stays
// out when its log is imported again (the tombstone rule), and the report
// names it rather than count it nowhere.
func TestErasedSendersLinesAreReportedNotImported(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
		p := filepath.Join(t.TempDir(), "#opendev.log")
		if err := os.WriteFile(p, []byte(twoLineLog), 0o600); err != nil {
			t.Fatal(err)
		}
		importIRC(t, in, p, opts)
		senders, err := ingest.IRCSenders(ctx, st, opts.Room, "fungi")
		if err != nil || len(senders) != 1 {
			t.Fatalf("fungi imported as %v, %v", senders, err)
		}
		if _, err := st.EraseUser(ctx, senders[0], false); err != nil {
			t.Fatal(err)
		}
		rep := importIRC(t, in, p, opts)
		if rep.Stored != 0 || rep.Withdrawn != 1 || len(rep.Changed) != 0 {
			t.Errorf("again after erasing fungi: %s; want fungi's line withdrawn", rep)
		}
		if got := lineNumbers(rep.WithdrawnLines, ingest.ErrIRCWithdrawn); got != "2" || len(rep.WithdrawnLines) != 1 {
			t.Errorf("withdrawn lines %v; want line 2", rep.WithdrawnLines)
		}
		if got, want := strings.Join(ircDay(t, st, opts.Room), " / "), "clarkb: two"; got != want {
			t.Errorf("archived %q, want %q", got, want)
		}
	})
}

// TestSameLogInASecondRoomNamesTheRoomThatHasIt: a log imported into a
// room of its own, then into a second room (the Matrix room the channel
// moved to). Its lines' IDs are the first import's, whatever the room,
// so the second room gets none of them; the report said only "2 already
// archived" (helper-116) and now names the room that holds them.
func TestSameLogInASecondRoomNamesTheRoomThatHasIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := ingest.New(st, storetest.Logger(t), "")
		p := filepath.Join(t.TempDir(), "#opendev.log")
		if err := os.WriteFile(p, []byte(twoLineLog), 0o600); err != nil {
			t.Fatal(err)
		}
		first := ircOptions(t)
		importIRC(t, in, p, first)
		second := ircOptions(t)
		second.NewRoomAlias = "#opendev-history:archive.test"
		second.Room, _ = irclog.RoomID(second.NewRoomAlias)
		rep := importIRC(t, in, p, second)
		if rep.Stored != 3 || rep.Duplicates != 2 || rep.Withdrawn != 0 || len(rep.Changed) != 0 {
			t.Errorf("into the second room: %s; want its 3 events stored and the 2 lines already archived", rep)
		}
		if got := lineNumbers(rep.OtherRoom, ingest.ErrIRCOtherRoom); got != "2 3" || len(rep.OtherRoom) != 2 {
			t.Errorf("lines in another room %v; want lines 2 and 3", rep.OtherRoom)
		}
		for _, le := range rep.OtherRoom {
			var o *ingest.OtherRoomError
			if !errors.As(le.Err, &o) || o.Room != first.Room {
				t.Errorf("line %d: %v; want it named in %s", le.Line, le.Err, first.Room)
			}
		}
		if s, want := rep.String(), fmt.Sprintf("; 2 of those already archived are in another room, not this one (%s): an IRC line is archived in one room only", first.Room); !strings.Contains(s, want) {
			t.Errorf("report %q\nwant it to hold %q", s, want)
		}
	})
}

// TestOtherRoomsDifferentLineAtAPositionDoesNotHideThisLogsLine: Alice's
// log of #opendev went into a room of its own by mistake; Bob's log of
// the same channel and minute goes into the channel's room. His "one" is
// Alice's line at her position (archived in her room, and reported so);
// his "three" is at the position of her "two", a different line. A line's
// ID does not depend on the room, and the archived lines near Bob's were
// read in his room only, so "three" was written under its own ID, dropped
// as a duplicate and reported as archived in Alice's room: stored nowhere
// (helper-126). It is stored beside her "two", in Bob's room.
func TestOtherRoomsDifferentLineAtAPositionDoesNotHideThisLogsLine(t *testing.T) {
	alice := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n"
	bob := "--- Log opened Tue Aug 17 19:00:30 2021\n19:00 <fungi> one\n19:00 <corvus> three\n19:00 <fungi> four\n"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := ingest.New(st, storetest.Logger(t), "")
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "alice.log"), filepath.Join(dir, "bob.log")
		if err := os.WriteFile(pa, []byte(alice), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pb, []byte(bob), 0o600); err != nil {
			t.Fatal(err)
		}
		a := ircOptions(t)
		a.NewRoomAlias = "#opendev-alice:archive.test"
		a.Room, _ = irclog.RoomID(a.NewRoomAlias)
		importIRC(t, in, pa, a)
		b := ircOptions(t)
		for i, what := range []string{"bob's log", "bob's log again"} {
			rep := importIRC(t, in, pb, b)
			if i > 0 && rep.Stored != 0 {
				t.Errorf("%s: %s; want nothing stored", what, rep)
			}
			if len(rep.Changed) != 0 || len(rep.WithdrawnLines) != 0 {
				t.Errorf("%s: changed %v, withdrawn %v; want none", what, rep.Changed, rep.WithdrawnLines)
			}
			if got := lineNumbers(rep.OtherRoom, ingest.ErrIRCOtherRoom); got != "2" || len(rep.OtherRoom) != 1 {
				t.Errorf("%s: lines in another room %v; want line 2 (\"one\") alone", what, rep.OtherRoom)
			}
			if got, want := sortedDay(t, st, b), "corvus: three / fungi: four"; got != want {
				t.Errorf("%s: bob's room holds (sorted) %q, want %q", what, got, want)
			}
			if got, want := sortedDay(t, st, a), "clarkb: two / fungi: one"; got != want {
				t.Errorf("%s: alice's room holds (sorted) %q, want %q", what, got, want)
			}
		}
	})
}
