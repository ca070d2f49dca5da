package render

import (
	"regexp"
	"strconv"

	"github.com/mxarchive/mxarchive/event"
)

// parseMXC splits mxc://<server-name>/<media-id>, validated by
// event.ParseMXC so that a media URL built from the parts cannot traverse
// paths or smuggle syntax.
func parseMXC(uri string) (server, mediaID string, ok bool) {
	m, ok := event.ParseMXC(uri)
	return m.Server, m.MediaID, ok
}

// ValidMXC reports whether uri is an mxc://<server-name>/<media-id> URI
// that parseMXC accepts: what the JSON API may pass on as a message's url.
func ValidMXC(uri string) bool {
	_, _, ok := parseMXC(uri)
	return ok
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
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
