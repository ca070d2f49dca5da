package store

import (
	"context"
	"database/sql"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// mediaSite is the owner a media server name is counted under for
// MediaClaimsPerSite: whoever holds one registrable domain (or one block
// of addresses) names as many Matrix servers as they like inside it,
// each a server of its own to federation, so a bound per server name as
// written held nothing (a1.evil.org, a2.evil.org, evil.org:8449… got two
// slots each, and a wildcard DNS record all of them).
//
//   - A host name counts as its registrable domain by the public suffix
//     list's ICANN section (icannPlusOne: a1.b.evil.org and evil.org are
//     evil.org's), lower case, in ASCII (IDNA) and without a final dot; a
//     name that is itself a public suffix or has no suffix (localhost)
//     counts as itself. The list's private section is left out: there
//     companies list the domains under which they give anyone names
//     (x.github.io, a.duckdns.org, b.ngrok.io), so that browsers keep
//     those names' cookies apart, and anyone takes as many of them as
//     they like for nothing: each would be an owner of its own, with
//     slots of its own. All the names of one such domain are one site
//     (github.io, duckdns.org), which slows their fetches when many are
//     queued at once but stops none.
//   - An IPv4 address counts as its /24, an IPv6 address as its /48: what
//     one customer of a host is commonly given.
//   - The port never counts: one host serves on as many as it likes.
//
// The result only groups: it is never looked up or fetched.
func mediaSite(server string) string {
	host := server
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.Count(host, ":") == 1 {
		host = host[:i]
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		a = a.Unmap().WithZone("")
		bits := 24
		if a.Is6() {
			bits = 48
		}
		p, err := a.Prefix(bits)
		if err == nil {
			return p.String()
		}
		return a.String()
	}
	host = strings.TrimRight(strings.ToLower(host), ".")
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a // münchen.de and xn--mnchen-3ya.de are one name
	}
	if site, ok := icannPlusOne(host); ok {
		return site
	}
	return host
}

// icannPlusOne is publicsuffix.EffectiveTLDPlusOne by the list's ICANN
// section alone: a suffix of the private section (github.io) is passed
// over for the ICANN suffix it ends in (io). It reports false for a name
// that is itself a suffix or has an empty label.
func icannPlusOne(host string) (string, bool) {
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return "", false
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	for !icann {
		dot := strings.IndexByte(suffix, '.')
		if dot < 0 {
			break // no ICANN suffix (localhost, an unlisted TLD): the list's default rule
		}
		suffix, icann = publicsuffix.PublicSuffix(suffix[dot+1:])
	}
	if len(host) <= len(suffix) {
		return "", false
	}
	rest := host[:len(host)-len(suffix)-1]
	return rest[strings.LastIndexByte(rest, '.')+1:] + "." + suffix, true
}

// fillMediaSites gives each queued fetch the site mediaSite names for its
// server, where it has another: the fetches queued before migration 032
// had none, and those queued before 035 had their own site for a name
// of the public suffix list's private section. One update per server
// name.
func fillMediaSites(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT server, site FROM media_queue`)
	if err != nil {
		return err
	}
	var servers []string
	for rows.Next() {
		var server, site string
		if err := rows.Scan(&server, &site); err != nil {
			rows.Close()
			return err
		}
		if mediaSite(server) != site {
			servers = append(servers, server)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range servers {
		if _, err := tx.ExecContext(ctx, `UPDATE media_queue SET site = $1 WHERE server = $2`, mediaSite(s), s); err != nil {
			return err
		}
	}
	return nil
}
