package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// Lines of a room where @z:example.org ("Zorblax") takes part; times are
// 2026-01-01 00:00:00 UTC plus the offset in ms.
func zLine(evID, typ string, offset int64, sender string, stateKey *string, content string) string {
	sk := ""
	if stateKey != nil {
		sk = fmt.Sprintf(`,"state_key":%q`, *stateKey)
	}
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"origin_server_ts":%d%s,"content":%s}`,
		evID, typ, sender, 1767225600000+offset, sk, content)
}

func sk(s string) *string { return &s }

const (
	zUser = "@z:example.org"
	aUser = "@a:example.org"
)

// everywhere returns what every route shows of the room's day and of the
// given events: the day page, its text log, the API day, and each event's
// permalink and API form.
func (e *env) everywhere(t *testing.T, events ...string) map[string]string {
	t.Helper()
	out := map[string]string{
		"day page": e.get(t, "/room/!x:example.org/2026-01-01").Body.String(),
		"text log": e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String(),
		"API day":  e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-01").Body.String(),
	}
	for _, ev := range events {
		out["permalink "+ev] = e.get(t, "/room/!x:example.org/event/"+ev).Body.String()
		out["API event "+ev] = e.get(t, "/api/v1/events/"+ev).Body.String()
	}
	return out
}

// Redacting one's member event withdraws the name it set: the name leaves
// every message, state line, text log line, reply excerpt and API field
// that showed it, including the next member event's "changed their name"
// line. A name set later, still in force, stays.
func TestRedactedMemberEventWithdrawsTheName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			zLine("$zm", "m.room.message", 1000, zUser, nil, `{"msgtype":"m.text","body":"hello from z"}`),
			zLine("$ar", "m.room.message", 2000, aUser, nil, `{"msgtype":"m.text","body":"> <@z:example.org> hello from z\n\nhi back","m.relates_to":{"m.in_reply_to":{"event_id":"$zm"}}}`),
			zLine("$zn", "m.room.member", 3000, zUser, sk(zUser), `{"membership":"join","displayname":"Quuxley"}`),
			zLine("$zm2", "m.room.message", 4000, zUser, nil, `{"msgtype":"m.text","body":"second from z"}`),
		))
		if page := e.get(t, "/room/!x:example.org/2026-01-01").Body.String(); !strings.Contains(page, "Zorblax") {
			t.Fatalf("before the redaction the day page does not name Zorblax:\n%.3000s", page)
		}
		e.addEvents(t, redactionLine("$zr", zUser, 1767225605000, "$zj", "withdrawing my name"))
		for route, body := range e.everywhere(t, "$zm", "$ar", "$zj", "$zn") {
			if strings.Contains(body, "Zorblax") {
				t.Errorf("%s still shows the withdrawn name:\n%.3000s", route, body)
			}
		}
		if page := e.get(t, "/room/!x:example.org/2026-01-01").Body.String(); !strings.Contains(page, "Quuxley") {
			t.Errorf("the name in force later (Quuxley) is gone too:\n%.3000s", page)
		}
	})
}

// erase-user removes every trace of a user's names: the lines of state they
// sent (a topic), member events about them sent by others (an invite
// carries the invitee's name), and reply excerpts.
func TestEraseUserRemovesTheirNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$zi", "m.room.member", 5, aUser, sk(zUser), `{"membership":"invite","displayname":"Zorblax"}`),
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			zLine("$zt", "m.room.topic", 500, zUser, sk(""), `{"topic":"a topic"}`),
			zLine("$zm", "m.room.message", 1000, zUser, nil, `{"msgtype":"m.text","body":"hello from z"}`),
			zLine("$ar", "m.room.message", 2000, aUser, nil, `{"msgtype":"m.text","body":"> <@z:example.org> hello from z\n\nhi back","m.relates_to":{"m.in_reply_to":{"event_id":"$zm"}}}`),
		))
		if page := e.get(t, "/room/!x:example.org/2026-01-01").Body.String(); !strings.Contains(page, "Zorblax") {
			t.Fatalf("before the erasure the day page does not name Zorblax:\n%.3000s", page)
		}
		if _, err := st.EraseUser(context.Background(), zUser, false); err != nil {
			t.Fatal(err)
		}
		for route, body := range e.everywhere(t, "$ar", "$zi", "$zj", "$zt") {
			if strings.Contains(body, "Zorblax") {
				t.Errorf("%s still shows the erased user's name:\n%.3000s", route, body)
			}
		}
		// The names are gone from the store itself, not only hidden by the
		// opt-out that erasure records: an opt-in must not bring them back.
		if _, err := st.OptIn(context.Background(), zUser); err != nil {
			t.Fatal(err)
		}
		for route, body := range e.everywhere(t, "$ar", "$zi", "$zj", "$zt") {
			if strings.Contains(body, "Zorblax") {
				t.Errorf("after an opt-in, %s shows the erased user's name again:\n%.3000s", route, body)
			}
		}
	})
}

// The operator takes down a member event whose display name is abusive
// (archiver takedown, a process of its own, while archiver run goes on).
// The name leaves every event already stored (forgetName), and it stays
// gone from the member's later messages too: the running archiver's
// ingester, which keeps the room's state in memory, checks the names it
// gives against the store (Ingester.stillNamed); it named every later
// message by the withdrawn name (helper-99).
func TestTakenDownNameStaysOffLaterMessages(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			archiver, web2 := storetest.Twins(t, dialect, store.Options{})
			in := ingest.New(archiver, storetest.Logger(t), "") // archiver run's one ingester
			if _, err := in.Ingest(ctx, parseLines(t,
				`{"event_id":"$c","room_id":"!x:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"10"}}`,
				`{"event_id":"$hv","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
				zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Abusivename"}`),
				zLine("$zm1", "m.room.message", 1000, zUser, nil, `{"msgtype":"m.text","body":"first"}`),
			)); err != nil {
				t.Fatal(err)
			}
			srv, err := web.New(web2, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example"})
			if err != nil {
				t.Fatal(err)
			}
			e := &env{st: web2, srv: srv}
			if page := e.get(t, "/room/!x:example.org/2026-01-01").Body.String(); !strings.Contains(page, "Abusivename") {
				t.Fatalf("before the takedown the day page does not show the name:\n%.2000s", page)
			}
			// The operator's command, on a store of its own (another
			// process than the archiver's).
			if err := web2.Takedown(ctx, "$zj", "abusive display name"); err != nil {
				t.Fatal(err)
			}
			for route, body := range e.everywhere(t, "$zm1") {
				if strings.Contains(body, "Abusivename") {
					t.Fatalf("right after the takedown %s still shows the name:\n%.2000s", route, body)
				}
			}
			// Zorblax writes again; the archiver that ran all along stores it.
			if _, err := in.Ingest(ctx, parseLines(t,
				zLine("$zm2", "m.room.message", 5000, zUser, nil, `{"msgtype":"m.text","body":"second"}`),
			)); err != nil {
				t.Fatal(err)
			}
			for route, body := range e.everywhere(t, "$zm1", "$zm2") {
				if strings.Contains(body, "Abusivename") {
					t.Errorf("after the takedown of the member event that set it, %s shows the taken-down name again on a later message; expected it withdrawn for good (no member event sets it):\n%.2000s", route, body)
				}
			}
		})
	}
}

func parseLines(t *testing.T, lines ...string) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, l := range lines {
		ev, err := event.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}
