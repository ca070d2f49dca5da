package render

import (
	"regexp"
	"strconv"
	"strings"
)

// parseMXC splits mxc://<server-name>/<media-id> (MATRIX.md §6.5), validating
// both parts so that a media URL built from them cannot traverse paths or
// smuggle syntax: the server name per the spec's grammar, the media ID as
// [A-Za-z0-9_-]+.
func parseMXC(uri string) (server, mediaID string, ok bool) {
	rest, found := strings.CutPrefix(uri, "mxc://")
	if !found {
		return "", "", false
	}
	server, mediaID, found = strings.Cut(rest, "/")
	if !found || !validServerName(server) || !validMediaID(mediaID) {
		return "", "", false
	}
	return server, mediaID, true
}

// ValidMXC reports whether uri is an mxc://<server-name>/<media-id> URI
// that parseMXC accepts: what the JSON API may pass on as a message's url.
func ValidMXC(uri string) bool {
	_, _, ok := parseMXC(uri)
	return ok
}

func validMediaID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validServerName implements the spec's grammar:
// server_name = hostname [ ":" port ], hostname = IPv4 / "[" IPv6 "]" / dns-name.
func validServerName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	host, port := s, ""
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[1:end], s[end+1:]
		if len(host) < 2 || len(host) > 45 {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
	} else {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i:]
		}
		if host == "" {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !isAlnum(c) && c != '.' && c != '-' {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	digits, found := strings.CutPrefix(port, ":")
	if !found || digits == "" || len(digits) > 5 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c >= '0' && c <= '9'
}

// geoRe is a conservative subset of RFC 5870: coordinates, an optional
// altitude and ;name[=value] parameters made of unreserved characters. It
// is what real clients send (geo:51.5,-0.1;u=35) and nothing that could
// mean something else to a browser.
var geoRe = regexp.MustCompile(`^(?i:geo):(-?[0-9]{1,3}(?:\.[0-9]{1,20})?),(-?[0-9]{1,3}(?:\.[0-9]{1,20})?)(?:,-?[0-9]{1,9}(?:\.[0-9]{1,20})?)?(?:;[A-Za-z0-9-]{1,32}(?:=[A-Za-z0-9._~!$&'()*+:@%-]{1,64})?){0,8}$`)

// validGeoURI reports whether uri is a geo URI with coordinates in range.
func validGeoURI(uri string) bool {
	m := geoRe.FindStringSubmatch(uri)
	if m == nil {
		return false
	}
	lat, err1 := strconv.ParseFloat(m[1], 64)
	lon, err2 := strconv.ParseFloat(m[2], 64)
	return err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
