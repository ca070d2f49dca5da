package web

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// The JSON day is encoded by hand, byte for byte as encoding/json encodes
// it (TestAPIJSONAsMarshal, FuzzAPIJSONAsMarshal): on its first request,
// json.Marshal's reflection over a thousand events was an eighth of the
// response's time. The rare parts (a poll, a state event's content) are
// still encoded by encoding/json.

// jsonAppender is a response that appends its own JSON encoding, the same
// bytes json.Marshal gives.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
	// sizeHint guesses the encoding's length, to allocate once.
	sizeHint() int
}

// An event takes about 1.5 KB (the corpus's days): grown from empty, a
// day's megabyte would be copied some twenty times.
func (d *apiDay) sizeHint() int { return 256 + 1600*len(d.Events) }

func (a *apiEvent) sizeHint() int { return 1600 }

func (d *apiDay) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"room_id":`...)
	b = appendJSONString(b, d.RoomID)
	b = append(b, `,"date":`...)
	b = appendJSONString(b, d.Date)
	b = appendOmitString(b, `,"previous_date":`, d.Previous)
	b = appendOmitString(b, `,"next_date":`, d.Next)
	b = append(b, `,"events":`...)
	if d.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.Events {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = d.Events[i].appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if d.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = appendOmitString(b, `,"next_after":`, d.NextAfter)
	return append(b, '}'), nil
}

func (a *apiEvent) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, a.EventID)
	b = append(b, `,"room_id":`...)
	b = appendJSONString(b, a.RoomID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, a.Type)
	b = append(b, `,"sender":`...)
	b = appendJSONString(b, a.Sender)
	b = appendOmitString(b, `,"sender_name":`, a.SenderName)
	b = append(b, `,"origin_server_ts":`...)
	b = strconv.AppendInt(b, a.OriginServerTS, 10)
	b = append(b, `,"time":`...)
	if a.links != nil {
		// RFC 3339 in UTC: digits, '-', ':', 'T' and 'Z', nothing to
		// escape.
		b = append(time.UnixMilli(a.OriginServerTS).UTC().AppendFormat(append(b, '"'), time.RFC3339), '"')
	} else {
		b = appendJSONString(b, a.Time)
	}
	// A message's text is most often its body, and an IRC line's HTML its
	// text: each written once and copied (body and text are one string,
	// comparing them costs nothing; the HTML is compared byte by byte,
	// still less than escaping it).
	var body, text []byte
	if c := a.Content; c != nil {
		b = appendOmitString(append(b, `,"content":{`...), `"msgtype":`, c.MsgType)
		if c.MsgType != "" {
			b = append(b, ',')
		}
		b = append(b, `"body":`...)
		at := len(b)
		b = appendJSONString(b, c.Body)
		body = b[at:]
		b = appendOmitString(b, `,"format":`, c.Format)
		b = appendOmitString(b, `,"formatted_body":`, c.FormattedBody)
		b = appendOmitString(b, `,"url":`, c.URL)
		b = appendOmitString(b, `,"filename":`, c.FileName)
		b = appendOmitString(b, `,"media_url":`, c.MediaURL)
		b = appendOmitString(b, `,"media":`, c.Media)
		b = append(b, '}')
	}
	if a.Text != "" {
		b = append(b, `,"text":`...)
		at := len(b)
		if a.Content != nil && a.Text == a.Content.Body {
			b = append(b, body...)
		} else {
			b = appendJSONString(b, a.Text)
		}
		text = b[at:]
	}
	if a.HTML != "" {
		b = append(b, `,"html":`...)
		if a.HTML == a.Text {
			b = append(b, text...)
		} else {
			b = appendJSONString(b, a.HTML)
		}
	}
	b = append(b, `,"edited":`...)
	b = strconv.AppendBool(b, a.Edited)
	b = appendOmitString(b, `,"edited_at":`, a.EditedAt)
	b = appendOmitString(b, `,"in_reply_to":`, a.InReplyTo)
	b = appendOmitString(b, `,"thread_root":`, a.ThreadRoot)
	if len(a.Reactions) > 0 {
		b = append(b, `,"reactions":[`...)
		for i, r := range a.Reactions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendJSONString(b, r.Key)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(r.Count), 10)
			b = append(b, `,"senders":`...)
			b = appendJSONStrings(b, r.Senders)
			b = append(b, `,"sender_ids":`...)
			b = appendJSONStrings(b, r.SenderIDs)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if a.ThreadCount != 0 {
		b = append(b, `,"thread_replies":`...)
		b = strconv.AppendInt(b, int64(a.ThreadCount), 10)
	}
	if a.RelationsCapped {
		b = append(b, `,"relations_truncated":true`...)
	}
	b = append(b, `,"redacted":`...)
	b = strconv.AppendBool(b, a.Redacted)
	b = appendOmitString(b, `,"redacted_by":`, a.RedactedBy)
	b = appendOmitString(b, `,"redacted_at":`, a.RedactedAt)
	b = appendOmitString(b, `,"applied_at":`, a.AppliedAt)
	b = appendOmitString(b, `,"redaction_reason":`, a.Reason)
	b = appendOmitString(b, `,"withdrawn":`, a.Withdrawn)
	if a.links != nil {
		b = a.links.appendJSONLinks(b, id.EventID(a.EventID))
	} else {
		b = append(b, `,"permalink":`...)
		b = appendJSONString(b, a.Permalink)
		b = append(b, `,"matrix_to":`...)
		b = appendJSONString(b, a.MatrixTo)
	}
	if a.StateKey != nil {
		b = append(b, `,"state_key":`...)
		b = appendJSONString(b, *a.StateKey)
	}
	var err error
	if a.State != nil {
		if b, err = appendMarshal(append(b, `,"state_content":`...), a.State); err != nil {
			return nil, err
		}
	}
	if a.Poll != nil {
		if b, err = appendMarshal(append(b, `,"poll":`...), a.Poll); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendMarshal appends json.Marshal's encoding of v.
func appendMarshal(b []byte, v any) ([]byte, error) {
	e, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return append(b, e...), nil
}

// appendOmitString appends the member name and s, unless s is empty (a
// field tagged omitempty).
func appendOmitString(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes a JSON string holds as they are: ASCII but
// control characters, '"', '\\' and the HTML characters '<', '>', '&'.
// A table, not a chain of comparisons: the loop over a day's megabyte of
// text is the encoder's cost.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// jsonSpecial marks, in the high bit of each byte's place, the bytes of x
// (eight bytes of a string, the first in the low byte) that jsonPlain
// does not: a control character, '"' or '&' (x|4 is '&'), '<' or '>'
// (x|2 is '>'), '\\', and any byte of a multi-byte sequence. These are
// the tests of "Bit Twiddling Hacks" (haszero, hasless): a borrow marks
// a byte only above a marked one, so the lowest mark is exact.
func jsonSpecial(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	qa := (x | 4*ones) ^ '&'*ones
	lg := (x | 2*ones) ^ '>'*ones
	bs := x ^ '\\'*ones
	return ((x-0x20*ones)&^x | (qa-ones)&^qa | (lg-ones)&^lg | (bs-ones)&^bs | x) & highs
}

// load64 is the first eight bytes of s, the first in the low byte (the
// compiler makes it one load).
func load64(s string) uint64 {
	s = s[:8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendJSONString appends s as encoding/json encodes a string: '<', '>'
// and '&' escaped as \u00XX (so the JSON can sit in HTML), invalid UTF-8
// as \ufffd, U+2028 and U+2029 escaped (JavaScript reads them as line
// ends). A day's text is most of a JSON day's bytes: eight bytes are
// looked at once, up to the first that jsonPlain does not hold as it is.
func appendJSONString(b []byte, s string) []byte {
	return append(appendJSONChars(append(b, '"'), s), '"')
}

// appendJSONChars appends what appendJSONString writes between the
// quotes.
func appendJSONChars(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) {
			if m := jsonSpecial(load64(s[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		if jsonPlain[s[i]] {
			i++
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
