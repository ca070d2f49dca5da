package config

import (
	"cmp"
	"fmt"
	"strings"
	"unicode"
)

// The Matrix identifiers the operator writes: the homeserver's name, the
// bot's localpart, and the rooms and servers of the archive's lists. Each
// is checked at load: a wrong one was accepted and then failed far from
// its cause (a registration for a user no homeserver accepts, a join
// retried for ever) or, in a deny list, matched nothing without a word
// (ingest compares them exactly), so the room meant to be kept out was
// archived.

// checkIdentity checks homeserver.domain, appservice.bot_localpart and the
// archive's room and server lists; empty values are left to the programs
// that need them (CheckAppservice).
func (c Config) checkIdentity() error {
	if d := c.Homeserver.Domain; d != "" {
		if why := serverNameError(d); why != "" {
			return fmt.Errorf("homeserver.domain %q %s: want the homeserver's server name, the part after ':' in its user IDs (like example.org); its URL goes in homeserver.address", d, why)
		}
	}
	if l := c.Appservice.BotLocalpart; l != "" {
		if why := localpartError(l); why != "" {
			return fmt.Errorf("appservice.bot_localpart %q %s: the bot's user ID is @LOCALPART:%s, and a localpart holds only a-z, 0-9 and . _ = - / + (like archive)", l, why, cmp.Or(c.Homeserver.Domain, "DOMAIN"))
		}
		if c.Homeserver.Domain != "" && len(c.BotUserID()) > 255 {
			return fmt.Errorf("appservice.bot_localpart: the bot's user ID %s is longer than Matrix's 255 bytes", c.BotUserID())
		}
	}
	for _, l := range []struct {
		key   string
		rooms []string
	}{{"archive.join", c.Archive.Join}, {"archive.allow_rooms", c.Archive.AllowRooms}, {"archive.deny_rooms", c.Archive.DenyRooms}} {
		for _, r := range l.rooms {
			if why := roomRefError(r); why != "" {
				return fmt.Errorf("%s: %q %s: want a room ID (!…) or an alias (#name:server)", l.key, r, why)
			}
		}
	}
	for _, l := range []struct {
		key     string
		servers []string
	}{{"archive.allow_servers", c.Archive.AllowServers}, {"archive.deny_servers", c.Archive.DenyServers}} {
		for _, s := range l.servers {
			if why := serverNameError(s); why != "" {
				return fmt.Errorf("%s: %q %s: want a server name as it appears after ':' in user and room IDs (like spam.example)", l.key, s, why)
			}
			// A port in a deny entry is nearly always the federation port
			// (8448), which is no part of the server's name: the entry
			// then denies nothing. A name that does hold a port is rare
			// enough that the slip is the one to refuse.
			if host, port := splitServerName(s); l.key == "archive.deny_servers" && port != "" {
				return fmt.Errorf("archive.deny_servers: %q has a port: the list compares server names exactly, and a server's name seldom holds its port (8448 is the federation port, not part of the name), so it would deny nothing of %s; write %s", s, host, host)
			}
		}
	}
	return nil
}

// serverNameError says why s is not a Matrix server name
// (https://spec.matrix.org/latest/appendices/#server-name: a DNS name, an
// IPv4 address or a bracketed IPv6 address, with an optional port), or ""
// when it is one. The common slips get their own words.
func serverNameError(s string) string {
	switch {
	case strings.Contains(s, "://"):
		return "is a URL, not a server name"
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "holds a space"
	case strings.HasPrefix(s, "@") || strings.HasPrefix(s, "!") || strings.HasPrefix(s, "#"):
		return "is a user, room or alias ID, not a server name"
	case strings.Contains(s, "/"):
		return "holds a path"
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(s, "]") {
		return "is not a bracketed IPv6 address"
	}
	host, port := splitServerName(s)
	if port != "" || strings.HasSuffix(s, ":") {
		if len(port) < 1 || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "has a port that is not 1 to 5 digits"
		}
	}
	if strings.HasPrefix(host, "[") {
		ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !strings.HasSuffix(host, "]") || len(ip) < 2 || len(ip) > 45 || strings.Trim(ip, "0123456789abcdefABCDEF:.") != "" {
			return "is not a bracketed IPv6 address"
		}
		return ""
	}
	if host == "" || len(host) > 255 {
		return "has no host name, or one longer than 255 characters"
	}
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
		return "holds characters a server name cannot (letters, digits, - and . only)"
	}
	return ""
}

// splitServerName splits a server name into its host and its port ("" if
// none). A DNS name or IPv4 address has no colon, an IPv6 address is in
// brackets, so the port follows the first colon after them.
func splitServerName(s string) (host, port string) {
	i := 0
	if strings.HasPrefix(s, "[") {
		if j := strings.Index(s, "]"); j >= 0 {
			i = j
		}
	}
	if k := strings.Index(s[i:], ":"); k >= 0 {
		return s[:i+k], s[i+k+1:]
	}
	return s, ""
}

// localpartError says why s is not a user ID's localpart as the spec has
// new ones (https://spec.matrix.org/latest/appendices/#user-identifiers:
// a-z, 0-9 and . _ = - / +), or "" when it is one.
func localpartError(s string) string {
	switch {
	case strings.HasPrefix(s, "@") || strings.Contains(s, ":"):
		return "is a user ID: write only the part between @ and :"
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "holds a space"
	case strings.ToLower(s) != s:
		return "holds capital letters"
	case strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._=-/+") != "":
		return "holds characters a localpart cannot"
	}
	return ""
}

// roomRefError says why s is neither a room ID nor an alias, or "" when it
// is one. A room ID is ! and an opaque rest (since room version 12 it
// names no server); an alias is #name:server.
func roomRefError(s string) string {
	switch {
	case strings.Contains(s, "://"):
		return "is a link: write the room ID or alias it names"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "holds a space"
	case strings.HasPrefix(s, "!"):
		if len(s) == 1 {
			return "is an empty room ID"
		}
		return ""
	case strings.HasPrefix(s, "#"):
		name, server, ok := strings.Cut(s[1:], ":")
		if !ok || name == "" {
			return "is not an alias: it has no :server"
		}
		if why := serverNameError(server); why != "" {
			return "is not an alias: its server " + why
		}
		return ""
	case strings.Contains(s, ":"):
		return "has no sigil (an alias starts with #, a room ID with !)"
	}
	return "is a bare name (an alias is #name:server)"
}
