package store_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// redactionOf is an m.room.redaction of room with the top-level redacts
// top (none if "") and content (raw JSON).
func redactionOf(t *testing.T, evID, sender string, ts int64, top, content string) store.Event {
	t.Helper()
	redacts := ""
	if top != "" {
		redacts = fmt.Sprintf(`"redacts":%q,`, top)
	}
	ev, err := event.Parse(fmt.Appendf(nil, `{"event_id":%q,"room_id":%q,"type":"m.room.redaction","sender":%q,"origin_server_ts":%d,%s"content":%s}`,
		evID, room, sender, ts, redacts, content))
	if err != nil {
		t.Fatal(err)
	}
	return store.Event{Event: *ev, Public: true}
}

// A moderator demoted at 5000, whose server then stamps a redaction with
// a time from when they were one (2000), of a message sent after the
// demotion (8000): a redaction passes the auth rules like any message
// (room versions 3 on), so the homeserver delivers it, and the archive,
// judging the power at the redaction's own time, erased the message and
// showed it "deleted by" them at 2000, before it was sent. The power is
// judged where the redaction is, never before its target.
func TestBackdatedRedactionOfADemotedModerator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$early", "m.room.message", "@alice:example.org", 1500, nil, `{"msgtype":"m.text","body":"early"}`),
			mk(t, "$demote", "m.room.power_levels", "@alice:example.org", 5000, sk(""), `{"users":{"@alice:example.org":100},"redact":50}`),
			mk(t, "$victim", "m.room.message", "@alice:example.org", 8000, nil, `{"msgtype":"m.text","body":"mod:other.org is demoted for abuse"}`),
		)...)
		put(t, st, redactionOf(t, "$red", "@mod:other.org", 2000, "$victim", `{"redacts":"$victim","reason":"spam"}`))
		if e, err := st.EventByID(ctx, "$victim"); err != nil || e.Redacted {
			t.Errorf("a demoted moderator's backdated redaction erased a message sent after the demotion (%v)", err)
		}
		// A redaction they sent while a moderator, of a message before
		// it, still applies.
		put(t, st, redactionOf(t, "$red2", "@mod:other.org", 1600, "$early", `{"redacts":"$early"}`))
		if e, err := st.EventByID(ctx, "$early"); err != nil || !e.Redacted {
			t.Errorf("a moderator's redaction of a message before their demotion was not applied (%v)", err)
		}
	})
}

// Before room version 11 a redaction's target is its top-level redacts:
// that is what its servers checked (a member may redact her own message)
// and applied, and content is free. A member who redacted her own
// message with content.redacts naming another's had the other's erased,
// since the archive read content.redacts first. From v11 content.redacts
// is the target.
func TestRedactionTargetByRoomVersion(t *testing.T) {
	// Each redaction names mallory's own message where its room version
	// reads the target, and alice's elsewhere.
	for _, c := range []struct {
		version, top, content string
	}{
		{"10", "$own", "$victim"},
		{"3", "$own", "$victim"},
		{"11", "$victim", "$own"},
	} {
		t.Run("v"+c.version, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				evs := baseRoom(t)
				evs[0] = mk(t, "$create", "m.room.create", "@alice:example.org", 1000, sk(""), `{"room_version":"`+c.version+`","creator":"@alice:example.org"}`)
				put(t, st, append(evs,
					mk(t, "$m1", "m.room.member", "@mallory:example.org", 1006, sk("@mallory:example.org"), `{"membership":"join"}`),
					mk(t, "$own", "m.room.message", "@mallory:example.org", 2000, nil, `{"msgtype":"m.text","body":"mine"}`),
					mk(t, "$victim", "m.room.message", "@alice:example.org", 2500, nil, `{"msgtype":"m.text","body":"the vote passed 7 to 2"}`),
				)...)
				put(t, st, redactionOf(t, "$red", "@mallory:example.org", 3000, c.top, `{"redacts":"`+c.content+`"}`))
				for evID, want := range map[id.EventID]bool{"$own": true, "$victim": false} {
					e, err := st.EventByID(ctx, evID)
					if err != nil {
						t.Fatal(err)
					}
					if e.Redacted != want {
						t.Errorf("in a v%s room, mallory's redaction with top-level redacts %s and content.redacts %s: %s redacted %v, want %v",
							c.version, c.top, c.content, evID, e.Redacted, want)
					}
				}
			})
		})
	}
}
