package irclog

import (
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// A bridged IRC user's puppet is named by its nick only on a bridge the
// operator configured: same server, the bridge's prefix, a nick after it.
func TestPuppetNick(t *testing.T) {
	bridges := Bridges{{Server: "libera.chat", Prefix: "libera_"}, {Server: "matrix.org", Prefix: "_oftc_"}}
	for name, tc := range map[string]struct {
		user id.UserID
		want string // "" for no nick
	}{
		"libera puppet":                 {"@libera_fungi:libera.chat", "fungi"},
		"oftc puppet":                   {"@_oftc_clarkb:matrix.org", "clarkb"},
		"nick punctuation kept":         {"@_oftc_[m]foo^|bar-`:matrix.org", "[m]foo^|bar-`"},
		"nick case kept":                {"@libera_Fungi:libera.chat", "Fungi"},
		"prefix on another server":      {"@libera_fungi:evil.example", ""},
		"other bridge's prefix":         {"@_oftc_clarkb:libera.chat", ""},
		"no prefix":                     {"@fungi:libera.chat", ""},
		"prefix alone":                  {"@libera_:libera.chat", ""},
		"not a nick after the prefix":   {"@libera_a=40b:libera.chat", ""},
		"space":                         {"@libera_a b:libera.chat", ""},
		"nick too long":                 {id.UserID("@libera_" + strings.Repeat("n", 65) + ":libera.chat"), ""},
		"server with port is another":   {"@libera_fungi:libera.chat:8448", ""},
		"no server":                     {"@libera_fungi", ""},
		"not a user ID":                 {"libera_fungi:libera.chat", ""},
		"unconfigured server's pattern": {"@freenode_fungi:matrix.org", ""},
	} {
		got, ok := bridges.Nick(tc.user)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: Nick(%s) = %q, %v; want %q", name, tc.user, got, ok, tc.want)
		}
	}
	if nick, ok := Bridges(nil).Nick("@libera_fungi:libera.chat"); ok {
		t.Errorf("without bridges configured, a puppet-like ID got the nick %q", nick)
	}
}

func TestBridgesCheck(t *testing.T) {
	for name, tc := range map[string]struct {
		b    Bridges
		want string // part of the error; "" for none
	}{
		"fine":            {Bridges{{Server: "libera.chat", Prefix: "libera_"}, {Server: "matrix.org:8448", Prefix: "_oftc_"}}, ""},
		"none":            {nil, ""},
		"no server":       {Bridges{{Prefix: "libera_"}}, "server"},
		"no prefix":       {Bridges{{Server: "libera.chat"}}, "prefix"},
		"prefix with @":   {Bridges{{Server: "libera.chat", Prefix: "@libera_"}}, "prefix"},
		"prefix with :":   {Bridges{{Server: "libera.chat", Prefix: "libera:"}}, "prefix"},
		"server with @":   {Bridges{{Server: "@libera.chat", Prefix: "libera_"}}, "server"},
		"server with /":   {Bridges{{Server: "libera.chat/x", Prefix: "libera_"}}, "server"},
		"twice the same":  {Bridges{{Server: "libera.chat", Prefix: "libera_"}, {Server: "libera.chat", Prefix: "libera_"}}, "twice"},
		"prefix is space": {Bridges{{Server: "libera.chat", Prefix: " "}}, "prefix"},
	} {
		err := tc.b.Check()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Check() = %v; want an error about %q", name, err, tc.want)
		}
	}
}

// MXARCHIVE_IRC_BRIDGES=server=prefix,… sets the bridges from the
// environment.
func TestBridgesFromText(t *testing.T) {
	var b Bridges
	if err := b.UnmarshalText([]byte("libera.chat=libera_, matrix.org=_oftc_")); err != nil {
		t.Fatal(err)
	}
	if len(b) != 2 || b[0] != (Bridge{Server: "libera.chat", Prefix: "libera_"}) || b[1] != (Bridge{Server: "matrix.org", Prefix: "_oftc_"}) {
		t.Errorf("parsed %+v", b)
	}
	if err := b.UnmarshalText([]byte("libera.chat")); err == nil {
		t.Error("a bridge without its prefix was accepted")
	}
}

// Puppets gives a nick's user ID on every configured bridge, as written and
// in lower case, and Nick reads each back as the nick.
func TestBridgesPuppets(t *testing.T) {
	bs := Bridges{{Server: "matrix.org", Prefix: "_oftc_"}, {Server: "libera.chat", Prefix: "libera_"}}
	got := bs.Puppets("Fungi")
	want := []id.UserID{"@_oftc_Fungi:matrix.org", "@_oftc_fungi:matrix.org", "@libera_Fungi:libera.chat", "@libera_fungi:libera.chat"}
	if !slices.Equal(got, want) {
		t.Errorf("Puppets(Fungi) = %v, want %v", got, want)
	}
	for _, u := range got {
		if n, ok := bs.Nick(u); !ok || !strings.EqualFold(n, "fungi") {
			t.Errorf("Nick(%s) = %q, %v", u, n, ok)
		}
	}
	if got := bs.Puppets("corvus"); len(got) != 2 {
		t.Errorf("Puppets(corvus) = %v, want one a bridge", got)
	}
	for _, bad := range []string{"", "a b", "x:evil.example", "@y", strings.Repeat("n", 65)} {
		if got := bs.Puppets(bad); got != nil {
			t.Errorf("Puppets(%q) = %v, want none", bad, got)
		}
	}
}
