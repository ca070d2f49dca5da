package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"
)

// upTo is one group of room versions that redact alike (each version's
// algorithm: https://spec.matrix.org/v1.16/rooms/v11/#redactions and the other rooms/vN pages): want applies to every
// room version after the previous upTo's last, up to and including last.
type upTo struct {
	last int
	want string
}

func TestRedactContentByVersion(t *testing.T) {
	const signed = `{"mxid":"@bob:x","signatures":{"x":{"ed25519:1":"sig"}},"token":"tok"}`
	const powerLevels = `{"ban":50,"events":{"m.room.name":50},"events_default":0,"historical":100,"invite":0,` +
		`"kick":50,"notifications":{"room":50},"redact":50,"state_default":50,"users":{"@a:x":100},"users_default":0}`
	tests := []struct {
		name    string
		evType  string
		content string
		want    []upTo
	}{
		{
			name:    "member",
			evType:  TypeMember,
			content: `{"membership":"join","displayname":"Bob","avatar_url":"mxc://x/y","join_authorised_via_users_server":"@admin:x","third_party_invite":{"display_name":"Bob","signed":` + signed + `},"m.relates_to":{"rel_type":"m.reference","event_id":"$x"}}`,
			want: []upTo{
				{8, `{"membership":"join"}`},
				{10, `{"join_authorised_via_users_server":"@admin:x","membership":"join"}`},
				{12, `{"join_authorised_via_users_server":"@admin:x","membership":"join","third_party_invite":{"signed":` + signed + `}}`},
			},
		},
		{
			name:    "member third_party_invite without signed keeps an empty object, as Synapse does",
			evType:  TypeMember,
			content: `{"membership":"invite","third_party_invite":{"display_name":"Bob"}}`,
			want: []upTo{
				{10, `{"membership":"invite"}`},
				{12, `{"membership":"invite","third_party_invite":{}}`},
			},
		},
		{
			name:    "member third_party_invite that is not an object",
			evType:  TypeMember,
			content: `{"membership":"invite","third_party_invite":"signed"}`,
			want:    []upTo{{12, `{"membership":"invite"}`}},
		},
		{
			name:    "member without membership",
			evType:  TypeMember,
			content: `{"displayname":"Bob"}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "create",
			evType:  TypeCreate,
			content: `{"creator":"@a:x","room_version":"9","m.federate":false,"predecessor":{"room_id":"!old:x","event_id":"$e"}}`,
			want: []upTo{
				{10, `{"creator":"@a:x"}`},
				{12, `{"creator":"@a:x","room_version":"9","m.federate":false,"predecessor":{"room_id":"!old:x","event_id":"$e"}}`},
			},
		},
		{
			name:    "create without creator",
			evType:  TypeCreate,
			content: `{"room_version":"12","additional_creators":["@b:y"]}`,
			want: []upTo{
				{10, `{}`},
				{12, `{"room_version":"12","additional_creators":["@b:y"]}`},
			},
		},
		{
			name:    "join_rules",
			evType:  TypeJoinRules,
			content: `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!space:x"}],"extra":1}`,
			want: []upTo{
				{7, `{"join_rule":"restricted"}`},
				{12, `{"allow":[{"type":"m.room_membership","room_id":"!space:x"}],"join_rule":"restricted"}`},
			},
		},
		{
			name:    "power_levels",
			evType:  TypePowerLevels,
			content: powerLevels,
			want: []upTo{
				{10, `{"ban":50,"events":{"m.room.name":50},"events_default":0,"kick":50,"redact":50,"state_default":50,"users":{"@a:x":100},"users_default":0}`},
				{12, `{"ban":50,"events":{"m.room.name":50},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@a:x":100},"users_default":0}`},
			},
		},
		{
			name:    "power_levels values of any JSON type are kept as they are",
			evType:  TypePowerLevels,
			content: `{"ban":"50","kick":null,"users":[]}`,
			want:    []upTo{{12, `{"ban":"50","kick":null,"users":[]}`}},
		},
		{
			name:    "history_visibility",
			evType:  TypeHistoryVisibility,
			content: `{"history_visibility":"world_readable","reason":"public"}`,
			want:    []upTo{{12, `{"history_visibility":"world_readable"}`}},
		},
		{
			name:    "aliases only protected in v1 to v5",
			evType:  "m.room.aliases",
			content: `{"aliases":["#a:x","#b:x"],"other":true}`,
			want: []upTo{
				{5, `{"aliases":["#a:x","#b:x"]}`},
				{12, `{}`},
			},
		},
		{
			name:    "redaction keeps content.redacts from v11",
			evType:  TypeRedaction,
			content: `{"redacts":"$target","reason":"spam"}`,
			want: []upTo{
				{10, `{}`},
				{12, `{"redacts":"$target"}`},
			},
		},
		{
			name:    "message",
			evType:  TypeMessage,
			content: `{"msgtype":"m.text","body":"secret","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "reaction loses its relation",
			evType:  TypeReaction,
			content: `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$p","key":"👍"}}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "room name",
			evType:  TypeName,
			content: `{"name":"Secret plans"}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "topic",
			evType:  TypeTopic,
			content: `{"topic":"t"}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "custom type with a protected-looking key",
			evType:  "org.example.custom",
			content: `{"membership":"join","redacts":"$x","creator":"@a:x"}`,
			want:    []upTo{{12, `{}`}},
		},
		{
			name:    "HTML-significant characters are not escaped",
			evType:  TypeHistoryVisibility,
			content: `{"history_visibility":"<shared> & more"}`,
			want:    []upTo{{12, `{"history_visibility":"<shared> & more"}`}},
		},
	}
	for _, tt := range tests {
		for v := 1; v <= 12; v++ {
			want := ""
			for _, u := range tt.want {
				if v <= u.last {
					want = u.want
					break
				}
			}
			t.Run(fmt.Sprintf("%s/v%d", tt.name, v), func(t *testing.T) {
				got := RedactContent(tt.evType, json.RawMessage(tt.content), fmt.Sprint(v))
				if string(got) != want {
					t.Errorf("RedactContent = %s, want %s", got, want)
				}
			})
		}
	}
}

