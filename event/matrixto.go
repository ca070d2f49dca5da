package event

import (
	"cmp"
	"encoding/json"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"
)

// matrixToBase is where matrix.to links start; identifiers go in the fragment.
const matrixToBase = "https://matrix.to/#/"

// maxVia is how many via servers a link carries
// (https://spec.matrix.org/v1.16/appendices/#routing).
const maxVia = 3

// viaMinLevel is the power level at which a user's server is preferred over
// the most populous one: moderators stay in the room, so their server can
// still route joins after others leave.
const viaMinLevel = 50

// ServerName returns the server part of a user ID: everything after the first
// ':', or "" if there is none.
func ServerName(u id.UserID) string {
	return idDomain(string(u))
}

// ViaServers chooses up to three distinct servers to put in a link's via
// parameters (https://spec.matrix.org/v1.16/appendices/#routing): first the server of the joined user with the
// highest power level if that level is at least 50, then the servers with
// the most joined users. Servers that are IP literals or that the
// m.room.server_acl content (serverACL, nil if none) forbids are never
// chosen. Ties are broken by population and then alphabetically, so the same
// room always gets the same links.
//
// powerLevels is the m.room.power_levels content (nil if none). creators are
// the room creators, who outrank everybody unless power_levels.users names
// them: in v12 they cannot be named and have infinite power; before v12 the
// creator is normally named and that level counts, and in a room without
// power levels the creator has 100.
func ViaServers(powerLevels json.RawMessage, joined []id.UserID, serverACL json.RawMessage, creators []id.UserID) []string {
	acl := parseServerACL(serverACL)
	population := make(map[string]int)
	seen := make(map[id.UserID]bool, len(joined))
	var members []id.UserID
	for _, u := range joined {
		if seen[u] {
			continue
		}
		seen[u] = true
		s := ServerName(u)
		if s == "" || isIPLiteral(s) || !acl.allows(s) {
			continue
		}
		population[s]++
		members = append(members, u)
	}
	servers := make([]string, 0, len(population))
	for s := range population {
		servers = append(servers, s)
	}
	slices.SortFunc(servers, func(a, b string) int {
		return cmp.Or(cmp.Compare(population[b], population[a]), strings.Compare(a, b))
	})

	via := make([]string, 0, maxVia)
	if s := highestLevelServer(powerLevels, members, creators, population); s != "" {
		via = append(via, s)
	}
	for _, s := range servers {
		if len(via) == maxVia {
			break
		}
		if !slices.Contains(via, s) {
			via = append(via, s)
		}
	}
	return via
}

// highestLevelServer returns the server of the member with the highest power
// level if that is at least viaMinLevel, else "". Among equals it prefers the
// more populous server, then the alphabetically first.
func highestLevelServer(powerLevels json.RawMessage, members, creators []id.UserID, population map[string]int) string {
	pl, hasPL := objectFields(powerLevels)
	var users map[string]json.RawMessage
	usersDefault := int64(0)
	if hasPL {
		users, _ = objectFields(pl["users"])
		if l, ok := levelOr(pl["users_default"], 0); ok {
			usersDefault = l
		}
	}
	best, bestLevel := "", int64(math.MinInt64)
	for _, u := range members {
		raw, listed := users[string(u)]
		var level int64
		switch {
		case slices.Contains(creators, u) && !listed:
			level = math.MaxInt64
		case listed:
			l, ok := parseLevel(raw)
			if !ok {
				continue
			}
			level = min(l, math.MaxInt64-1)
		default:
			level = usersDefault
		}
		s := ServerName(u)
		if best == "" || level > bestLevel ||
			(level == bestLevel && (population[s] > population[best] ||
				(population[s] == population[best] && s < best))) {
			best, bestLevel = s, level
		}
	}
	if bestLevel < viaMinLevel {
		return ""
	}
	return best
}

// serverACL is the part of m.room.server_acl content that decides who may
// take part, read the way Synapse reads it.
type serverACL struct {
	present         bool
	allow, deny     []string
	allowIPLiterals bool
}

