package event

import (
	"encoding/json"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestMaySendState(t *testing.T) {
	const alice, bob, carol = id.UserID("@alice:a.org"), id.UserID("@bob:b.org"), id.UserID("@carol:c.org")
	creators := []id.UserID{alice}
	for _, c := range []struct {
		name     string
		version  string
		pl       string // "" for none
		creators []id.UserID
		user     id.UserID
		want     bool
	}{
		{"admin by users", "10", `{"users":{"@bob:b.org":100}}`, creators, bob, true},
		{"member at 0", "10", `{"users":{"@alice:a.org":100}}`, creators, bob, false},
		{"moderator reaches the default 50", "10", `{"users":{"@bob:b.org":50}}`, creators, bob, true},
		{"events override above the user", "10", `{"users":{"@bob:b.org":50},"events":{"m.room.history_visibility":100}}`, creators, bob, false},
		{"events override below the user", "10", `{"users":{"@bob:b.org":10},"events":{"m.room.history_visibility":10}}`, creators, bob, true},
		{"state_default", "10", `{"users_default":20,"state_default":20}`, creators, carol, true},
		{"users_default below state_default", "10", `{"users_default":20,"state_default":30}`, creators, carol, false},
		{"string level (pre-v10 rooms)", "9", `{"users":{"@bob:b.org":"100"}}`, creators, bob, true},
		{"malformed users fails closed", "10", `{"users":[1]}`, creators, bob, false},
		{"malformed required level fails closed", "10", `{"users":{"@bob:b.org":100},"state_default":"x"}`, creators, bob, false},
		{"no power levels: the creator", "10", "", creators, alice, true},
		{"no power levels: anyone else", "10", "", creators, bob, false},
		{"v11 creator demoted by power levels", "11", `{"users":{"@alice:a.org":0}}`, creators, alice, false},
		{"v12 creator is above power levels", "12", `{"users":{}}`, creators, alice, true},
		{"v12 additional creator", "12", `{"users":{}}`, []id.UserID{alice, carol}, carol, true},
		{"v12 listed user at 100", "12", `{"users":{"@bob:b.org":100}}`, creators, bob, true},
		{"unknown user", "10", `{"users":{"@alice:a.org":100}}`, creators, "", false},
	} {
		var pl json.RawMessage
		if c.pl != "" {
			pl = json.RawMessage(c.pl)
		}
		if got := MaySendState(c.version, pl, c.creators, c.user, TypeHistoryVisibility); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCreators(t *testing.T) {
	for name, tc := range map[string]struct {
		sender  id.UserID
		content string
		want    string
	}{
		"sender only":          {"@a:x", `{"room_version":"11"}`, "[@a:x]"},
		"additional creators":  {"@a:x", `{"room_version":"12","additional_creators":["@b:x","@a:x","@c:x"]}`, "[@a:x @b:x @c:x]"},
		"malformed list":       {"@a:x", `{"additional_creators":"@b:x"}`, "[@a:x]"},
		"no create event":      {"", ``, "[]"},
		"not an object at all": {"@a:x", `[1]`, "[@a:x]"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := fmt.Sprint(Creators(tc.sender, json.RawMessage(tc.content))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
