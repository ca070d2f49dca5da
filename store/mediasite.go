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
//   - A host name counts as its registrable domain, the public suffix
//     list's "eTLD+1" (a1.b.evil.org and evil.org are evil.org's;
//     x.github.io and y.github.io are two owners, as the list says), lower
//     case, in ASCII (IDNA) and without a final dot; a name that is itself a public suffix
//     or has no suffix (localhost) counts as itself.
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
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return site
	}
	return host
}

// fillMediaSites gives the fetches queued before migration 032 their
// site (mediaSite), one update per server name.
func fillMediaSites(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT server FROM media_queue WHERE site = ''`)
	if err != nil {
		return err
	}
	var servers []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		servers = append(servers, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range servers {
		if _, err := tx.ExecContext(ctx, `UPDATE media_queue SET site = $1 WHERE server = $2 AND site = ''`, mediaSite(s), s); err != nil {
			return err
		}
	}
	return nil
}
