package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Message types and formats the archive renders specially.
const (
	MsgText     = "m.text"
	MsgEmote    = "m.emote"
	MsgNotice   = "m.notice"
	MsgImage    = "m.image"
	MsgFile     = "m.file"
	MsgAudio    = "m.audio"
	MsgVideo    = "m.video"
	MsgLocation = "m.location"
	FormatHTML  = "org.matrix.custom.html"
)

// Event types the archive treats specially.
const (
	TypeMessage           = "m.room.message"
	TypeSticker           = "m.sticker"
	TypeReaction          = "m.reaction"
	TypeRedaction         = "m.room.redaction"
	TypeEncrypted         = "m.room.encrypted"
	TypeCreate            = "m.room.create"
	TypeMember            = "m.room.member"
	TypePowerLevels       = "m.room.power_levels"
	TypeJoinRules         = "m.room.join_rules"
	TypeHistoryVisibility = "m.room.history_visibility"
	TypeName              = "m.room.name"
	TypeTopic             = "m.room.topic"
	TypeAvatar            = "m.room.avatar"
	TypeCanonicalAlias    = "m.room.canonical_alias"
	TypeEncryption        = "m.room.encryption"
	TypeTombstone         = "m.room.tombstone"
	TypeServerACL         = "m.room.server_acl"
	TypeRetention         = "m.room.retention"
)

// Message is the displayable part of an m.room.message or m.sticker content.
// Fields of the wrong JSON type are rejected by ParseMessage, never coerced.
type Message struct {
	MsgType       string `json:"msgtype"`
	Body          string `json:"body"`
	Format        string `json:"format,omitempty"`
	FormattedBody string `json:"formatted_body,omitempty"`
	URL           string `json:"url,omitempty"` // mxc:// URI of the media, if unencrypted
	FileName      string `json:"filename,omitempty"`
	GeoURI        string `json:"geo_uri,omitempty"`
	// Info is what the sender stated about the media (info.w, info.h,
	// info.size), read leniently by ParseMessage: a wrong type there reads
	// as absent, since it only sizes the display.
	Info MediaInfo `json:"-"`
}

// MediaInfo is a media message's stated dimensions and size; 0 means not
// stated (or not a non-negative integer).
type MediaInfo struct {
	W, H int64
	Size int64
}

// parseMediaInfo reads content.info leniently. content is valid JSON
// (ParseMessage decoded it), so the member is found by walking its bytes,
// not by decoding all of it into a map: that cost every message as much
// as decoding the message itself.
func parseMediaInfo(content json.RawMessage) MediaInfo {
	return mediaInfoOf(lastMember(content, "info"))
}

// mediaInfoOf is parseMediaInfo of the info member's value v.
func mediaInfoOf(v []byte) MediaInfo {
	info, ok := objectFields(v)
	if !ok {
		return MediaInfo{}
	}
	num := func(key string) int64 {
		var n int64
		if json.Unmarshal(info[key], &n) != nil || n < 0 {
			return 0
		}
		return n
	}
	return MediaInfo{W: num("w"), H: num("h"), Size: num("size")}
}

// IsHTML reports whether FormattedBody holds Matrix HTML to sanitize.
func (m Message) IsHTML() bool { return m.Format == FormatHTML && m.FormattedBody != "" }

// Caption returns the media caption (Matrix 1.10: body is a caption when a
// filename is present and differs from it), or "".
func (m Message) Caption() string {
	if m.FileName != "" && m.FileName != m.Body {
		return m.Body
	}
	return ""
}

// ParseMessage decodes message content. A body that is not a string, or any
// other field of the wrong type, is an error wrapping ErrMalformed.
func ParseMessage(content json.RawMessage) (Message, error) {
	if m, ok := parseMessageFast(content); ok {
		return m, nil
	}
	var m Message
	if err := json.Unmarshal(content, &m); err != nil {
		return Message{}, fmt.Errorf("%w: message content: %v", ErrMalformed, err)
	}
	m.Info = parseMediaInfo(content)
	return m, nil
}

// messageFields are Message's JSON members, in the order of its fields.
var messageFields = [...]string{"msgtype", "body", "format", "formatted_body", "url", "filename", "geo_uri"}

// parseMessageFast is ParseMessage's decode by walking content's bytes
// (TestParseMessageAsUnmarshal, FuzzParseMessageAsUnmarshal): every
// message of a page is parsed on its first request, and encoding/json's
// reflection cost a text log more than its rendering. It answers only
// where encoding/json's answer is plain (an object of valid JSON whose
// members named like Message's fields are strings or null, under their
// exact names), and reports false for anything else (a wrong type, a key
// differing only in case or escaped, invalid JSON), which ParseMessage
// then decodes with encoding/json, errors and all.
func parseMessageFast(content []byte) (Message, bool) {
	var m Message
	if !validJSON(content) {
		return m, false
	}
	i := skipSpace(content, 0)
	if content[i] != '{' {
		return m, false
	}
	fields := [...]*string{&m.MsgType, &m.Body, &m.Format, &m.FormattedBody, &m.URL, &m.FileName, &m.GeoURI}
	// The info member's value, the last one where there are several (as
	// parseMediaInfo finds it): read in this walk, not in one of its own
	// (parseMediaInfo's was a fifth of ParseMessage in a first JSON day).
	var info []byte
	i = skipSpace(content, i+1)
	for i < len(content) && content[i] != '}' {
		end := stringEnd(content, i)
		k := content[i+1 : end-1]
		i = skipSpace(content, end)
		i = skipSpace(content, i+1) // the ':'
		vend := valueEnd(content, i)
		v := content[i:vend]
		if bytes.IndexByte(k, '\\') >= 0 || !asciiOnly(k) {
			return Message{}, false // encoding/json would decode and fold it
		}
		if string(k) == "info" {
			info = v
		}
		for f, name := range messageFields {
			if string(k) == name {
				switch {
				case v[0] == 'n': // null leaves the field as it was
				case v[0] != '"':
					return Message{}, false // the wrong type: an error
				default:
					s, err := decodeString(v)
					if err != nil {
						return Message{}, false
					}
					*fields[f] = s
				}
				break
			}
			if looseName(k, name) {
				// encoding/json matches keys regardless of case (and a
				// decoder of JSON v2's may also ignore '_' and '-'): left
				// to it.
				return Message{}, false
			}
		}
		i = skipSpace(content, vend)
		if i < len(content) && content[i] == ',' {
			i = skipSpace(content, i+1)
		}
	}
	m.Info = mediaInfoOf(info)
	return m, true
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// looseName reports whether the ASCII key k names name when case, '_'
// and '-' are ignored.
func looseName(k []byte, name string) bool {
	i, j := 0, 0
	for {
		for i < len(k) && (k[i] == '_' || k[i] == '-') {
			i++
		}
		for j < len(name) && (name[j] == '_' || name[j] == '-') {
			j++
		}
		if i == len(k) || j == len(name) {
			return i == len(k) && j == len(name)
		}
		a, b := k[i], name[j]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
		i, j = i+1, j+1
	}
}