func TestRedactContentVersionAliases(t *testing.T) {
	// Each alias must behave exactly like the version it stands for, for
	// every event type whose rules differ between versions.
	contents := map[string]string{
		TypeMember:       `{"membership":"join","join_authorised_via_users_server":"@a:x","third_party_invite":{"signed":{}}}`,
		TypeCreate:       `{"creator":"@a:x","room_version":"1"}`,
		TypeJoinRules:    `{"join_rule":"restricted","allow":[]}`,
		TypePowerLevels:  `{"invite":50,"ban":50}`,
		TypeRedaction:    `{"redacts":"$x"}`,
		"m.room.aliases": `{"aliases":[]}`,
	}
	tests := []struct {
		name    string
		version string
		sameAs  string
	}{
		{"empty version is v1", "", "1"},
		{"unknown numeric version is the newest", "13", "12"},
		{"custom version is the newest", "org.matrix.msc9999", "12"},
		{"padded number is not v9", " 9", "12"},
	}
	for _, tt := range tests {
		for typ, content := range contents {
			t.Run(tt.name+"/"+typ, func(t *testing.T) {
				got := RedactContent(typ, json.RawMessage(content), tt.version)
				want := RedactContent(typ, json.RawMessage(content), tt.sameAs)
				if string(got) != string(want) {
					t.Errorf("RedactContent(%q) = %s, want %s as for %q", tt.version, got, want, tt.sameAs)
				}
			})
		}
	}
}

