package event

import (
	"bytes"
	"encoding/json"
	"strings"
)

// MXC is a validated mxc://<server-name>/<media-id> URI
// (https://spec.matrix.org/v1.16/client-server-api/#matrix-content-mxc-uris).
type MXC struct {
	Server  string
	MediaID string
}

// String returns the URI.
func (m MXC) String() string { return "mxc://" + m.Server + "/" + m.MediaID }

// ParseMXC splits mxc://<server-name>/<media-id>, validating both parts so
// that a URL built from them cannot traverse paths, reach another host or
// smuggle syntax: the server name per the spec's grammar, the media ID as
// [A-Za-z0-9_-]{1,255}. Anything else is not an mxc URI the archive uses.
func ParseMXC(uri string) (MXC, bool) {
	rest, found := strings.CutPrefix(uri, "mxc://")
	if !found {
		return MXC{}, false
	}
	server, mediaID, found := strings.Cut(rest, "/")
	if !found || !ValidServerName(server) || !ValidMediaID(mediaID) {
		return MXC{}, false
	}
	return MXC{Server: server, MediaID: mediaID}, true
}

// ValidMediaID reports whether s is a media ID the archive accepts:
// [A-Za-z0-9_-], 1 to 255 bytes.
func ValidMediaID(s string) bool {
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

// ValidServerName implements the spec's grammar:
// server_name = hostname [ ":" port ], hostname = IPv4 / "[" IPv6 "]" / dns-name.
func ValidServerName(s string) bool {
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

// EventMediaRefs is MediaRefs(typ, ContentOf(raw)): the media an event's
// JSON refers to. An event whose bytes cannot spell an mxc URI
// (mayNameMXC) has none, and is answered without reading its JSON: the
// archive's writer asks it of every event it stores, and in an import of
// IRC lines, none of which has media, checking and walking each event's
// JSON here was 2.7% of the import's CPU (perf of archiver import, the
// 300k IRC replay; 1.0% with this).
func EventMediaRefs(typ string, raw []byte) []MXC {
	if typ != TypeMessage && typ != TypeSticker || !mayNameMXC(raw) {
		return nil
	}
	return MediaRefs(typ, ContentOf(raw))
}

// mayNameMXC reports whether a string in the JSON text raw may decode to
// one that holds "mxc://". Of JSON's escapes only \u and \/ yield a
// letter, ':' or '/' (\n, \" and the others cannot), so without either
// every such character of a decoded string is its own byte of raw, and six
// in a row are six bytes in a row. Each backslash of valid JSON begins an
// escape, and an escaped backslash is one escape of two bytes; in invalid
// JSON, which has no content and so no media, the answer does not matter
// (TestMembersAsMap holds EventMediaRefs to MediaRefs).
func mayNameMXC(raw []byte) bool {
	if bytes.Contains(raw, []byte("mxc://")) {
		return true
	}
	for i := bytes.IndexByte(raw, '\\'); i >= 0 && i+1 < len(raw); {
		if c := raw[i+1]; c == 'u' || c == '/' {
			return true
		}
		j := bytes.IndexByte(raw[i+2:], '\\')
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return false
}

// mediaMsgTypes are the msgtypes whose url is media; a sticker has no
// msgtype.
var mediaMsgTypes = map[string]bool{MsgImage: true, MsgFile: true, MsgAudio: true, MsgVideo: true}

// MediaRefs returns the valid mxc URIs an m.room.message or m.sticker
// content refers to (url and info.thumbnail_url; an edit's, those of its
// m.new_content alone), without duplicates. Fields of the wrong type and invalid
// URIs are skipped: media is optional, the message is still archived. An
// encrypted file's URI sits under "file" and is never returned.
func MediaRefs(typ string, content json.RawMessage) []MXC {
	if typ != TypeMessage && typ != TypeSticker {
		return nil
	}
	var out []MXC
	add := func(s string) {
		m, ok := ParseMXC(s)
		if !ok {
			return
		}
		for _, o := range out {
			if o == m {
				return
			}
		}
		out = append(out, m)
	}
	// The walks read each object's members from its bytes (lastMember),
	// with the answers of decoding it into a map (TestMediaRefsAsMaps).
	var walk func(c json.RawMessage, depth int)
	walk = func(c json.RawMessage, depth int) {
		if !isObject(c) {
			return
		}
		// A text message with a url field is not media.
		if typ == TypeSticker || mediaMsgTypes[memberString(c, "msgtype")] {
			add(memberString(c, "url"))
			if info := lastMember(c, "info"); isObject(info) {
				add(memberString(info, "thumbnail_url"))
			}
		}
		if depth == 0 {
			walk(lastMember(c, "m.new_content"), 1)
		}
	}
	if !validJSON(content) {
		return nil
	}
	if ParseRelation(content).Type == RelReplace {
		// An edit shows its m.new_content alone (ApplyEdit): its own
		// fields are a fallback no page shows, and a file named there
		// was kept (served) by the edit after the message that showed
		// it was redacted.
		walk(lastMember(content, "m.new_content"), 1)
		return out
	}
	walk(content, 0)
	return out
}