// parseServerACL reads m.room.server_acl content. Absent or malformed
// content means no ACL. Within an ACL, Synapse's defaults apply: allow is
// empty (nobody) unless given, deny is empty, allow_ip_literals is true, and
// entries that are not strings never match.
func parseServerACL(content json.RawMessage) serverACL {
	fields, ok := objectFields(content)
	if !ok {
		return serverACL{}
	}
	acl := serverACL{present: true, allowIPLiterals: true}
	_ = json.Unmarshal(fields["allow_ip_literals"], &acl.allowIPLiterals)
	acl.allow = globList(fields["allow"])
	acl.deny = globList(fields["deny"])
	return acl
}

// globList returns the string entries of a JSON array, skipping the rest.
func globList(raw json.RawMessage) []string {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		var s string
		if json.Unmarshal(e, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// allows reports whether the ACL lets server take part. Matching ignores the
// port and is case-insensitive, as the spec and Synapse require.
func (a serverACL) allows(server string) bool {
	if !a.present {
		return true
	}
	host := hostOnly(server)
	if !a.allowIPLiterals && isIPLiteral(host) {
		return false
	}
	for _, g := range a.deny {
		if globMatch(g, host) {
			return false
		}
	}
	for _, g := range a.allow {
		if globMatch(g, host) {
			return true
		}
	}
	return false
}

// hostOnly strips an optional port from a server name.
func hostOnly(server string) string {
	if strings.HasPrefix(server, "[") {
		if end := strings.IndexByte(server, ']'); end >= 0 {
			return server[:end+1]
		}
		return server
	}
	host, _, _ := strings.Cut(server, ":")
	return host
}

// isIPLiteral reports whether a server name is an IP address, with or
// without port. Such servers make poor via servers: their address is
// typically not stable and they are often denied by ACLs. A host made only of
// digits and dots is counted too, since no DNS name looks like that.
func isIPLiteral(server string) bool {
	host := hostOnly(server)
	if strings.HasPrefix(host, "[") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host != "" && strings.Trim(host, "0123456789.") == ""
}

// globMatch matches name against an ACL glob, where * is any run of
// characters and ? exactly one, case-insensitively and over the whole name.
// It backtracks only to the last *, so a hostile pattern costs at most
// len(glob)*len(name) steps instead of exponential time.
func globMatch(glob, name string) bool {
	p := []rune(strings.ToLower(glob))
	s := []rune(strings.ToLower(name))
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// MatrixToRoom returns the matrix.to link of a room, given its ID or alias.
// The identifier is path-escaped as mautrix does (! → %21, # → %23, / → %2F;
// $, : and + kept) and each via server query-escaped. v12 room IDs carry no
// server, so such links need via servers to be usable.
func MatrixToRoom(room string, via []string) string {
	return matrixToBase + url.PathEscape(room) + viaQuery(via)
}

// MatrixToEvent returns the matrix.to link of an event in a room, given the
// room's ID (or, deprecated since Matrix 1.11, alias). v3 event IDs may hold
// '/' and '+'; the '/' is escaped so it does not split the path.
func MatrixToEvent(room string, eventID id.EventID, via []string) string {
	return MatrixToEvents(room, via)(eventID)
}

// MatrixToEvents is MatrixToEvent for the events of one room, with the
// same via servers: the room and the servers are escaped once, not once
// for every message of a day.
func MatrixToEvents(room string, via []string) func(eventID id.EventID) string {
	prefix, query := MatrixToEventParts(room, via)
	return func(eventID id.EventID) string { return prefix + url.PathEscape(string(eventID)) + query }
}

// MatrixToEventParts is what MatrixToEvents' links are made of: an event's
// link is prefix, url.PathEscape of its ID, then query. All three are
// ASCII, so a writer may escape them one by one (the JSON day, as it
// encodes a thousand links without building one).
func MatrixToEventParts(room string, via []string) (prefix, query string) {
	return matrixToBase + url.PathEscape(room) + "/", viaQuery(via)
}

// viaQuery returns "?via=a&via=b" for the non-empty servers, or "".
func viaQuery(via []string) string {
	var b strings.Builder
	for _, s := range via {
		if s == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("via=")
		b.WriteString(url.QueryEscape(s))
	}
	return b.String()
}
