package irclog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Bridge is an IRC bridge the operator names, whose puppets (the Matrix
// users that stand for IRC users) are shown by their IRC nick.
// matrix-appservice-irc makes a puppet's user ID from its
// matrixClients.userTemplate, "@<prefix>$NICK:<homeserver>" with the nick
// as written: "@_oftc_nick:matrix.org" on matrix.org's OFTC bridge,
// "@irc_nick:example.org" with its sample config.
type Bridge struct {
	// Server is the bridge's homeserver, the part after ':' in its
	// puppets' user IDs.
	Server string `yaml:"server"`
	// Prefix is what the user template puts before $NICK.
	Prefix string `yaml:"prefix"`
}

// Bridges are the bridges the operator configured. No puppet is ever
// guessed from the look of a user ID alone: anyone can register
// "@libera_x" on a server of their own, but only the bridge's homeserver
// hands out IDs in its namespace.
type Bridges []Bridge

// maxNick bounds a puppet's nick. IRC networks allow 9 to 32 bytes today;
// twice that leaves room for any network and still fits a display name.
const maxNick = 64

// Nick returns the IRC nick of a configured bridge's puppet; false for
// every other user, and for a puppet-like ID whose rest is no IRC nick.
func (bs Bridges) Nick(u id.UserID) (string, bool) {
	local, server, ok := strings.Cut(strings.TrimPrefix(string(u), "@"), ":")
	if !ok || !strings.HasPrefix(string(u), "@") {
		return "", false
	}
	for _, b := range bs {
		if server != b.Server || b.Prefix == "" {
			continue
		}
		if nick, ok := strings.CutPrefix(local, b.Prefix); ok && isNick(nick) {
			return nick, true
		}
	}
	return "", false
}

// Puppets returns the user IDs the configured bridges give the IRC nick:
// the nick as written and, where it differs, in lower case (Matrix user
// IDs are lower case since 2019, so a bridge may lower the nick). None for
// a string that is no nick.
func (bs Bridges) Puppets(nick string) []id.UserID {
	if !isNick(nick) {
		return nil
	}
	var out []id.UserID
	for _, b := range bs {
		for _, n := range []string{nick, strings.ToLower(nick)} {
			u := id.UserID("@" + b.Prefix + n + ":" + b.Server)
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// isNick reports whether s is a nick RFC 2812 allows (letters, digits and
// "-[]\`^{}|"), plus "_", which every network accepts.
func isNick(s string) bool {
	if s == "" || len(s) > maxNick {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-[]\\`^{}|_", c) >= 0) {
			return false
		}
	}
	return true
}

// Check reports a bridge that would name the wrong users: without a
// server or a prefix every user of a server would count as a puppet.
func (bs Bridges) Check() error {
	seen := map[Bridge]bool{}
	for i, b := range bs {
		if b.Server == "" || strings.ContainsAny(b.Server, "@/ \t") {
			return fmt.Errorf("irc.bridges[%d]: server %q: want the bridge's homeserver name, as in its puppets' user IDs after ':'", i, b.Server)
		}
		if strings.TrimSpace(b.Prefix) == "" || strings.ContainsAny(b.Prefix, "@: \t") {
			return fmt.Errorf("irc.bridges[%d]: prefix %q: want what the bridge's user template puts before the nick (\"_oftc_\" for @_oftc_nick:matrix.org); an empty prefix would name every user of %s by their user ID", i, b.Prefix, b.Server)
		}
		if seen[b] {
			return fmt.Errorf("irc.bridges[%d]: %s with prefix %q is named twice", i, b.Server, b.Prefix)
		}
		seen[b] = true
	}
	return nil
}

// UnmarshalText reads bridges from "server=prefix,server=prefix", the
// form of the MXARCHIVE_IRC_BRIDGES environment variable.
func (bs *Bridges) UnmarshalText(text []byte) error {
	var out Bridges
	for _, part := range strings.Split(string(text), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		server, prefix, ok := strings.Cut(part, "=")
		if !ok {
			return errors.New("want server=prefix, comma-separated (libera.chat=libera_,matrix.org=_oftc_)")
		}
		out = append(out, Bridge{Server: strings.TrimSpace(server), Prefix: strings.TrimSpace(prefix)})
	}
	*bs = out
	return nil
}
