package event

import (
	"encoding/json"
	"fmt"
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
	info, ok := objectFields(lastMember(content, "info"))
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
	var m Message
	if err := json.Unmarshal(content, &m); err != nil {
		return Message{}, fmt.Errorf("%w: message content: %v", ErrMalformed, err)
	}
	m.Info = parseMediaInfo(content)
	return m, nil
}