func TestRedactContentMalformed(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"nil", ""},
		{"null", "null"},
		{"array", `[{"membership":"join"}]`},
		{"string", `"join"`},
		{"number", `1`},
		{"invalid JSON", `{"membership":`},
		{"trailing garbage", `{"membership":"join"} x`},
	}
	for _, tt := range tests {
		for _, typ := range []string{TypeMember, TypeCreate, TypePowerLevels, TypeMessage} {
			for _, v := range []string{"1", "11"} {
				t.Run(fmt.Sprintf("%s/%s/v%s", tt.name, typ, v), func(t *testing.T) {
					got := RedactContent(typ, json.RawMessage(tt.content), v)
					if string(got) != `{}` {
						t.Errorf("RedactContent = %s, want {}", got)
					}
				})
			}
		}
	}
}

func TestRedactContentDoesNotAlias(t *testing.T) {
	content := json.RawMessage(`{"creator":"@a:x"}`)
	got := RedactContent(TypeCreate, content, "11")
	got[2] = 'X'
	if string(content) != `{"creator":"@a:x"}` {
		t.Errorf("mutating the result changed the input: %s", content)
	}
	a, b := RedactContent(TypeMessage, nil, "1"), RedactContent(TypeMessage, nil, "1")
	a[0] = '['
	if string(b) != `{}` {
		t.Errorf("results share memory: %s", b)
	}
}

