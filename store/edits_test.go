package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// latestEditsRoom is eight messages $m0…$m7 of alice's and their edits,
// each some 300 bytes, that test what makes the edit shown: $m0 has none;
// $m1 three valid ones; $m2 a valid one, then a later invalid one (its
// m.new_content not an object); $m3 only bob's (not valid); $m4 two, the
// later by its time arriving first; $m5 five invalid ones; $m6 one of
// another event type (not valid); $m7 a valid one then four invalid
// later ones, so that it is settled in the third round.
func latestEditsRoom(t *testing.T) (targets []id.EventID, all []store.Event) {
	all = baseRoom(t)
	day := 20 * dayMS
	for i := range 8 {
		ev := fmt.Sprintf("$m%d", i)
		targets = append(targets, id.EventID(ev))
		all = append(all, mk(t, ev, "m.room.message", "@alice:example.org", day+int64(i), nil, fmt.Sprintf(`{"msgtype":"m.text","body":"m%d"}`, i)))
	}
	pad := strings.Repeat("p", 300)
	n := 0
	edit := func(target, sender, typ string, ts int64, newContent string) {
		n++
		all = append(all, mk(t, fmt.Sprintf("$e%02d_%s", n, target[1:]), typ, sender, ts, nil,
			fmt.Sprintf(`{"msgtype":"m.text","body":"* %s","m.new_content":%s,"m.relates_to":{"rel_type":"m.replace","event_id":%q}}`, pad, newContent, target)))
	}
	valid := func(s string) string { return fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, s) }
	ts := day + 1000
	for k := range 3 {
		ts++
		edit("$m1", "@alice:example.org", "m.room.message", ts, valid(fmt.Sprintf("m1 edit %d", k)))
	}
	edit("$m2", "@alice:example.org", "m.room.message", ts+1, valid("m2 valid"))
	edit("$m2", "@alice:example.org", "m.room.message", ts+2, `"not an object"`)
	edit("$m3", "@bob:example.org", "m.room.message", ts+3, valid("m3 by bob"))
	edit("$m4", "@alice:example.org", "m.room.message", ts+100, valid("m4 latest by time"))
	edit("$m4", "@alice:example.org", "m.room.message", ts+4, valid("m4 arrived last"))
	for k := range 5 {
		edit("$m5", "@alice:example.org", "m.room.message", ts+5+int64(k), `[]`)
	}
	edit("$m6", "@alice:example.org", "m.sticker", ts+20, valid("m6 as a sticker"))
	edit("$m7", "@alice:example.org", "m.room.message", ts+30, valid("m7 valid"))
	for k := range 4 {
		edit("$m7", "@alice:example.org", "m.room.message", ts+31+int64(k), `7`)
	}
	return targets, all
}

// TestLatestEdits: the edit LatestEdits finds for each message is the
// one event.Resolve applies over Related's edits, on both databases; with
// a bound on the JSON read, the messages it leaves unsettled are listed
// in short, in order, and those it settled have their edit.
func TestLatestEdits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ids, all := latestEditsRoom(t)
		put(t, st, all...)
		targets, want := resolvedEdits(t, st, ids)
		slices.SortFunc(targets, func(a, b store.Event) int { return strings.Compare(string(a.ID), string(b.ID)) })
		if len(want) != 4 { // $m1, $m2, $m4, $m7
			t.Fatalf("Resolve applies %d edits: %v", len(want), want)
		}
		got, short, err := st.LatestEdits(ctx, targets, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(short) != 0 || !sameEdits(got, want) {
			t.Errorf("LatestEdits found %v (short %v), want %v", editIDs(got), short, want)
		}
		// A bound that the first round reaches: each edit is some 500
		// bytes of JSON, and six messages have one read in the first
		// round ($m3's only edit, bob's, is not listed), so 1,500 bytes
		// settles some and leaves the others short.
		got, short, err = st.LatestEdits(ctx, targets, 1500)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(short) == 0 {
			t.Fatalf("with 1,500 bytes: found %v, short %v", editIDs(got), short)
		}
		for k, v := range got {
			if want[k] != v.ID {
				t.Errorf("with 1,500 bytes: %s has %s, want %s", k, v.ID, want[k])
			}
		}
		for _, s := range short {
			if _, ok := got[s]; ok {
				t.Errorf("%s is short and settled", s)
			}
		}
		if !slices.IsSorted(short) || slices.Contains(short, "$m0") || slices.Contains(short, "$m3") {
			t.Errorf("short %v: not in order, or with messages that have no edit", short)
		}
		settled := len(got)
		for _, tg := range targets {
			if _, ok := want[tg.ID]; ok && !slices.Contains(short, tg.ID) {
				settled--
			}
		}
		if settled != 0 {
			t.Errorf("with 1,500 bytes: %d messages with an edit neither settled nor short", -settled)
		}
	})
}

