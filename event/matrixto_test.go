package event

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestServerName(t *testing.T) {
	tests := []struct {
		name string
		user id.UserID
		want string
	}{
		{"plain", "@alice:example.org", "example.org"},
		{"with port", "@alice:example.org:8448", "example.org:8448"},
		{"IPv6 literal", "@alice:[::1]:8448", "[::1]:8448"},
		{"no colon", "@alice", ""},
		{"empty server", "@alice:", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServerName(tt.user); got != tt.want {
				t.Errorf("ServerName(%q) = %q, want %q", tt.user, got, tt.want)
			}
		})
	}
}

// members returns n users on server, named u0, u1, ….
func members(server string, n int) []id.UserID {
	out := make([]id.UserID, n)
	for i := range out {
		out[i] = id.UserID("@u" + string(rune('0'+i%10)) + strings.Repeat("x", i/10) + ":" + server)
	}
	return out
}

func TestViaServers(t *testing.T) {
	joined := func(groups ...[]id.UserID) []id.UserID { return slices.Concat(groups...) }
	tests := []struct {
		name        string
		powerLevels string
		joined      []id.UserID
		acl         string
		creators    []id.UserID
		want        []string
	}{
		{"nobody joined", ``, nil, ``, nil, nil},
		{
			"most populous, ties alphabetical",
			``,
			joined(members("b.org", 2), members("big.org", 5), members("a.org", 2), members("c.org", 1)),
			``, nil,
			[]string{"big.org", "a.org", "b.org"},
		},
		{
			"moderator's server first",
			`{"users":{"@mod:small.org":50}}`,
			joined(members("big.org", 5), members("mid.org", 3), members("other.org", 2), []id.UserID{"@mod:small.org"}),
			``, nil,
			[]string{"small.org", "big.org", "mid.org"},
		},
		{
			"highest level below 50: populous only",
			`{"users":{"@mod:small.org":49}}`,
			joined(members("big.org", 5), []id.UserID{"@mod:small.org"}, members("mid.org", 2)),
			``, nil,
			[]string{"big.org", "mid.org", "small.org"},
		},
		{
			"highest level wins over a lower moderator",
			`{"users":{"@admin:a.org":100,"@mod:m.org":50}}`,
			joined(members("big.org", 5), []id.UserID{"@mod:m.org", "@admin:a.org"}),
			``, nil,
			[]string{"a.org", "big.org", "m.org"},
		},
		{
			"top server is also the most populous: no duplicate",
			`{"users":{"@u0:big.org":100}}`,
			joined(members("big.org", 5), members("a.org", 1), members("b.org", 1), members("c.org", 1)),
			``, nil,
			[]string{"big.org", "a.org", "b.org"},
		},
		{
			"equal top levels prefer the more populous server",
			`{"users":{"@mod:small.org":100,"@u0:mid.org":100}}`,
			joined([]id.UserID{"@mod:small.org"}, members("mid.org", 2), members("big.org", 3)),
			``, nil,
			[]string{"mid.org", "big.org", "small.org"},
		},
		{
			"equal top levels on equal servers go alphabetical",
			`{"users":{"@u0:z.org":100,"@u0:y.org":100}}`,
			joined(members("z.org", 1), members("y.org", 1), members("big.org", 3)),
			``, nil,
			[]string{"y.org", "big.org", "z.org"},
		},
		{
			"users_default 50 makes everyone eligible: most populous",
			`{"users_default":50}`,
			joined(members("a.org", 1), members("big.org", 3)),
			``, nil,
			[]string{"big.org", "a.org"},
		},
		{
			"listed but not joined users are ignored",
			`{"users":{"@gone:left.org":100}}`,
			joined(members("big.org", 2), members("a.org", 1)),
			``, nil,
			[]string{"big.org", "a.org"},
		},
		{
			"string levels from old rooms",
			`{"users":{"@mod:small.org":"100"}}`,
			joined(members("big.org", 2), []id.UserID{"@mod:small.org"}),
			``, nil,
			[]string{"small.org", "big.org"},
		},
		{
			"malformed level ignored",
			`{"users":{"@mod:small.org":"admin"}}`,
			joined(members("big.org", 2), []id.UserID{"@mod:small.org"}),
			``, nil,
			[]string{"big.org", "small.org"},
		},
		{
			"v12 creator outranks everyone",
			`{"users":{"@admin:a.org":100}}`,
			joined(members("big.org", 3), []id.UserID{"@admin:a.org", "@creator:c.org"}),
			``, []id.UserID{"@creator:c.org"},
			[]string{"c.org", "big.org", "a.org"},
		},
		{
			"creator named in power levels has that level",
			`{"users":{"@admin:a.org":100,"@creator:c.org":0}}`,
			joined(members("big.org", 3), []id.UserID{"@admin:a.org", "@creator:c.org"}),
			``, []id.UserID{"@creator:c.org"},
			[]string{"a.org", "big.org", "c.org"},
		},
		{
			"creator not joined does not count",
			``,
			joined(members("big.org", 3)),
			``, []id.UserID{"@creator:c.org"},
			[]string{"big.org"},
		},
		{
			"no power levels: creator has 100",
			``,
			joined(members("big.org", 3), []id.UserID{"@creator:c.org"}),
			``, []id.UserID{"@creator:c.org"},
			[]string{"c.org", "big.org"},
		},
		{
			"malformed power levels are ignored",
			`[1]`,
			joined(members("big.org", 3), []id.UserID{"@creator:c.org"}),
			``, []id.UserID{"@creator:c.org"},
			[]string{"c.org", "big.org"},
		},
		{
			"IP literals are never chosen",
			`{"users":{"@admin:1.2.3.4":100}}`,
			joined(members("1.2.3.4", 5), members("1.2.3.5:8448", 5), members("[::1]", 5), members("[2001:db8::1]:8448", 5), members("ok.org", 1)),
			``, nil,
			[]string{"ok.org"},
		},
		{
			"ACL deny glob",
			``,
			joined(members("big.evil.org", 5), members("EVIL.org", 4), members("good.org", 1)),
			`{"allow":["*"],"deny":["*.evil.org","evil.org"]}`, nil,
			[]string{"good.org"},
		},
		{
			"ACL deny ignores the port",
			`{"users":{"@mod:evil.org:8448":100}}`,
			joined(members("evil.org:8448", 5), members("good.org", 1)),
			`{"allow":["*"],"deny":["evil.org"]}`, nil,
			[]string{"good.org"},
		},
		{
			"ACL allow list",
			``,
			joined(members("a.org", 5), members("b.org", 4), members("c.net", 3), members("d.org", 1)),
			`{"allow":["?.org"],"deny":["b.*"]}`, nil,
			[]string{"a.org", "d.org"},
		},
		{
			"ACL without allow allows nobody",
			``,
			joined(members("a.org", 5)),
			`{"deny":[]}`, nil,
			nil,
		},
		{
			"ACL with non-string entries",
			``,
			joined(members("a.org", 2), members("b.org", 1)),
			`{"allow":[1,"a.org",null],"deny":{"b.org":true}}`, nil,
			[]string{"a.org"},
		},
		{
			"malformed ACL is ignored",
			``,
			joined(members("a.org", 2)),
			`"deny everything"`, nil,
			[]string{"a.org"},
		},
		{
			"more than three servers",
			``,
			joined(members("a.org", 4), members("b.org", 3), members("c.org", 2), members("d.org", 1)),
			``, nil,
			[]string{"a.org", "b.org", "c.org"},
		},
		{
			"duplicate members count once",
			``,
			joined(members("b.org", 2), []id.UserID{"@u0:a.org", "@u0:a.org", "@u0:a.org"}),
			``, nil,
			[]string{"b.org", "a.org"},
		},
		{
			"users without a server are skipped",
			``,
			[]id.UserID{"@nobody", "@empty:", "@u:a.org"},
			``, nil,
			[]string{"a.org"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ViaServers(json.RawMessage(tt.powerLevels), tt.joined, json.RawMessage(tt.acl), tt.creators)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ViaServers = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestServerACLAllows(t *testing.T) {
	tests := []struct {
		name   string
		acl    string
		server string
		want   bool
	}{
		{"no ACL", ``, "anything", true},
		{"null ACL", `null`, "anything", true},
		{"empty ACL allows nobody", `{}`, "a.org", false},
		{"star", `{"allow":["*"]}`, "a.org", true},
		{"case-insensitive allow", `{"allow":["A.ORG"]}`, "a.org", true},
		{"question mark is one character", `{"allow":["?.org"]}`, "ab.org", false},
		{"port stripped", `{"allow":["a.org"]}`, "a.org:8448", true},
		{"deny beats allow", `{"allow":["*"],"deny":["a.org"]}`, "a.org", false},
		{"IP literal allowed by default", `{"allow":["*"]}`, "1.2.3.4", true},
		{"IPv4 literal denied", `{"allow":["*"],"allow_ip_literals":false}`, "1.2.3.4:80", false},
		{"IPv6 literal denied", `{"allow":["*"],"allow_ip_literals":false}`, "[::1]:80", false},
		{"non-bool allow_ip_literals means true", `{"allow":["*"],"allow_ip_literals":"no"}`, "1.2.3.4", true},
		{"IPv6 glob ignores the port", `{"allow":["[::1]"]}`, "[::1]:8448", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseServerACL(json.RawMessage(tt.acl)).allows(tt.server); got != tt.want {
				t.Errorf("allows(%q) = %v, want %v", tt.server, got, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"*", "", true},
		{"*", "a.org", true},
		{"", "", true},
		{"", "a", false},
		{"a.org", "a.org", true},
		{"a.org", "a.org.evil", false},
		{"a.org", "xa.org", false},
		{"*.org", "a.org", true},
		{"*.org", "org", false},
		{"*.org", "a.b.org", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"?", "é", true},
		{"??", "é", false},
		{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
		{"EXAMPLE.*", "example.ORG", true},
		{"a.org", "a_org", false},
	}
	for _, tt := range tests {
		t.Run(tt.glob+"~"+tt.name, func(t *testing.T) {
			if got := globMatch(tt.glob, tt.name); got != tt.want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
			}
		})
	}
}

func TestIsIPLiteral(t *testing.T) {
	tests := []struct {
		server string
		want   bool
	}{
		{"1.2.3.4", true},
		{"1.2.3.4:8448", true},
		{"[::1]", true},
		{"[2001:db8::1]:443", true},
		{"999.1.1.1", true},
		{"example.org", false},
		{"example.org:8448", false},
		{"1.2.3.4.example.org", false},
		{"matrix1.org", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			if got := isIPLiteral(tt.server); got != tt.want {
				t.Errorf("isIPLiteral(%q) = %v, want %v", tt.server, got, tt.want)
			}
		})
	}
}

func TestMatrixTo(t *testing.T) {
	const v12Room = "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
	tests := []struct {
		name    string
		room    string
		eventID id.EventID // "" means a room link
		via     []string
		want    string
	}{
		{"room ID", "!abc:example.org", "", nil, "https://matrix.to/#/%21abc:example.org"},
		{"alias", "#room:example.org", "", nil, "https://matrix.to/#/%23room:example.org"},
		{"alias with via", "#room:example.org", "", []string{"example.org"}, "https://matrix.to/#/%23room:example.org?via=example.org"},
		{
			"v12 room ID with via",
			v12Room, "", []string{"a.org", "b.org:8448"},
			"https://matrix.to/#/%2131hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM?via=a.org&via=b.org%3A8448",
		},
		{
			"v1 event",
			"!abc:example.org", "$ev:example.org", []string{"example.org"},
			"https://matrix.to/#/%21abc:example.org/$ev:example.org?via=example.org",
		},
		{
			"v3 event ID with / and +",
			"!abc:example.org", "$Rqnc/+y4k1/s+F2Uq3nmBEoj8Zd6cvrmGGnmKrwQyzM", []string{"example.org"},
			"https://matrix.to/#/%21abc:example.org/$Rqnc%2F+y4k1%2Fs+F2Uq3nmBEoj8Zd6cvrmGGnmKrwQyzM?via=example.org",
		},
		{
			"v4+ event in a v12 room",
			v12Room, "$aB-_cD", []string{"a.org"},
			"https://matrix.to/#/%2131hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM/$aB-_cD?via=a.org",
		},
		{
			"event via alias",
			"#room:example.org", "$ev", nil,
			"https://matrix.to/#/%23room:example.org/$ev",
		},
		{
			"characters that would break the link",
			"#a?b#c/d&e%f g:x", "$h?i#j", []string{"a&b=c", "", "[::1]:80"},
			"https://matrix.to/#/%23a%3Fb%23c%2Fd&e%25f%20g:x/$h%3Fi%23j?via=a%26b%3Dc&via=%5B%3A%3A1%5D%3A80",
		},
		{"empty via skipped", "!a:x", "", []string{"", ""}, "https://matrix.to/#/%21a:x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.eventID == "" {
				got = MatrixToRoom(tt.room, tt.via)
			} else {
				got = MatrixToEvent(tt.room, tt.eventID, tt.via)
				// A day's links are made by one function for the room.
				if many := MatrixToEvents(tt.room, tt.via)(tt.eventID); many != tt.want {
					t.Errorf("MatrixToEvents link = %s\nwant   %s", many, tt.want)
				}
			}
			if got != tt.want {
				t.Errorf("link = %s\nwant   %s", got, tt.want)
			}
		})
	}
}

// TestMatrixToMatchesMautrix checks our links against mautrix's builder and
// parser, which the rest of the ecosystem uses to read them.
func TestMatrixToMatchesMautrix(t *testing.T) {
	tests := []struct {
		name    string
		room    id.RoomID
		eventID id.EventID
		via     []string
	}{
		{"room", "!abc:example.org", "", []string{"example.org", "b.org:8448"}},
		{"v12 room", "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", "", []string{"a.org"}},
		{"event", "!abc:example.org", "$ev:example.org", []string{"example.org"}},
		{"v3 event with /", "!abc:example.org", "$Rqnc/+y4k1/s", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want string
			if tt.eventID == "" {
				got = MatrixToRoom(string(tt.room), tt.via)
				want = tt.room.URI(tt.via...).MatrixToURL()
			} else {
				got = MatrixToEvent(string(tt.room), tt.eventID, tt.via)
				want = tt.room.EventURI(tt.eventID, tt.via...).MatrixToURL()
			}
			if got != want {
				t.Errorf("link = %s\nmautrix %s", got, want)
			}
			if strings.Contains(string(tt.eventID), "/") {
				return // mautrix's parser decodes the fragment before splitting it
			}
			parsed, err := id.ParseMatrixToURL(got)
			if err != nil {
				t.Fatalf("ParseMatrixToURL(%s): %v", got, err)
			}
			if parsed.RoomID() != tt.room || parsed.EventID() != tt.eventID || !slices.Equal(parsed.Via, tt.via) {
				t.Errorf("parsed back as %+v", parsed)
			}
		})
	}
}

func FuzzViaServers(f *testing.F) {
	f.Add([]byte(`{"users":{"@a:x.org":"100"},"users_default":"5"}`), []byte(`{"allow":["*.org"],"deny":["b*"],"allow_ip_literals":false}`), "@a:x.org,@b:b.org,@c:1.2.3.4,@d:[::1]:80,@e", "@c:y.org")
	f.Fuzz(func(t *testing.T, powerLevels, acl []byte, joinedCSV, creator string) {
		var joined []id.UserID
		for _, u := range strings.Split(joinedCSV, ",") {
			joined = append(joined, id.UserID(u))
		}
		got := ViaServers(powerLevels, joined, acl, []id.UserID{id.UserID(creator)})
		if len(got) > maxVia {
			t.Fatalf("ViaServers = %q, more than %d", got, maxVia)
		}
		for i, s := range got {
			if s == "" || isIPLiteral(s) || slices.Contains(got[:i], s) {
				t.Fatalf("ViaServers = %q: bad or repeated %q", got, s)
			}
			if !slices.ContainsFunc(joined, func(u id.UserID) bool { return ServerName(u) == s }) {
				t.Fatalf("ViaServers = %q: %q has no joined user", got, s)
			}
		}
	})
}
