package ingest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// importSameNamed writes each text to a file of the same name, name, in a
// directory of its own, and imports them in order, none reporting a
// changed line; it returns their paths.
func importSameNamed(t *testing.T, in *ingest.Ingester, opts *ingest.IRCOptions, name string, texts []string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, text := range texts {
		p := filepath.Join(dir, string(rune('a'+i)), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		if rep := importIRC(t, in, p, opts); len(rep.Changed) > 0 {
			t.Errorf("%s: changed %v", p, rep.Changed)
		}
	}
	return paths
}

// reimportAddsNothing imports each path again and checks that nothing is
// stored and no line reported changed.
func reimportAddsNothing(t *testing.T, in *ingest.Ingester, opts *ingest.IRCOptions, paths []string) {
	t.Helper()
	for _, p := range paths {
		if rep := importIRC(t, in, p, opts); rep.Stored != 0 || len(rep.Changed) > 0 {
			t.Errorf("%s again: %s, changed %v; want nothing stored", p, rep, rep.Changed)
		}
	}
}

// sortedDay is ircDay sorted: where two logs overlap within a minute, a
// line only the second has may have no millisecond free before the
// archived line that follows it (lines of one written time are 1 ms
// apart), so the lines, not their order, are what holds.
func sortedDay(t *testing.T, st *store.Store, opts *ingest.IRCOptions) string {
	t.Helper()
	got := ircDay(t, st, opts.Room)
	slices.Sort(got)
	return strings.Join(got, " / ")
}

// TestSameNamedOverlappingLogsKeepEveryLine: two people's irssi logs of a
// channel carry irssi's default name (~/irclogs/OFTC/#opendev.log), and
// overlap within a minute as in TestOverlappingLogsKeepEveryLine. What a
// line was to the archive was decided by its log's file name: Bob's log
// was taken for Alice's, his "two" and "three" at the positions of her
// "one" and "two" for changed lines, and "four" was lost (archived "one /
// two / three / five", three lines reported changed; helper-116).
// Same-named logs are now read as differently named ones are.
func TestSameNamedOverlappingLogsKeepEveryLine(t *testing.T) {
	alice := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n19:00 <corvus> three\n--- Log closed Tue Aug 17 19:00:50 2021\n"
	bob := "--- Log opened Tue Aug 17 19:00:10 2021\n19:00 <clarkb> two\n19:00 <corvus> three\n19:00 <fungi> four\n19:01 <fungi> five\n"
	for name, order := range map[string][2]string{
		"alice first": {alice, bob},
		"bob first":   {bob, alice},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
				paths := importSameNamed(t, in, opts, "#opendev.log", order[:])
				want := "clarkb: two / corvus: three / fungi: five / fungi: four / fungi: one"
				if got := sortedDay(t, st, opts); got != want {
					t.Errorf("archived (sorted) %q\nwant              %q (every line of either log, once)", got, want)
				}
				reimportAddsNothing(t, in, opts, paths)
				if got := sortedDay(t, st, opts); got != want {
					t.Errorf("after importing both again (sorted) %q\nwant %q", got, want)
				}
			})
		})
	}
}

// TestFullerCopyOfADaysLogAddsOnlyItsNewLine: a day's log imported, then a
// fuller copy of it under the same name (a line the first copy lacked).
// The fuller copy's "two", at the position of the first copy's "three",
// was taken for that line changed and dropped, and its "three", at a
// position the first copy never had, stored again ("one / three /
// three"; helper-116).
func TestFullerCopyOfADaysLogAddsOnlyItsNewLine(t *testing.T) {
	first := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <corvus> three\n"
	fuller := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n19:00 <corvus> three\n"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
		paths := importSameNamed(t, in, opts, "#opendev.log", []string{first, fuller})
		want := "clarkb: two / corvus: three / fungi: one"
		if got := sortedDay(t, st, opts); got != want {
			t.Errorf("archived (sorted) %q\nwant              %q", got, want)
		}
		reimportAddsNothing(t, in, opts, paths)
		if got := sortedDay(t, st, opts); got != want {
			t.Errorf("after importing both again (sorted) %q\nwant %q", got, want)
		}
	})
}

// TestShiftedLineIsNotTakenForAChange: a log that began earlier in the
// minute than the archived one has, at the archived "deploy now"'s
// position, fungi's "deploy started": the same nick saying half the same
// words, which was taken for that line changed by a re-export and lost,
// though the log says "deploy now" just after it (a shift, not a change).
func TestShiftedLineIsNotTakenForAChange(t *testing.T) {
	archived := "--- Log opened Tue Aug 17 19:00:20 2021\n19:00 <fungi> deploy now\n19:00 <fungi> deploy done\n"
	earlier := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> deploy started\n19:00 <fungi> deploy now\n19:00 <fungi> deploy done\n"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
		paths := importLogs(t, in, opts, []string{"late-opendev.log", "early-opendev.log"}, []string{archived, earlier})
		want := "fungi: deploy done / fungi: deploy now / fungi: deploy started"
		if got := sortedDay(t, st, opts); got != want {
			t.Errorf("archived (sorted) %q\nwant              %q", got, want)
		}
		reimportAddsNothing(t, in, opts, paths)
	})
}

// TestGrownLogKeepsItsRepeatedLines: a log imported again after it grew
// (a client still writing it) stores its new lines, also those saying
// what an archived line of the same minute said: its lines at their
// positions say the same as the archive's, so nothing shifted.
func TestGrownLogKeepsItsRepeatedLines(t *testing.T) {
	before := "--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> ok\n19:00 <clarkb> merged\n"
	grown := before + "19:00 <fungi> ok\n19:00 <corvus> thanks\n"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
		paths := importSameNamed(t, in, opts, "#opendev.log", []string{before, grown})
		want := "fungi: ok / clarkb: merged / fungi: ok / corvus: thanks"
		if got := strings.Join(ircDay(t, st, opts.Room), " / "); got != want {
			t.Errorf("archived %q\nwant     %q", got, want)
		}
		reimportAddsNothing(t, in, opts, paths)
	})
}
