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

// relatedBytesDay is a day (20) of six messages $t0…$t5 whose edits,
// poll responses, thread replies and reactions, each some 300 bytes,
// arrive the next day (as late ones do), interleaved: $t1 and $t4 have
// every kind, $t3 none.
func relatedBytesDay(t *testing.T) (targets, all []store.Event) {
	day := 20 * dayMS
	all = baseRoom(t)
	for i := range 6 {
		targets = append(targets, mk(t, fmt.Sprintf("$t%d", i), "m.room.message", "@alice:example.org", day+1000*int64(i+1), nil,
			fmt.Sprintf(`{"msgtype":"m.text","body":"target %d"}`, i)))
	}
	all = append(all, targets...)
	pad := strings.Repeat("x", 300)
	counts := []struct{ edits, refs, replies, reactions int }{{0, 0, 0, 2}, {6, 2, 3, 4}, {0, 0, 0, 3}, {0, 0, 0, 0}, {4, 1, 2, 4}, {0, 0, 0, 1}}
	ts := 21 * dayMS
	n := 0
	for round := range 6 {
		for i, c := range counts {
			target := fmt.Sprintf("$t%d", i)
			add := func(typ, sender, content string) {
				ts++
				n++
				all = append(all, mk(t, fmt.Sprintf("$r%03d", n), typ, sender, ts, nil, content))
			}
			if round < c.edits {
				add("m.room.message", "@alice:example.org", fmt.Sprintf(`{"msgtype":"m.text","body":"* edit %d %s","m.new_content":{"msgtype":"m.text","body":"edit %d"},"m.relates_to":{"rel_type":"m.replace","event_id":%q}}`, round, pad, round, target))
			}
			if round < c.refs {
				add("org.matrix.msc3381.poll.response", "@bob:example.org", fmt.Sprintf(`{"pad":%q,"m.relates_to":{"rel_type":"m.reference","event_id":%q}}`, pad, target))
			}
			if round < c.replies {
				add("m.room.message", "@bob:example.org", fmt.Sprintf(`{"msgtype":"m.text","body":"reply %d %s","m.relates_to":{"rel_type":"m.thread","event_id":%q}}`, round, pad, target))
			}
			if round < c.reactions {
				add("m.reaction", "@bob:example.org", fmt.Sprintf(`{"pad":%q,"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"k%d"}}`, pad, target, round))
			}
		}
	}
	return targets, all
}

// relPrio is the order RelatedInUpTo reads a target's relations in.
// References are not read: PollVotes reads a poll's.
var relPrio = map[string]int{"m.replace": 0, "m.thread": 1, "m.annotation": 2}

// TestRelatedInBoundedByBytes: a day's relations read with a bound on
// their JSON stop at the relation that reaches it, target by target
// (forwards from the range's first, or backwards from its last): the
// targets read before the one being read (partial) have all their
// relations, those after it none, and partial the latest of its kinds
// in order (edits first, then thread replies, reactions; the day's poll
// responses are not read).
// Unbounded, or with a bound none reaches, the read is RelatedIn's.
func TestRelatedInBoundedByBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		_, all := relatedBytesDay(t)
		put(t, st, all...)
		var targets []store.Event // as stored, with their places
		day, _, err := st.DayPage(ctx, room, 20*dayMS, 21*dayMS, store.Position{}, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range day {
			if strings.HasPrefix(string(e.ID), "$t") {
				targets = append(targets, e)
			}
		}
		if len(targets) != 6 {
			t.Fatalf("the day has %d targets: %s", len(targets), ids(day))
		}
		pos := func(i int) store.Position { return store.PositionOf(targets[i]) }
		byTarget := func(evs []store.Event) map[id.EventID][]store.Event {
			m := map[id.EventID][]store.Event{}
			for _, e := range evs {
				m[e.Rel.EventID] = append(m[e.Rel.EventID], e)
			}
			return m
		}
		maxRaw := 0
		for _, e := range all {
			maxRaw = max(maxRaw, len(e.Raw))
		}
		cuts := 0
		for _, back := range []bool{false, true} {
			for s := range targets {
				first, last := pos(s), pos(len(targets)-1)
				if back {
					first, last = pos(0), pos(s)
				}
				whole, err := st.RelatedIn(ctx, room, first, last)
				if err != nil || len(whole) == 0 {
					t.Fatalf("RelatedIn from %d: %d events, %v", s, len(whole), err)
				}
				wholeBy := byTarget(whole)
				for _, bound := range []int{0, 1, 400, 1500, 4000, 1 << 30} {
					name := fmt.Sprintf("back %v, from $t%d, bound %d", back, s, bound)
					got, partial, cut, err := st.RelatedInUpTo(ctx, room, first, last, bound, back)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !slices.IsSortedFunc(got, func(a, b store.Event) int {
						return store.PositionOf(a).Compare(store.PositionOf(b))
					}) {
						t.Errorf("%s: not in timeline order: %s", name, ids(got))
					}
					if n := jsonBytes(got); bound > 0 && n >= bound+maxRaw {
						t.Errorf("%s: read %d bytes", name, n)
					}
					if !cut {
						if ids(got) != ids(whole) {
							t.Errorf("%s: not cut, read %s, RelatedIn %s", name, ids(got), ids(whole))
						}
						continue
					}
					cuts++
					if bound == 0 || bound == 1<<30 || jsonBytes(got) < bound {
						t.Errorf("%s: cut after %d bytes", name, jsonBytes(got))
					}
					gotBy := byTarget(got)
					for _, tg := range targets {
						p := store.PositionOf(tg)
						if p.Before(first) || last.Before(p) {
							if len(gotBy[tg.ID]) > 0 {
								t.Errorf("%s: read relations of %s, out of the range", name, tg.ID)
							}
							continue
						}
						done := p.Before(partial) != back && p != partial // read before partial
						switch {
						case done && ids(gotBy[tg.ID]) != ids(wholeBy[tg.ID]):
							t.Errorf("%s (partial at %v): %s has %s, want all of %s", name, partial, tg.ID, ids(gotBy[tg.ID]), ids(wholeBy[tg.ID]))
						case !done && p != partial && len(gotBy[tg.ID]) > 0:
							t.Errorf("%s (partial at %v): %s, after it, has %s", name, partial, tg.ID, ids(gotBy[tg.ID]))
						case p == partial:
							checkLatestFirst(t, name, gotBy[tg.ID], wholeBy[tg.ID])
						}
					}
				}
			}
		}
		if cuts < 20 {
			t.Errorf("only %d reads were cut", cuts)
		}
	})
}