func TestRedact(t *testing.T) {
	// full has every top-level key any version keeps, and some none keeps.
	const full = `{"auth_events":["$a"],"content":{"body":"secret","msgtype":"m.text"},"depth":5,"event_id":"$e:x",` +
		`"hashes":{"sha256":"h"},"membership":"join","origin":"x","origin_server_ts":1,"prev_events":["$p"],` +
		`"prev_state":[],"room_id":"!r:x","sender":"@a:x","signatures":{"x":{"ed25519:1":"s"}},"type":"m.room.message",` +
		`"unsigned":{"age":1,"redacted_because":{}},"redacts":"$z","age_ts":5,"extra":{"x":1}}`
	tests := []struct {
		name    string
		raw     string
		version string
		want    string
	}{
		{
			name:    "v1 keeps origin, membership and prev_state",
			raw:     full,
			version: "1",
			want: `{"auth_events":["$a"],"content":{},"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},"membership":"join",` +
				`"origin":"x","origin_server_ts":1,"prev_events":["$p"],"prev_state":[],"room_id":"!r:x","sender":"@a:x",` +
				`"signatures":{"x":{"ed25519:1":"s"}},"type":"m.room.message"}`,
		},
		{
			name:    "v10 same as v1",
			raw:     full,
			version: "10",
			want: `{"auth_events":["$a"],"content":{},"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},"membership":"join",` +
				`"origin":"x","origin_server_ts":1,"prev_events":["$p"],"prev_state":[],"room_id":"!r:x","sender":"@a:x",` +
				`"signatures":{"x":{"ed25519:1":"s"}},"type":"m.room.message"}`,
		},
		{
			name:    "v11 drops origin, membership and prev_state",
			raw:     full,
			version: "11",
			want: `{"auth_events":["$a"],"content":{},"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},` +
				`"origin_server_ts":1,"prev_events":["$p"],"room_id":"!r:x","sender":"@a:x",` +
				`"signatures":{"x":{"ed25519:1":"s"}},"type":"m.room.message"}`,
		},
		{
			name:    "unknown version like v12",
			raw:     full,
			version: "org.example.v99",
			want: `{"auth_events":["$a"],"content":{},"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},` +
				`"origin_server_ts":1,"prev_events":["$p"],"room_id":"!r:x","sender":"@a:x",` +
				`"signatures":{"x":{"ed25519:1":"s"}},"type":"m.room.message"}`,
		},
		{
			name:    "pre-v11 redaction loses its top-level redacts",
			raw:     `{"event_id":"$r","type":"m.room.redaction","room_id":"!r:x","sender":"@m:x","origin_server_ts":2,"redacts":"$t","content":{"reason":"spam"}}`,
			version: "10",
			want:    `{"content":{},"event_id":"$r","origin_server_ts":2,"room_id":"!r:x","sender":"@m:x","type":"m.room.redaction"}`,
		},
		{
			name:    "v11 redaction keeps content.redacts but not the top-level one",
			raw:     `{"event_id":"$r","type":"m.room.redaction","room_id":"!r:x","sender":"@m:x","origin_server_ts":2,"redacts":"$t","content":{"reason":"spam","redacts":"$t"}}`,
			version: "11",
			want:    `{"content":{"redacts":"$t"},"event_id":"$r","origin_server_ts":2,"room_id":"!r:x","sender":"@m:x","type":"m.room.redaction"}`,
		},
		{
			name:    "state event keeps state_key and protected content",
			raw:     `{"event_id":"$m","type":"m.room.member","state_key":"@b:y","room_id":"!r:x","sender":"@b:y","origin_server_ts":3,"content":{"membership":"join","displayname":"B"},"unsigned":{"prev_content":{"membership":"invite"}}}`,
			version: "9",
			want:    `{"content":{"membership":"join"},"event_id":"$m","origin_server_ts":3,"room_id":"!r:x","sender":"@b:y","state_key":"@b:y","type":"m.room.member"}`,
		},
		{
			name:    "missing content becomes {}",
			raw:     `{"event_id":"$e","type":"m.room.message"}`,
			version: "1",
			want:    `{"content":{},"event_id":"$e","type":"m.room.message"}`,
		},
		{
			name:    "content that is not an object becomes {}",
			raw:     `{"event_id":"$e","type":"m.room.create","content":["creator"]}`,
			version: "11",
			want:    `{"content":{},"event_id":"$e","type":"m.room.create"}`,
		},
		{
			name:    "non-string type redacts like an unknown type",
			raw:     `{"type":7,"content":{"membership":"join"}}`,
			version: "11",
			want:    `{"content":{},"type":7}`,
		},
		{
			name:    "empty version is v1",
			raw:     `{"type":"m.room.aliases","origin":"x","content":{"aliases":["#a:x"]}}`,
			version: "",
			want:    `{"content":{"aliases":["#a:x"]},"origin":"x","type":"m.room.aliases"}`,
		},
		{
			name:    "HTML-significant characters are not escaped",
			raw:     `{"type":"m.room.history_visibility","sender":"@<a>&:x","content":{"history_visibility":"<b>"}}`,
			version: "11",
			want:    `{"content":{"history_visibility":"<b>"},"sender":"@<a>&:x","type":"m.room.history_visibility"}`,
		},
		{
			name:    "v11 create keeps all content, compacted",
			raw:     `{"type":"m.room.create","content":{ "room_version" : "11", "x" : [1, 2] }}`,
			version: "11",
			want:    `{"content":{"room_version":"11","x":[1,2]},"type":"m.room.create"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Redact(json.RawMessage(tt.raw), tt.version)
			if err != nil {
				t.Fatalf("Redact: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Redact =\n%s\nwant\n%s", got, tt.want)
			}
			again, err := Redact(got, tt.version)
			if err != nil || string(again) != string(got) {
				t.Errorf("Redact is not idempotent: %s, %v", again, err)
			}
		})
	}
}

func TestRedactMalformed(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"empty", ``},
		{"null", `null`},
		{"array", `[]`},
		{"string", `"event"`},
		{"invalid JSON", `{"type":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Redact(json.RawMessage(tt.raw), "11")
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Redact = %s, %v; want an error wrapping ErrMalformed", got, err)
			}
		})
	}
}