// TestLatestEditsKeepRelatedsEdits: LatestEdits looks only at the
// edits Related keeps of a message, the latest MaxRelated to arrive and
// of those no more than reach MaxRelatedBytes: $m8's valid edit, the
// latest by its time, arrived before 500 invalid ones, $m9's before 40
// of 60,000 bytes, and Resolve over Related applies neither; $m10's
// valid edit arrived before 20 invalid ones and is shown.
func TestLatestEditsKeepRelatedsEdits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		all := baseRoom(t)
		day := 20 * dayMS
		n := 0
		edit := func(target string, ts int64, newContent string, pad int) {
			n++
			all = append(all, mk(t, fmt.Sprintf("$e%04d_%s", n, target[1:]), "m.room.message", "@alice:example.org", ts, nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"* %s","m.new_content":%s,"m.relates_to":{"rel_type":"m.replace","event_id":%q}}`, strings.Repeat("p", pad), newContent, target)))
		}
		ids := []id.EventID{"$m10", "$m8", "$m9"}
		for i, m := range ids {
			all = append(all, mk(t, string(m), "m.room.message", "@alice:example.org", day+int64(i), nil, `{"msgtype":"m.text","body":"m"}`))
		}
		for i, c := range []struct {
			target string
			later  int // invalid edits that arrive after the valid one
			pad    int
		}{{"$m8", store.MaxRelated, 0}, {"$m9", 40, 60000}, {"$m10", 20, 0}} {
			edit(c.target, day+10000+int64(i), `{"msgtype":"m.text","body":"valid"}`, 0)
			for k := range c.later {
				edit(c.target, day+1000+int64(k), `7`, c.pad)
			}
		}
		put(t, st, all...)
		targets, want := resolvedEdits(t, st, ids)
		if len(want) != 1 || want["$m10"] == "" {
			t.Fatalf("Resolve applies %v, want $m10's valid edit alone", want)
		}
		got, short, err := st.LatestEdits(ctx, targets, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(short) != 0 || !sameEdits(got, want) {
			t.Errorf("LatestEdits found %v (short %v), want %v", editIDs(got), short, want)
		}
	})
}

// resolvedEdits reads the messages ids and, for each that event.Resolve
// over Related's relations shows edited, the edit it applies: what
// LatestEdits must find.
func resolvedEdits(t *testing.T, st *store.Store, ids []id.EventID) (targets []store.Event, want map[id.EventID]id.EventID) {
	t.Helper()
	ctx := context.Background()
	targets, err := st.EventsByID(ctx, ids)
	if err != nil || len(targets) != len(ids) {
		t.Fatalf("read %d targets of %d: %v", len(targets), len(ids), err)
	}
	rel, err := st.Related(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	related := make([]event.Related, len(rel))
	for j := range rel {
		related[j] = event.Related{Event: &rel[j].Event, Rel: rel[j].Rel}
	}
	want = map[id.EventID]id.EventID{}
	for i := range targets {
		if res := event.Resolve(event.Related{Event: &targets[i].Event, Rel: targets[i].Rel}, related); res.Edited {
			want[targets[i].ID] = rel[res.Edits[len(res.Edits)-1]].ID
		}
	}
	return targets, want
}

func sameEdits(got map[id.EventID]store.Event, want map[id.EventID]id.EventID) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range got {
		if want[k] != v.ID {
			return false
		}
	}
	return true
}

func editIDs(m map[id.EventID]store.Event) map[id.EventID]id.EventID {
	out := map[id.EventID]id.EventID{}
	for k, v := range m {
		out[k] = v.ID
	}
	return out
}

// TestThreadRoots: a message is a thread's root for ThreadRoots when
// event.Resolve over Related counts a thread reply of it: a reply that
// retention has expired (sent with an old time) is not one, nor an
// edit or a reaction.
func TestThreadRoots(t *testing.T) {
	storetest.EachWith(t, store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(time.Hour)}}, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Now().UnixMilli()
		all := baseRoom(t)
		var roots []id.EventID
		for i := range 5 {
			ev := fmt.Sprintf("$root%d", i)
			roots = append(roots, id.EventID(ev))
			all = append(all, mk(t, ev, "m.room.message", "@alice:example.org", now-10*60000+int64(i), nil, `{"msgtype":"m.text","body":"root"}`))
		}
		reply := func(ev, target string, ts int64) {
			all = append(all, mk(t, ev, "m.room.message", "@bob:example.org", ts, nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"reply","m.relates_to":{"rel_type":"m.thread","event_id":%q}}`, target)))
		}
		reply("$reply0", "$root0", now-60000)     // $root0: a reply
		reply("$reply2", "$root2", now-3*3600000) // $root2: only an expired one
		reply("$reply4a", "$root4", now-3*3600000)
		reply("$reply4b", "$root4", now-60000) // $root4: an expired one and a kept one
		// $root5: a reply of a minute ago, then MaxRelated expired ones
		// that arrived after it: Related keeps the latest to arrive.
		roots = append(roots, "$root5")
		all = append(all, mk(t, "$root5", "m.room.message", "@alice:example.org", now-10*60000+5, nil, `{"msgtype":"m.text","body":"root"}`))
		reply("$reply5", "$root5", now-60000)
		for i := range store.MaxRelated {
			reply(fmt.Sprintf("$reply5_%d", i), "$root5", now-3*3600000+int64(i))
		}
		// $root6: a reply of a minute ago, then 40 expired ones of 60,000
		// bytes that arrived after it: Related keeps the latest to arrive
		// up to the one that reaches MaxRelatedBytes, 35 of them.
		roots = append(roots, "$root6")
		all = append(all, mk(t, "$root6", "m.room.message", "@alice:example.org", now-10*60000+6, nil, `{"msgtype":"m.text","body":"root"}`))
		reply("$reply6", "$root6", now-60000)
		for i := range 40 {
			all = append(all, mk(t, fmt.Sprintf("$reply6_%d", i), "m.room.message", "@bob:example.org", now-3*3600000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":%q,"m.relates_to":{"rel_type":"m.thread","event_id":"$root6"}}`, strings.Repeat("x", 60000))))
		}
		all = append(all, mk(t, "$like", "m.reaction", "@bob:example.org", now-60000, nil,
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$root1","key":"x"}}`)) // $root1: a reaction
		put(t, st, all...)
		got, err := st.ThreadRoots(ctx, roots)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := st.Related(ctx, roots)
		if err != nil {
			t.Fatal(err)
		}
		targets, err := st.EventsByID(ctx, roots)
		if err != nil || len(targets) != len(roots) {
			t.Fatalf("read %d roots: %v", len(targets), err)
		}
		for _, tg := range targets {
			var related []event.Related
			for j := range rel {
				related = append(related, event.Related{Event: &rel[j].Event, Rel: rel[j].Rel})
			}
			res := event.Resolve(event.Related{Event: &tg.Event, Rel: tg.Rel}, related)
			want := tg.ID == "$root0" || tg.ID == "$root4"
			if got[tg.ID] != want || (res.ThreadCount > 0) != want {
				t.Errorf("%s: ThreadRoots %v, Resolve counts %d replies, want a thread: %v", tg.ID, got[tg.ID], res.ThreadCount, want)
			}
		}
	})
}

// threadOf is a root $root of alice's and n thread replies of bob's.
func threadOf(t testing.TB, n int) []store.Event {
	now := time.Now().UnixMilli()
	all := baseRoom(t)
	all = append(all, mk(t, "$root", "m.room.message", "@alice:example.org", now-86400000, nil, `{"msgtype":"m.text","body":"root"}`))
	for i := range n {
		all = append(all, mk(t, fmt.Sprintf("$reply%d", i), "m.room.message", "@bob:example.org", now-86400000+int64(i)+1, nil,
			`{"msgtype":"m.text","body":"reply","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`))
	}
	return all
}

// BenchmarkThreadRoots is ThreadRoots of a root with 20,000 thread
// replies, what the indexer asks for every batch that holds one of them
// (each reply touches its root), and BenchmarkRelated is Related of it,
// what its thread's page and its permalink read:
//
//	go test -run '^$' -bench 'BenchmarkThreadRoots|BenchmarkRelated' ./store/
func BenchmarkThreadRoots(b *testing.B) {
	benchRead(b, func(t testing.TB) []store.Event { return threadOf(t, 20000) }, func(_ *testing.B, st *store.Store, _ []store.Event) func() error {
		return func() error {
			got, err := st.ThreadRoots(context.Background(), []id.EventID{"$root"})
			if err == nil && !got["$root"] {
				err = fmt.Errorf("no thread: %v", got)
			}
			return err
		}
	})
}

func BenchmarkRelated(b *testing.B) {
	benchRead(b, func(t testing.TB) []store.Event { return threadOf(t, 20000) }, func(_ *testing.B, st *store.Store, _ []store.Event) func() error {
		return func() error {
			got, err := st.Related(context.Background(), []id.EventID{"$root"})
			if err == nil && len(got) != store.MaxRelated {
				err = fmt.Errorf("%d relations", len(got))
			}
			return err
		}
	})
}

// BenchmarkRelatedIn is RelatedIn of the day of a root with 20,000
// thread replies, what its day's page reads.
func BenchmarkRelatedIn(b *testing.B) {
	benchRead(b, func(t testing.TB) []store.Event { return threadOf(t, 20000) }, func(_ *testing.B, st *store.Store, all []store.Event) func() error {
		root := all[len(all)-20001]
		at := store.Position{TS: root.OriginTS, NID: 0}
		end := store.Position{TS: root.OriginTS, NID: 1 << 62}
		return func() error {
			got, err := st.RelatedIn(context.Background(), root.RoomID, at, end)
			if err == nil && len(got) != store.MaxRelated {
				err = fmt.Errorf("%d relations", len(got))
			}
			return err
		}
	})
}

// BenchmarkLatestEdits is LatestEdits of a message its sender edited
// 20,000 times: what the indexer asks for every batch that holds one of
// the edits (each touches the message):
//
//	go test -run '^$' -bench BenchmarkLatestEdits ./store/
func BenchmarkLatestEdits(b *testing.B) {
	edited := func(t testing.TB) []store.Event {
		now := time.Now().UnixMilli()
		all := baseRoom(t)
		all = append(all, mk(t, "$m", "m.room.message", "@alice:example.org", now-86400000, nil, `{"msgtype":"m.text","body":"m"}`))
		for i := range 20000 {
			all = append(all, mk(t, fmt.Sprintf("$e%d", i), "m.room.message", "@alice:example.org", now-86400000+int64(i)+1, nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"* e","m.new_content":{"msgtype":"m.text","body":"edit %d"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`, i)))
		}
		return all
	}
	benchRead(b, edited, func(b *testing.B, st *store.Store, _ []store.Event) func() error {
		ctx := context.Background()
		targets, err := st.EventsByID(ctx, []id.EventID{"$m"})
		if err != nil || len(targets) != 1 {
			b.Fatal(targets, err)
		}
		return func() error {
			got, _, err := st.LatestEdits(ctx, targets, 0)
			if err == nil && got["$m"].ID != "$e19999" {
				err = fmt.Errorf("shows %q", got["$m"].ID)
			}
			return err
		}
	})
}

// benchRead times read on each database holding the events all makes,
// after 50,000 messages of the days before, as in an archive (the
// planner reads a table of nothing but the one message's relations
// otherwise, and scans it); setup, untimed, makes read.
func benchRead(b *testing.B, all func(testing.TB) []store.Event, setup func(*testing.B, *store.Store, []store.Event) (read func() error)) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			evs := all(b)
			put(b, st, earlierMessages(b, 50000, time.Now().Add(-72*time.Hour).UnixMilli())...)
			put(b, st, evs...)
			if err := st.AfterBulkWrite(context.Background()); err != nil {
				b.Fatal(err)
			}
			read := setup(b, st, evs)
			b.ResetTimer()
			for range b.N {
				if err := read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// earlierMessages are n messages without relations, a second apart,
// the last a second before until: the archive around a benchmark's day.
func earlierMessages(tb testing.TB, n int, until int64) []store.Event {
	out := make([]store.Event, n)
	for i := range out {
		out[i] = mk(tb, fmt.Sprintf("$earlier%d", i), "m.room.message", "@carol:example.org", until-int64(n-i)*1000, nil,
			fmt.Sprintf(`{"msgtype":"m.text","body":"earlier message %d"}`, i))
	}
	return out
}

// BenchmarkRelationsBusyDay is each read of relations on an ordinary
// busy day, what the hostile rooms' benchmarks above must not make
// slower: 1,000 messages, a quarter with one to three reactions, a
// tenth edited, a twentieth the root of a thread of five, after 20,000
// messages of earlier days; read as archive-web reads (ReadMostly:
// PostgreSQL's generic plans). Related reads 200 of the day's messages,
// LatestEdits and ThreadRoots all 1,000 (and 2,000 of the earlier days',
// which have none: a reindex's batch of an IRC room), RelatedIn the day.
//
//	go test -run '^$' -bench BenchmarkRelationsBusyDay ./store/
func BenchmarkRelationsBusyDay(b *testing.B) {
	day := time.Now().Add(-48 * time.Hour).Truncate(24 * time.Hour).UnixMilli()
	evs := append(baseRoom(b), earlierMessages(b, 20000, day)...)
	var ids []id.EventID
	ts := day + 1000
	for i := range 1000 {
		mid := fmt.Sprintf("$m%d", i)
		ids = append(ids, id.EventID(mid))
		evs = append(evs, mk(b, mid, "m.room.message", "@alice:example.org", ts, nil, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d of the day"}`, i)))
		ts += 50
		rel := func(kind, sender, body string, n int) {
			for j := range n {
				evs = append(evs, mk(b, fmt.Sprintf("$%s%d-%d", kind, i, j), "m.room.message", sender, ts, nil, body))
				ts += 10
			}
		}
		if i%4 == 0 {
			for j := range 1 + i%3 {
				evs = append(evs, mk(b, fmt.Sprintf("$re%d-%d", i, j), "m.reaction", fmt.Sprintf("@r%d:example.org", j), ts, nil,
					fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":"%s","key":"👍"}}`, mid)))
				ts += 10
			}
		}
		if i%10 == 0 {
			rel("ed", "@alice:example.org", fmt.Sprintf(`{"msgtype":"m.text","body":"* fixed","m.new_content":{"msgtype":"m.text","body":"message %d, fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"%s"}}`, i, mid), 1)
		}
		if i%20 == 0 {
			rel("th", "@bob:example.org", fmt.Sprintf(`{"msgtype":"m.text","body":"in thread","m.relates_to":{"rel_type":"m.thread","event_id":"%s"}}`, mid), 5)
		}
	}
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			w, st := storetest.Twins(b, dialect, store.Options{ReadMostly: true})
			put(b, w, evs...)
			ctx := context.Background()
			targets, err := st.EventsByID(ctx, ids)
			if err != nil || len(targets) != len(ids) {
				b.Fatal(len(targets), err)
			}
			var oldIDs []id.EventID
			for i := range 2000 {
				oldIDs = append(oldIDs, id.EventID(fmt.Sprintf("$earlier%d", 10000+i)))
			}
			old, err := st.EventsByID(ctx, oldIDs)
			if err != nil || len(old) != len(oldIDs) {
				b.Fatal(len(old), err)
			}
			reads := []struct {
				name string
				read func() (int, error)
			}{
				{"RelatedIn", func() (int, error) {
					got, err := st.RelatedIn(ctx, room, store.Position{TS: day}, store.Position{TS: day + 86400000})
					return len(got), err
				}},
				{"Related", func() (int, error) {
					got, err := st.Related(ctx, ids[:200])
					return len(got), err
				}},
				{"LatestEdits", func() (int, error) {
					got, _, err := st.LatestEdits(ctx, targets, 0)
					return len(got), err
				}},
				{"ThreadRoots", func() (int, error) {
					got, err := st.ThreadRoots(ctx, ids)
					n := 0
					for _, ok := range got {
						if ok {
							n++
						}
					}
					return n, err
				}},
				// What a reindex asks of each batch of 2,000 messages
				// without relations (an IRC room's): none of them.
				{"LatestEditsNone", func() (int, error) {
					got, _, err := st.LatestEdits(ctx, old, 0)
					return 1 - len(got), err
				}},
				{"ThreadRootsNone", func() (int, error) {
					got, err := st.ThreadRoots(ctx, oldIDs)
					n := 1
					for _, ok := range got {
						if ok {
							n = 0
						}
					}
					return n, err
				}},
			}
			for _, r := range reads {
				b.Run(r.name, func(b *testing.B) {
					for range b.N {
						if n, err := r.read(); err != nil || n == 0 {
							b.Fatal(n, err)
						}
					}
				})
			}
		})
	}
}
