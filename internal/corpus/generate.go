package corpus

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

const server = "bench.example"

// Generate writes events until n are written: each pass over the corpus is
// one "copy" with its own rooms (one per channel and copy), timestamps
// shifted past the previous copy, and fresh event IDs. Every room starts
// with the state a world-readable room has; senders join before speaking.
func Generate(w io.Writer, logs []Log, n int) (int, error) {
	written := 0
	emit := emitter(w, n, &written)
	_, span := corpusSpan(logs)
	for copyNo := 0; written < n; copyNo++ {
		shift := copyShift(copyNo, span)
		joined := map[string]map[string]bool{}
		for fileNo, l := range logs {
			room := fmt.Sprintf("!%s-%d:%s", l.channel, copyNo, server)
			if joined[room] == nil {
				joined[room] = map[string]bool{}
				if err := roomHeader(emit, room, l, copyNo, l.lines[0].ts.Add(shift-time.Minute)); err != nil {
					return written, err
				}
			}
			ids := make([]string, len(l.lines))
			for i, ln := range l.lines {
				ts := ln.ts.Add(shift)
				sender := "@" + localpart(ln.nick) + ":" + server
				if !joined[room][sender] {
					joined[room][sender] = true
					if err := emit(map[string]any{
						"event_id": eventID(room, "join", sender), "room_id": room, "type": "m.room.member",
						"sender": sender, "state_key": sender, "origin_server_ts": ts.UnixMilli() - 1,
						"content": map[string]any{"membership": "join", "displayname": ln.nick},
					}); err != nil {
						return written, err
					}
				}
				ids[i] = eventID(room, fmt.Sprint(fileNo), fmt.Sprint(i))
				content := map[string]any{"msgtype": "m.text", "body": ln.text}
				if strings.HasPrefix(ln.text, "ACTION ") {
					content = map[string]any{"msgtype": "m.emote", "body": strings.TrimPrefix(ln.text, "ACTION ")}
				}
				if ln.replyTo >= 0 {
					content["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": ids[ln.replyTo]}}
				}
				if err := emit(map[string]any{
					"event_id": ids[i], "room_id": room, "type": "m.room.message", "sender": sender,
					"origin_server_ts": ts.UnixMilli(), "content": content,
				}); err != nil {
					return written, err
				}
				if written >= n {
					return written, nil
				}
			}
		}
	}
	return written, nil
}

func roomHeader(emit func(map[string]any) error, room string, l Log, copyNo int, ts time.Time) error {
	creator := "@archive-bench:" + server
	state := []struct {
		typ, key string
		content  map[string]any
	}{
		{"m.room.create", "", map[string]any{"room_version": "10"}},
		{"m.room.member", creator, map[string]any{"membership": "join"}},
		{"m.room.power_levels", "", map[string]any{"users": map[string]any{creator: 100}}},
		{"m.room.join_rules", "", map[string]any{"join_rule": "public"}},
		{"m.room.history_visibility", "", map[string]any{"history_visibility": "world_readable"}},
		{"m.room.name", "", map[string]any{"name": fmt.Sprintf("#%s (replay %d)", l.channel, copyNo)}},
		{"m.room.canonical_alias", "", map[string]any{"alias": fmt.Sprintf("#%s-%d:%s", l.channel, copyNo, server)}},
	}
	for i, s := range state {
		if err := emit(map[string]any{
			"event_id": eventID(room, "state", s.typ, s.key), "room_id": room, "type": s.typ, "sender": creator,
			"state_key": s.key, "origin_server_ts": ts.UnixMilli() + int64(i), "content": s.content,
		}); err != nil {
			return err
		}
	}
	return nil
}

// eventID is a deterministic v4-style event ID.
func eventID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return "$" + base64.RawURLEncoding.EncodeToString(h[:])
}

// localpart maps an IRC nick to a Matrix localpart with the spec's mapping
// from other character sets (upper case → _lower, _ → __, others =xx).
func localpart(nick string) string {
	var b strings.Builder
	for _, c := range []byte(nick) {
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte('_')
			b.WriteByte(c + 'a' - 'A')
		case c == '_':
			b.WriteString("__")
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02x", c)
		}
	}
	return b.String()
}

// emitter writes events as NDJSON until n are written, counting them in
// *written; past n it writes nothing.
func emitter(w io.Writer, n int, written *int) func(map[string]any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(v map[string]any) error {
		if *written >= n {
			return nil
		}
		*written++
		return enc.Encode(v)
	}
}

// corpusSpan is the corpus's first line's time and how long one copy of it
// lasts (its span plus a day), by which each further copy is shifted.
// copyCycle bounds how far copies are shifted in time: a century.
const copyCycle = 100 * 365 * 24 * time.Hour

// copyShift is how far copy k of a corpus spanning span is shifted: past
// the previous copy, until the next copy would pass a century; then the
// copies start again at the corpus's own time, in their own rooms. A long
// corpus replayed to many copies (the markdown shape at 1M events needs
// about forty) would otherwise overflow time.Duration or pass the year
// 2286, where the index clamps times.
func copyShift(k int, span time.Duration) time.Duration {
	perCycle := max(1, int(copyCycle/max(span, 1)))
	return time.Duration(k%perCycle) * span
}

func corpusSpan(logs []Log) (time.Time, time.Duration) {
	var first, last time.Time
	for _, l := range logs {
		for _, ln := range l.lines {
			if first.IsZero() || ln.ts.Before(first) {
				first = ln.ts
			}
			if ln.ts.After(last) {
				last = ln.ts
			}
		}
	}
	return first, last.Sub(first) + 24*time.Hour
}