func TestRedactsTarget(t *testing.T) {
	tests := []struct {
		name string
		e    *Event
		want id.EventID
	}{
		{"nil event", nil, ""},
		{"content.redacts", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"redacts":"$c"}`)}, "$c"},
		{"content.redacts wins over top-level", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"redacts":"$c"}`), Redacts: "$top"}, "$c"},
		{"top-level only", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"reason":"x"}`), Redacts: "$top"}, "$top"},
		{"content.redacts not a string", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"redacts":["$c"]}`), Redacts: "$top"}, "$top"},
		{"content.redacts empty", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"redacts":""}`), Redacts: "$top"}, "$top"},
		{"content.redacts null", &Event{Type: TypeRedaction, Content: json.RawMessage(`{"redacts":null}`), Redacts: "$top"}, "$top"},
		{"content not an object", &Event{Type: TypeRedaction, Content: json.RawMessage(`"$c"`), Redacts: "$top"}, "$top"},
		{"no target at all", &Event{Type: TypeRedaction, Content: json.RawMessage(`{}`)}, ""},
		{"not a redaction", &Event{Type: TypeMessage, Content: json.RawMessage(`{"redacts":"$c"}`), Redacts: "$top"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactsTarget(tt.e); got != tt.want {
				t.Errorf("RedactsTarget = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedactionAllowed(t *testing.T) {
	// redaction builds an m.room.redaction by sender with event ID evID.
	redaction := func(sender id.UserID, evID id.EventID) *Event {
		return &Event{ID: evID, Sender: sender, Type: TypeRedaction, Content: json.RawMessage(`{}`)}
	}
	mod := redaction("@mod:mods.org", "$red")
	pl := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name string
		p    RedactCheck
		want bool
	}{
		{"nil redaction", RedactCheck{RoomVersion: "11", TargetSender: "@a:x"}, false},
		{
			"self-redaction",
			RedactCheck{RoomVersion: "11", Redaction: redaction("@a:x", "$r"), TargetSender: "@a:x", TargetType: TypeMessage},
			true,
		},
		{
			"server admin on its own user",
			RedactCheck{RoomVersion: "10", Redaction: redaction("@admin:x", "$r"), TargetSender: "@a:x", TargetType: TypeMessage},
			true,
		},
		{
			"create is never redacted, not even by its sender",
			RedactCheck{RoomVersion: "11", Redaction: redaction("@a:x", "$r"), TargetSender: "@a:x", TargetType: TypeCreate, Creators: []id.UserID{"@a:x"}},
			false,
		},
		{
			"create is never redacted in v1 either",
			RedactCheck{RoomVersion: "1", Redaction: redaction("@a:x", "$r:x"), TargetEventID: "$c:x", TargetSender: "@a:x", TargetType: TypeCreate},
			false,
		},
		{
			"other server without power levels",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage},
			false,
		},
		{
			"creator without power levels has 100",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@mod:mods.org"}},
			true,
		},
		{
			"additional creator before v12 is nobody special",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@c:x", "@mod:mods.org"}},
			false,
		},
		{
			"creator before v12 with power levels that do not list them",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@mod:mods.org"}, PowerLevels: pl(`{"users":{}}`)},
			false,
		},
		{
			"v12 creator has infinite power",
			RedactCheck{RoomVersion: "12", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@c:x", "@mod:mods.org"}, PowerLevels: pl(`{"redact":1000000,"users":{"@mod:mods.org":0}}`)},
			true,
		},
		{
			"unknown version treats creators like v12",
			RedactCheck{RoomVersion: "org.example.v13", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@mod:mods.org"}, PowerLevels: pl(`{}`)},
			true,
		},
		{
			"v12 non-creator follows power levels",
			RedactCheck{RoomVersion: "12", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, Creators: []id.UserID{"@c:x"}, PowerLevels: pl(`{"users":{"@mod:mods.org":49}}`)},
			false,
		},
		{
			"moderator at the default redact level",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":{"@mod:mods.org":50}}`)},
			true,
		},
		{
			"one below the default redact level",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":{"@mod:mods.org":49}}`)},
			false,
		},
		{
			"redact level raised above the moderator",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":100,"users":{"@mod:mods.org":75}}`)},
			false,
		},
		{
			"users_default grants redaction",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users_default":50}`)},
			true,
		},
		{
			"listed null falls back to users_default",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":{"@mod:mods.org":null},"users_default":60}`)},
			true,
		},
		{
			"redact null means the default",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":null,"users":{"@mod:mods.org":50}}`)},
			true,
		},
		{
			"redact 0 lets everyone redact",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":0}`)},
			true,
		},
		{
			"empty (redacted) power levels: nobody has power",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{}`), Creators: []id.UserID{"@mod:mods.org"}},
			false,
		},
		{
			"power levels JSON null counts as none",
			RedactCheck{RoomVersion: "11", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`null`), Creators: []id.UserID{"@mod:mods.org"}},
			true,
		},
		{
			"string levels from old rooms",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":"50","users":{"@mod:mods.org":"50"}}`)},
			true,
		},
		{
			"string level below redact",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":"50","users":{"@mod:mods.org":" +49 "}}`)},
			false,
		},
		{
			"non-numeric user level fails closed",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":0,"users":{"@mod:mods.org":"moderator"}}`)},
			false,
		},
		{
			"non-numeric redact level fails closed",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":"high","users":{"@mod:mods.org":100}}`)},
			false,
		},
		{
			"boolean level is rejected",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"redact":true,"users":{"@mod:mods.org":100}}`)},
			false,
		},
		{
			"fractional level truncates like Python int()",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":{"@mod:mods.org":50.9}}`)},
			true,
		},
		{
			"users that is not an object fails closed",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":["@mod:mods.org"],"users_default":100}`)},
			false,
		},
		{
			"power levels content that is not an object fails closed",
			RedactCheck{RoomVersion: "4", Redaction: mod, TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`[]`), Creators: []id.UserID{"@mod:mods.org"}},
			false,
		},
		{
			"unknown target sender leaves only power",
			RedactCheck{RoomVersion: "11", Redaction: redaction("@a:x", "$r"), TargetType: TypeMessage},
			false,
		},
		{
			"sender without a server matches nothing",
			RedactCheck{RoomVersion: "11", Redaction: redaction("@a", "$r"), TargetSender: "@b", TargetType: TypeMessage},
			false,
		},
		// v1 and v2 compare the domains of the event IDs (auth rule 11).
		{
			"v1 same event-ID domain",
			RedactCheck{RoomVersion: "1", Redaction: redaction("@m:other.org", "$r:x"), TargetEventID: "$t:x", TargetSender: "@a:x", TargetType: TypeMessage},
			true,
		},
		{
			"v1 different event-ID domain, same sender server",
			RedactCheck{RoomVersion: "1", Redaction: redaction("@a:x", "$r:y"), TargetEventID: "$t:x", TargetSender: "@a:x", TargetType: TypeMessage},
			false,
		},
		{
			"v1 different domain but enough power",
			RedactCheck{RoomVersion: "1", Redaction: redaction("@m:y", "$r:y"), TargetEventID: "$t:x", TargetSender: "@a:x", TargetType: TypeMessage, PowerLevels: pl(`{"users":{"@m:y":100}}`)},
			true,
		},
		{
			"empty version is v1",
			RedactCheck{RoomVersion: "", Redaction: redaction("@m:y", "$r:x"), TargetEventID: "$t:x", TargetSender: "@a:z", TargetType: TypeMessage},
			true,
		},
		{
			"v2 falls back to the redaction's own target",
			RedactCheck{RoomVersion: "2", Redaction: &Event{ID: "$r:x", Sender: "@m:y", Type: TypeRedaction, Content: json.RawMessage(`{}`), Redacts: "$t:x"}, TargetSender: "@a:z", TargetType: TypeMessage},
			true,
		},
		{
			"v2 event IDs without domains never match",
			RedactCheck{RoomVersion: "2", Redaction: redaction("@a:x", "$r"), TargetEventID: "$t", TargetSender: "@a:x", TargetType: TypeMessage},
			false,
		},
		{
			"v3 ignores event-ID domains",
			RedactCheck{RoomVersion: "3", Redaction: redaction("@m:y", "$r:x"), TargetEventID: "$t:x", TargetSender: "@a:x", TargetType: TypeMessage},
			false,
		},
		{
			"v3 uses sender servers",
			RedactCheck{RoomVersion: "3", Redaction: redaction("@m:x", "$abc/def+g"), TargetEventID: "$hij+k/l", TargetSender: "@a:x", TargetType: TypeMessage},
			true,
		},
		{
			"server with port is a different server",
			RedactCheck{RoomVersion: "11", Redaction: redaction("@m:x:8448", "$r"), TargetSender: "@a:x", TargetType: TypeMessage},
			false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactionAllowed(tt.p); got != tt.want {
				t.Errorf("RedactionAllowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		raw    string
		want   int64
		wantOK bool
	}{
		{`50`, 50, true},
		{`-1`, -1, true},
		{`0`, 0, true},
		{`9007199254740991`, 9007199254740991, true},
		{`50.9`, 50, true},
		{`-50.9`, -50, true},
		{`5e1`, 50, true},
		{`1e300`, 0, false},
		{`"50"`, 50, true},
		{`"+50"`, 50, true},
		{`"-50"`, -50, true},
		{`" 50\n"`, 50, true},
		{`"5 0"`, 0, false},
		{`"50.0"`, 0, false},
		{`"+-5"`, 0, false},
		{`"--5"`, 0, false},
		{`"+"`, 0, false},
		{`""`, 0, false},
		{`"0x10"`, 0, false},
		{`"99999999999999999999"`, 0, false},
		{`true`, 0, false},
		{`false`, 0, false},
		{`null`, 0, false},
		{`[50]`, 0, false},
		{`{"level":50}`, 0, false},
		{``, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, ok := parseLevel(json.RawMessage(tt.raw))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseLevel(%s) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"event_id":"$e","type":"m.room.member","content":{"membership":"join","third_party_invite":{"signed":{}}},"unsigned":{}}`), "11")
	f.Add([]byte(`{"type":"m.room.create","content":{"creator":"@a:x","x":[1,{"y":null}]}}`), "12")
	f.Add([]byte(`{"type":"m.room.power_levels","content":{"users":{"@a:x":"100"}},"origin":"x"}`), "")
	f.Add([]byte(`{"type":"m.room.redaction","redacts":"$t","content":{"redacts":"$t"}}`), "10")
	f.Add([]byte(`{"type":"m.room.aliases","content":{"aliases":["#a:x"]},"type":"m.room.message"}`), "5")
	f.Add([]byte(`{"content":"x","type":null}`), "org.custom")
	f.Add([]byte(`[]`), "1")
	f.Add([]byte(`"\ud800"`), "1")
	f.Fuzz(func(t *testing.T, raw []byte, version string) {
		got, err := Redact(raw, version)
		if !json.Valid(raw) {
			return // only "no panic" is promised for invalid input
		}
		_, isObj := objectFields(raw)
		if !isObj {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Redact(%q) = %q, %v; want ErrMalformed", raw, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Redact(%q): %v", raw, err)
		}
		if !json.Valid(got) {
			t.Fatalf("Redact(%q) = %q, not valid JSON", raw, got)
		}
		fields, ok := objectFields(got)
		if !ok {
			t.Fatalf("Redact(%q) = %q, not an object", raw, got)
		}
		for k := range fields {
			if !keptTopLevel(k, normaliseRoomVersion(version)) {
				t.Fatalf("Redact(%q) kept %q", raw, k)
			}
		}
		if !isObject(fields["content"]) {
			t.Fatalf("Redact(%q) = %q, content not an object", raw, got)
		}
		content, _ := objectFields(fields["content"])
		if _, kept := content["m.relates_to"]; kept && stringField(fields, "type") != TypeCreate {
			t.Fatalf("Redact(%q) = %q kept m.relates_to", raw, got)
		}
		again, err := Redact(got, version)
		if err != nil || string(again) != string(got) {
			t.Fatalf("Redact not idempotent: %q then %q, %v", got, again, err)
		}
	})
}
