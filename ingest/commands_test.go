package ingest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

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
