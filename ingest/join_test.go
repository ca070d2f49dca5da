package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

func stateOf(t *testing.T, evs ...map[string]any) []*event.Event {
	t.Helper()
	var out []*event.Event
	for i, m := range evs {
		m["event_id"] = "$s" + string(rune('a'+i))
		m["room_id"] = "!r:example.org"
		m["origin_server_ts"] = 1000 + i
		if _, ok := m["state_key"]; !ok {
			m["state_key"] = ""
		}
		raw, _ := json.Marshal(m)
		ev, err := event.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestInviterMayNot(t *testing.T) {
	create := func(version string, extra ...string) map[string]any {
		c := map[string]any{"room_version": version}
		if len(extra) > 0 {
			c["additional_creators"] = extra
		}
		return map[string]any{"type": "m.room.create", "sender": "@alice:a.org", "content": c}
	}
	pl := map[string]any{"type": "m.room.power_levels", "sender": "@alice:a.org",
		"content": map[string]any{"users": map[string]any{"@alice:a.org": 100, "@mod:b.org": 50}}}
	for _, c := range []struct {
		name    string
		state   []map[string]any
		inviter id.UserID
		ok      bool
	}{
		{"admin", []map[string]any{create("10"), pl}, "@alice:a.org", true},
		{"moderator at state_default", []map[string]any{create("10"), pl}, "@mod:b.org", true},
		{"member", []map[string]any{create("10"), pl}, "@bob:b.org", false},
		{"unknown inviter", []map[string]any{create("10"), pl}, "", false},
		{"no create event", []map[string]any{pl}, "@alice:a.org", false},
		{"v12 additional creator", []map[string]any{create("12", "@carol:c.org"), pl}, "@carol:c.org", true},
		{"no power levels: the creator", []map[string]any{create("10")}, "@alice:a.org", true},
		{"no power levels: someone else", []map[string]any{create("10")}, "@bob:b.org", false},
	} {
		why := inviterMayNot(stateOf(t, c.state...), c.inviter)
		if (why == "") != c.ok {
			t.Errorf("%s: %q, want ok=%v", c.name, why, c.ok)
		}
	}
}

func TestNotSuccessorOf(t *testing.T) {
	create := func(content map[string]any) map[string]any {
		return map[string]any{"type": "m.room.create", "sender": "@alice:a.org", "content": content}
	}
	for _, c := range []struct {
		name  string
		state []map[string]any
		ok    bool
	}{
		{"names the old room", []map[string]any{create(map[string]any{"room_version": "10", "predecessor": map[string]any{"room_id": "!old:a.org", "event_id": "$t"}})}, true},
		{"names another room", []map[string]any{create(map[string]any{"room_version": "10", "predecessor": map[string]any{"room_id": "!else:a.org"}})}, false},
		{"names none", []map[string]any{create(map[string]any{"room_version": "10"})}, false},
		{"malformed predecessor", []map[string]any{create(map[string]any{"room_version": "10", "predecessor": "!old:a.org"})}, false},
		{"no create event", nil, false},
	} {
		why := notSuccessorOf(stateOf(t, c.state...), "!old:a.org")
		if (why == "") != c.ok {
			t.Errorf("%s: %q, want ok=%v", c.name, why, c.ok)
		}
	}
}

func TestInviterIn(t *testing.T) {
	m := &Manager{bot: "@archive:example.org"}
	for _, c := range []struct {
		name, invite string
		want         id.UserID
	}{
		{"the invite event", `{"invite_state":{"events":[{"type":"m.room.create","state_key":"","sender":"@a:x.org","content":{}},
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@a:x.org","content":{"membership":"invite"}}]}}`, "@a:x.org"},
		{"someone else's invite", `{"invite_state":{"events":[{"type":"m.room.member","state_key":"@other:example.org","sender":"@a:x.org","content":{"membership":"invite"}}]}}`, ""},
		{"the bot's join, not an invite", `{"invite_state":{"events":[{"type":"m.room.member","state_key":"@archive:example.org","sender":"@archive:example.org","content":{"membership":"join"}}]}}`, ""},
		{"no stripped state", `{}`, ""},
		{"not JSON", `nope`, ""},
	} {
		if got := m.inviterIn(json.RawMessage(c.invite)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRetryWait(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}, {4, 8 * time.Minute}, {20, maxRetryWait}, {1000, maxRetryWait}} {
		if got := retryWait(time.Minute, c.n); got != c.want {
			t.Errorf("after %d failures: %s, want %s", c.n, got, c.want)
		}
	}
}

// A room's own claim of an alias on the allow list does not allow it:
// any admin of a room made on evil.org may write #ansible:matrix.org in
// its m.room.canonical_alias (alias or alt_aliases). Such a claim still
// denies (a deny list may err on the side of refusing).
func TestAllowListIgnoresClaimedAliases(t *testing.T) {
	m := &Manager{bot: "@archive:example.org", cfg: ManagerConfig{AllowRooms: []string{"#ansible:matrix.org"}, DenyRooms: []string{"#spam:example.org"}}}
	for _, content := range []map[string]any{
		{"alias": "#ansible:matrix.org"},
		{"alt_aliases": []string{"#ansible:matrix.org"}},
	} {
		state := stateOf(t,
			map[string]any{"type": "m.room.create", "sender": "@mallory:evil.org", "content": map[string]any{"room_version": "10"}},
			map[string]any{"type": "m.room.canonical_alias", "sender": "@mallory:evil.org", "content": content},
		)
		if why := m.denied("!evil:evil.org", state, []string{"evil.org"}); why != notAllowed {
			t.Errorf("allow_rooms [#ansible:matrix.org] and !evil:evil.org claiming it (%v): %q; want %q (then the directory is asked)", content, why, notAllowed)
		}
	}
	state := stateOf(t, map[string]any{"type": "m.room.canonical_alias", "sender": "@mallory:evil.org", "content": map[string]any{"alt_aliases": []string{"#spam:example.org"}}})
	if why := m.denied("!evil:evil.org", state, nil); why == "" || why == notAllowed {
		t.Errorf("a room claiming a denied alias: %q; want denied", why)
	}
}

// An invite seen only in /sync names its inviter from the invite's
// stripped state, which the inviting server sends unsigned; the
// homeserver adds the invite event itself. @mallory:evil.org's server put
// a member event first saying the room's admin @admin:matrix.org invited
// the bot, and inviterIn took it: the allow and deny lists judged
// matrix.org, and the power check asked of the admin. Two inviters are
// none: the invite is declined.
func TestInviterInForgedStrippedState(t *testing.T) {
	m := &Manager{bot: "@archive:example.org"}
	for name, c := range map[string]struct {
		invite string
		want   id.UserID
	}{
		"forged first": {`{"invite_state":{"events":[
			{"type":"m.room.create","state_key":"","sender":"@admin:matrix.org","content":{}},
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@admin:matrix.org","content":{"membership":"invite"}},
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@mallory:evil.org","content":{"membership":"invite"},"event_id":"$real","origin_server_ts":1}]}}`, ""},
		"one invite": {`{"invite_state":{"events":[
			{"type":"m.room.create","state_key":"","sender":"@admin:matrix.org","content":{}},
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@bob:example.org","content":{"membership":"invite"},"event_id":"$real","origin_server_ts":1}]}}`, "@bob:example.org"},
		"the same inviter twice": {`{"invite_state":{"events":[
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@bob:example.org","content":{"membership":"invite"}},
			{"type":"m.room.member","state_key":"@archive:example.org","sender":"@bob:example.org","content":{"membership":"invite"},"event_id":"$real","origin_server_ts":1}]}}`, "@bob:example.org"},
	} {
		if got := m.inviterIn(json.RawMessage(c.invite)); got != c.want {
			t.Errorf("%s: inviterIn = %q; want %q", name, got, c.want)
		}
	}
}
