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
var relPrio = map[string]int{"m.replace": 0, "m.reference": 1, "m.thread": 2, "m.annotation": 3}

// TestRelatedInBoundedByBytes: a day's relations read with a bound on
// their JSON stop at the relation that reaches it, target by target
// (forwards from the range's first, or backwards from its last): the
// targets read before the one being read (partial) have all their
// relations, those after it none, and partial the latest of its kinds
// in order (edits first, then references, thread replies, reactions).
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
