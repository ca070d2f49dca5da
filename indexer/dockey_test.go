package indexer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestDocumentsNamedByKeyAndTime: this format names each document by its
// time and its event's key (store.IDKey), on both databases; a search
// finds each event through its key, in every order, and pages through
// them all with cursors.
func TestDocumentsNamedByKeyAndTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openIndex(t, st, t.TempDir())
		evs := keyedMessages(t, st)
		catchUp(t, ix)
		refs, err := ix.DocRefs()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ev := range evs {
			want = append(want, ix.KeyRef(ev))
		}
		slices.Sort(refs)
		slices.Sort(want)
		if !slices.Equal(refs, want) {
			t.Errorf("documents named %q, want the events' keys %q", refs, want)
		}
		checkPages(t, ix, evs)
	})
}

// TestFormat9IndexServes: an index of format 9 names documents by event
// ID, and serves while this format's is built beside it: its hits are
// found in the store by their IDs' keys. A reader's cursor made on it goes
// on, once this format's index is swapped in, from where it stood.
func TestFormat9IndexServes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openIndex(t, st, t.TempDir())
		ix.NameDocsAsFormat9(true)
		evs := keyedMessages(t, st)
		catchUp(t, ix)
		refs, err := ix.DocRefs()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			if !strings.HasPrefix(r, "$") {
				t.Fatalf("a format 9 document named %q, not by its event ID", r)
			}
		}
		checkPages(t, ix, evs)
		// Two pages newest first on the old index, then the rest on the
		// new one.
		first := search(t, ix, "ocelot", indexer.SortNewest, 3, "")
		ix.NameDocsAsFormat9(false)
		if err := ix.Rebuild(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if refs, _ := ix.DocRefs(); len(refs) != len(evs) || strings.HasPrefix(refs[0], "$") {
			t.Fatalf("after the rebuild, documents %q", refs)
		}
		got := inOrder(first)
		for cur := first.Next; cur != ""; {
			res := search(t, ix, "ocelot", indexer.SortNewest, 3, cur)
			got = append(got, inOrder(res)...)
			cur = res.Next
		}
		if want := reversed(evs); !slices.Equal(got, want) {
			t.Errorf("paged newest first across the swap: %q, want %q", got, want)
		}
	})
}

// TestHitTimeMustMatch: a document named by an event's key but another
// time is not that event (two events may share a key; the time tells
// them apart), and the store check drops it.
func TestHitTimeMustMatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openIndex(t, st, t.TempDir())
		add(t, st, lines(msg("$real", 1_700_000_000_000, `{"msgtype":"m.text","body":"apple"}`))...)
		catchUp(t, ix)
		if err := ix.IndexForged("$real", 1_700_000_000_001, "zebra"); err != nil {
			t.Fatal(err)
		}
		for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
			if got := ids(search(t, ix, "zebra", sort, 10, "")); len(got) != 0 {
				t.Errorf("%s: a document of another time taken for $real: %q", sort, got)
			}
			if got := fmt.Sprint(ids(search(t, ix, "apple", sort, 10, ""))); got != "[$real]" {
				t.Errorf("%s: apple = %s", sort, got)
			}
		}
	})
}

// keyedMessages stores twelve messages of every form of event ID, each a
// second after the last, and returns their IDs oldest first.
func keyedMessages(t *testing.T, st *store.Store) []string {
	t.Helper()
	evs := []string{
		"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3Qj1NDMq", "$abcdef:example.org", "$é€😀:exämple.org", `$"quoted'\back\slash`,
		"$" + strings.Repeat("x", 250), "$z1", "$z2", "$z3", "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "$z4", "$z5", "$z6",
	}
	var ls []string
	for i, ev := range evs {
		ls = append(ls, msg(ev, int64(1_700_000_000_000+i*1000), fmt.Sprintf(`{"msgtype":"m.text","body":"ocelot %d"}`, i)))
	}
	add(t, st, lines(ls...)...)
	return evs
}

// checkPages searches for every one of evs in each order, whole and in
// pages of three.
func checkPages(t *testing.T, ix *indexer.Indexer, evs []string) {
	t.Helper()
	for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
		got := inOrder(search(t, ix, "ocelot", sort, 20, ""))
		paged := paged(t, ix, "ocelot", sort, 3, 10)
		want := slices.Clone(evs)
		switch sort {
		case indexer.SortNewest:
			want = reversed(evs)
		case indexer.SortRelevance:
			slices.Sort(got)
			slices.Sort(paged)
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", sort, got, want)
		}
		if !slices.Equal(paged, want) {
			t.Errorf("%s in pages of 3: %q, want %q", sort, paged, want)
		}
	}
}

// inOrder is the IDs of res's events in its order.
func inOrder(res indexer.Result) []string {
	var out []string
	for _, e := range res.Events {
		out = append(out, string(e.ID))
	}
	return out
}
