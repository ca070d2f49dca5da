package ingest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func dmCommand(t *testing.T, evID, sender, body string) *event.Event {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"event_id": evID, "room_id": "!dm:example.org", "type": "m.room.message",
		"sender": sender, "origin_server_ts": 1000, "content": map[string]any{"msgtype": "m.text", "body": body}})
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// A DM "!archive optin" undoes only the sender's own opt-out: an operator's
// opt-out or an erasure stays, and the answer says so.
func TestDirectMessageOptInUndoesOnlyASelfOptOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		m := &Manager{st: st, log: storetest.Logger(t)}
		run := func(evID, sender, body string) string {
			t.Helper()
			a, err := m.command(ctx, dmCommand(t, evID, sender, body))
			if err != nil || a == nil {
				t.Fatalf("%s: %v %v", body, a, err)
			}
			return a.text
		}
		optedOut := func(u id.UserID) bool {
			t.Helper()
			out, err := st.OptedOut(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}

		// The user's own opt-out, undone by the user.
		run("$1", "@self:example.org", "!archive optout")
		if ans := run("$2", "@self:example.org", "!archive optin"); optedOut("@self:example.org") || !strings.HasPrefix(ans, "Done") {
			t.Errorf("self opt-in after self opt-out: still opted out=%v, answer %q", optedOut("@self:example.org"), ans)
		}

		// The operator's opt-out: a DM does not undo it.
		if _, err := st.OptOut(ctx, "@op:example.org", store.OptOutByOperator); err != nil {
			t.Fatal(err)
		}
		ans := run("$3", "@op:example.org", "!archive optin")
		if !optedOut("@op:example.org") {
			t.Error("a DM opt-in undid the operator's opt-out")
		}
		if !strings.Contains(ans, "operator") || strings.HasPrefix(ans, "Done") {
			t.Errorf("answer to a refused opt-in = %q; want it to say the operator opted them out", ans)
		}
		// Nor does a DM opt-out followed by an opt-in launder it.
		run("$4", "@op:example.org", "!archive optout")
		run("$5", "@op:example.org", "!archive optin")
		if !optedOut("@op:example.org") {
			t.Error("opt-out then opt-in by DM undid the operator's opt-out")
		}

		// An erasure: same.
		if _, err := st.EraseUser(ctx, "@gone:example.org", false); err != nil {
			t.Fatal(err)
		}
		ans = run("$6", "@gone:example.org", "!archive optin")
		if !optedOut("@gone:example.org") || !strings.Contains(ans, "operator") {
			t.Errorf("after an erasure, DM opt-in: opted out=%v, answer %q", optedOut("@gone:example.org"), ans)
		}
		if ans := run("$7", "@gone:example.org", "!archive status"); !strings.Contains(ans, "operator") {
			t.Errorf("status of an erased user = %q; want it to name the operator", ans)
		}
	})
}

// A DM opt-in is taken an hour after the user's own opt-out at the
// earliest: each opt-out and opt-in makes every archive-web re-read the
// user's messages, and a member toggling in a loop made them do it without
// end. The opt-out itself is never delayed.
func TestDirectMessageOptInWaitsAfterOptOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		m := &Manager{st: st, log: storetest.Logger(t), optInWait: time.Hour}
		run := func(evID, body string) string {
			t.Helper()
			a, err := m.command(ctx, dmCommand(t, evID, "@toggle:example.org", body))
			if err != nil || a == nil {
				t.Fatalf("%s: %v %v", body, a, err)
			}
			return a.text
		}
		if ans := run("$1", "!archive optout"); !strings.HasPrefix(ans, "Done") {
			t.Fatalf("opt-out: %q", ans)
		}
		head, err := st.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ans := run("$2", "!archive optin"); !strings.HasPrefix(ans, "Not yet") || !strings.Contains(ans, "an hour") {
			t.Errorf("opt-in just after the opt-out: %q", ans)
		}
		if out, err := st.OptedOut(ctx, "@toggle:example.org"); err != nil || !out {
			t.Errorf("opted out after a refused opt-in: %v, %v", out, err)
		}
		if now, err := st.FeedHead(ctx); err != nil || now != head {
			t.Errorf("a refused opt-in fed a change: head %d, then %d (%v)", head, now, err)
		}
		// An hour on (here: no wait), it is taken.
		m.optInWait = 0
		if ans := run("$3", "!archive optin"); !strings.HasPrefix(ans, "Done") {
			t.Errorf("opt-in after the wait: %q", ans)
		}
	})
}
