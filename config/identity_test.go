package config

import (
	"strings"
	"testing"
)

// The homeserver's name and the bot's localpart are checked at load.
// Before, the homeserver's URL in homeserver.domain (the keys sit side by
// side) or a display name as bot_localpart passed Load and CheckAppservice,
// and `archiver init` wrote a registration for "@archive:https://example.org"
// or "@Archive Bot:example.org", which no homeserver accepts: the failure
// came later, from the homeserver.
func TestBadDomainAndLocalpartRefused(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=https://example.org"}, `homeserver.domain "https://example.org" is a URL`},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=example.org/"}, "homeserver.domain"},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=@bot:example.org"}, "homeserver.domain"},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=example.org:port"}, "port"},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=exa_mple.org"}, "homeserver.domain"},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=[::1"}, "IPv6"},
		{[]string{"MXARCHIVE_APPSERVICE_BOT_LOCALPART=Archive Bot"}, `appservice.bot_localpart "Archive Bot" holds a space`},
		{[]string{"MXARCHIVE_APPSERVICE_BOT_LOCALPART=Archive"}, "capital letters"},
		{[]string{"MXARCHIVE_APPSERVICE_BOT_LOCALPART=@archive:example.org"}, "the part between @ and :"},
		{[]string{"MXARCHIVE_APPSERVICE_BOT_LOCALPART=archiv€"}, "appservice.bot_localpart"},
		{[]string{"MXARCHIVE_HOMESERVER_DOMAIN=example.org", "MXARCHIVE_APPSERVICE_BOT_LOCALPART=" + strings.Repeat("a", 250)}, "255"},
	} {
		if _, err := Load("", c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it refused saying %q", c.env, err, c.want)
		}
	}
	for _, domain := range []string{"example.org", "matrix.example.org:8448", "localhost:8008", "127.0.0.1:8008", "[::1]:8448", "[2001:db8::1]", "xn--bcher-kva.example"} {
		env := []string{"MXARCHIVE_HOMESERVER_DOMAIN=" + domain, "MXARCHIVE_APPSERVICE_BOT_LOCALPART=archive.bot_1=a-b/c+d"}
		if _, err := Load("", env); err != nil {
			t.Errorf("%v refused: %v", env, err)
		}
	}
	if _, err := LoadBytes([]byte("homeserver:\n  domain: https://example.org\n")); err == nil || !strings.Contains(err.Error(), "homeserver.address") {
		t.Errorf("a URL as homeserver.domain in the file: err = %v, want one pointing at homeserver.address", err)
	}
}

// The archive's room and server lists are checked at load. Before, a deny
// entry written as a URL, with a port or without its sigil matched nothing
// (ingest compares them exactly) and the room meant to be kept out was
// archived without a word; a join entry that is no room ID or alias was
// retried for ever.
func TestRoomAndServerListsChecked(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"MXARCHIVE_ARCHIVE_DENY_SERVERS=https://spam.example", `archive.deny_servers: "https://spam.example" is a URL`},
		{"MXARCHIVE_ARCHIVE_DENY_SERVERS=@spam.example", "archive.deny_servers"},
		{"MXARCHIVE_ARCHIVE_DENY_SERVERS=spam.example:8448", "would deny nothing of spam.example; write spam.example"},
		{"MXARCHIVE_ARCHIVE_DENY_SERVERS=spam example", "holds a space"},
		{"MXARCHIVE_ARCHIVE_ALLOW_SERVERS=https://opendev.org", "archive.allow_servers"},
		{"MXARCHIVE_ARCHIVE_DENY_ROOMS=spamroom:spam.example", "has no sigil"},
		{"MXARCHIVE_ARCHIVE_DENY_ROOMS=#spamroom", "no :server"},
		{"MXARCHIVE_ARCHIVE_DENY_ROOMS=#spam:https://spam.example", "archive.deny_rooms"},
		{"MXARCHIVE_ARCHIVE_ALLOW_ROOMS=https://matrix.to/#/#room:example.org", "is a link"},
		{"MXARCHIVE_ARCHIVE_JOIN=general", `archive.join: "general" is a bare name`},
		{"MXARCHIVE_ARCHIVE_JOIN=!", "empty room ID"},
	} {
		if _, err := Load("", []string{c.env}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it refused saying %q", c.env, err, c.want)
		}
	}
	for _, env := range []string{
		"MXARCHIVE_ARCHIVE_JOIN=#general:example.org,!abc:example.org,!opaqueRoomIDv12,#dev:[::1]:8448",
		"MXARCHIVE_ARCHIVE_DENY_ROOMS=#spam:spam.example,!x:spam.example",
		"MXARCHIVE_ARCHIVE_ALLOW_SERVERS=example.org,localhost:8008",
		"MXARCHIVE_ARCHIVE_DENY_SERVERS=spam.example,10.0.0.1",
	} {
		if _, err := Load("", []string{env}); err != nil {
			t.Errorf("%s refused: %v", env, err)
		}
	}
	if _, err := LoadBytes([]byte("archive:\n  deny_servers: [spam.example:8448]\n")); err == nil || !strings.Contains(err.Error(), "archive.deny_servers") {
		t.Errorf("a port in deny_servers in the file: err = %v", err)
	}
}

// The identifier checks read whatever an operator writes: none may panic,
// and a server name they accept splits into a host and a port of digits.
func FuzzIdentifierChecks(f *testing.F) {
	for _, s := range []string{"example.org", "[::1]:8448", "[::1", "[", "]:", ":", "#a:b", "!", "@a:b", "a:b:c", "https://x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roomRefError(s)
		localpartError(s)
		if serverNameError(s) == "" {
			host, port := splitServerName(s)
			if host == "" || strings.Trim(port, "0123456789") != "" {
				t.Fatalf("%q accepted as a server name: host %q, port %q", s, host, port)
			}
		}
	})
}