// checkLatestFirst checks that got, the relations read of a target whose
// read was cut, are its relations whole of the kinds before the last
// kind read, and the latest to arrive of that kind.
func checkLatestFirst(t *testing.T, name string, got, whole []store.Event) {
	t.Helper()
	if len(got) == 0 {
		t.Errorf("%s: the partial target's read has none of its %d relations", name, len(whole))
		return
	}
	lastKind := 0
	for _, e := range got {
		lastKind = max(lastKind, relPrio[e.Rel.Type])
	}
	for k := 0; k <= lastKind; k++ {
		var g, w []store.Event
		for _, e := range got {
			if relPrio[e.Rel.Type] == k {
				g = append(g, e)
			}
		}
		for _, e := range whole {
			if relPrio[e.Rel.Type] == k {
				w = append(w, e)
			}
		}
		switch {
		case k < lastKind && ids(g) != ids(w):
			t.Errorf("%s: kind %d of the partial target read %s, want all of %s", name, k, ids(g), ids(w))
		case k == lastKind && (len(g) == 0 || ids(g) != ids(w[len(w)-len(g):])):
			t.Errorf("%s: kind %d of the partial target read %s, want the latest of %s", name, k, ids(g), ids(w))
		}
	}
}

// TestRelatedKeepsItsBytes: Related and RelatedIn keep, of a target's
// relations of a type, the latest to arrive up to the one whose JSON
// reaches MaxRelatedBytes (as up to MaxRelated of them), and
// RelatedCapped says so: 30 thread replies and 30 reactions of 90,000
// bytes each were read whole, 5.4 MB, for every view of the message.
func TestRelatedKeepsItsBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		day := 20 * dayMS
		var evs []store.Event
		for i := range 30 {
			evs = append(evs, mk(t, fmt.Sprintf("$react%03d", i), "m.reaction", fmt.Sprintf("@u%d:example.org", i), day+3000+int64(i), nil,
				fmt.Sprintf(`{"pad":%q,"m.relates_to":{"rel_type":"m.annotation","event_id":"$root","key":"k%d"}}`, strings.Repeat("a", 90000), i)))
		}
		for i := range 3 {
			evs = append(evs, mk(t, fmt.Sprintf("$edit%d", i), "m.room.message", "@alice:example.org", day+4000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"* edit","m.new_content":{"msgtype":"m.text","body":"edit %d"},"m.relates_to":{"rel_type":"m.replace","event_id":"$root"}}`, i)))
		}
		at := bigThread(t, st, 30, evs...)
		byID, err := st.Related(ctx, []id.EventID{"$root"})
		if err != nil {
			t.Fatal(err)
		}
		inDay, err := st.RelatedIn(ctx, room, at, at)
		if err != nil {
			t.Fatal(err)
		}
		if ids(byID) != ids(inDay) {
			t.Errorf("Related read %s, RelatedIn %s", ids(byID), ids(inDay))
		}
		for _, c := range []struct {
			relType, prefix string
			capped          bool
		}{{"m.thread", "$reply", true}, {"m.annotation", "$react", true}, {"m.replace", "$edit", false}} {
			var got []store.Event
			for _, e := range byID {
				if e.Rel.Type == c.relType {
					got = append(got, e)
				}
			}
			// The latest to arrive, the fewest whose JSON reaches the
			// bound (or all there are).
			n := len(got)
			if c.capped {
				if n == 0 || jsonBytes(got[1:]) >= store.MaxRelatedBytes || jsonBytes(got) < store.MaxRelatedBytes {
					t.Errorf("%s: kept %d of %d bytes", c.relType, n, jsonBytes(got))
				}
			}
			for i, e := range got {
				want := fmt.Sprintf("%s%03d", c.prefix, 30-n+i)
				if c.relType == "m.replace" {
					want = fmt.Sprintf("%s%d", c.prefix, i)
				}
				if string(e.ID) != want {
					t.Errorf("%s: kept %s, want the latest %d", c.relType, ids(got), n)
					break
				}
			}
			if store.RelatedCapped(byID, "$root", c.relType) != c.capped {
				t.Errorf("%s: RelatedCapped = %v with %d kept", c.relType, !c.capped, n)
			}
		}
	})
}
