package store_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// lastChange is the change feed's newest position.
func lastChange(t *testing.T, st *store.Store) int64 {
	t.Helper()
	var pos int64
	for {
		cs, err := st.Changes(context.Background(), pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			return pos
		}
		pos = cs[len(cs)-1].Pos
	}
}

// Events a configured bridge's puppet sent before the bridge was
// configured get its nick, in batches, with a change for each: a name the
// puppet set stays, a look-alike on another server stays unnamed, an
// opted-out user's events stay unnamed, and a second run changes nothing.
func TestNamePuppets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		bridges := irclog.Bridges{{Server: "libera.chat", Prefix: "libera_"}}
		const (
			nick   = "@libera_nick:libera.chat"
			named  = "@libera_named:libera.chat"
			shy    = "@libera_shy:libera.chat"
			gone   = "@libera_gone:libera.chat"
			impost = "@libera_fake:evil.example"
		)
		msg := func(evID, sender, name string, ts int64) store.Event {
			e := mk(t, evID, "m.room.message", sender, ts, nil, `{"msgtype":"m.text","body":"hi"}`)
			e.SenderName = name
			return e
		}
		member := func(evID, user, name string, ts int64, content string) store.Event {
			e := mk(t, evID, "m.room.member", user, ts, sk(user), content)
			e.SenderName = name
			return e
		}
		put(t, st, append(baseRoom(t),
			member("$nj", nick, "", 1500, `{"membership":"join"}`),
			msg("$n1", nick, "", 2000), msg("$n2", nick, "", 2001), msg("$n3", nick, "", 2002),
			member("$dj", named, "Dee", 1500, `{"membership":"join","displayname":"Dee"}`),
			msg("$d1", named, "Dee", 2003),
			member("$sj", shy, "Secret", 1500, `{"membership":"join","displayname":"Secret"}`),
			msg("$s1", shy, "Secret", 2004),
			msg("$g1", gone, "", 2005),
			msg("$i1", impost, "", 2006),
			msg("$a1", "@alice:example.org", "Alice", 2007),
		)...)
		// The shy puppet takes its display name back: its events lose it.
		put(t, st, mk(t, "$sr", "m.room.redaction", shy, 3000, nil, `{"redacts":"$sj"}`))
		if _, err := st.OptOut(ctx, gone, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		before := lastChange(t, st)

		var progress []int
		n, err := st.NamePuppets(ctx, bridges.Nick, 2, func(done int) { progress = append(progress, done) })
		if err != nil {
			t.Fatal(err)
		}
		// $nj $n1 $n2 $n3, and the shy puppet's $sj $s1 $sr (its nick
		// comes from its user ID, not from the name it took back).
		if n != 7 {
			t.Errorf("named %d events, want 7", n)
		}
		if len(progress) < 4 || progress[len(progress)-1] != 7 {
			t.Errorf("progress %v: want a report per batch of 2, ending at 7", progress)
		}
		if _, err := st.OptIn(ctx, gone); err != nil {
			t.Fatal(err)
		}
		want := map[id.EventID]string{
			"$nj": "nick", "$n1": "nick", "$n2": "nick", "$n3": "nick",
			"$dj": "Dee", "$d1": "Dee",
			"$sj": "shy", "$s1": "shy", "$sr": "shy",
			"$g1": "", "$i1": "", "$a1": "Alice",
		}
		ids := make([]id.EventID, 0, len(want))
		for i := range want {
			ids = append(ids, i)
		}
		for i, got := range senderNames(t, st, ids...) {
			if got != want[i] {
				t.Errorf("%s: sender name %q, want %q", i, got, want[i])
			}
		}

		changes, err := st.Changes(ctx, before, 1000)
		if err != nil {
			t.Fatal(err)
		}
		renamed := map[id.EventID]bool{}
		for _, c := range changes {
			if c.Kind == store.ChangeRenamed && c.RoomID == room {
				renamed[c.EventID] = true
			}
		}
		for _, i := range []id.EventID{"$nj", "$n1", "$n2", "$n3", "$sj", "$s1", "$sr"} {
			if !renamed[i] {
				t.Errorf("%s: no %q change in the feed %+v", i, store.ChangeRenamed, changes)
			}
		}

		// Idempotent: nothing left to name, no change written (with the
		// user opted out again, whose events a run after an opt-in names).
		if _, err := st.OptOut(ctx, gone, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		mid := lastChange(t, st)
		n, err = st.NamePuppets(ctx, bridges.Nick, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if after := lastChange(t, st); n != 0 || after != mid {
			t.Errorf("second run named %d events and moved the feed from %d to %d, want nothing", n, mid, after)
		}
	})
}
