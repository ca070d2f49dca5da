package event

import "encoding/json"

// WorldReadable is the history visibility under which a room's events are
// public (ARCHITECTURE.md rule 2).
const WorldReadable = "world_readable"

// HistoryVisibility is the visibility an m.room.history_visibility event's
// content sets: "shared", the spec's default, where it names none.
func HistoryVisibility(content json.RawMessage) string {
	if v := StringField(content, "history_visibility"); v != "" {
		return v
	}
	return "shared"
}

// IsHistoryVisibility reports whether ev is a room's history visibility
// (the state event, not a message of its type).
func IsHistoryVisibility(ev *Event) bool {
	return ev.Type == TypeHistoryVisibility && ev.StateKey != nil && *ev.StateKey == ""
}

// PreviousHistoryVisibility is the visibility a history-visibility event
// as received (raw, with its unsigned data) replaced: its server's
// unsigned.prev_content, the state before it in the room's order. ok is
// false where the server gave none (the room's first, or a server that
// does not say).
func PreviousHistoryVisibility(raw []byte) (v string, ok bool) {
	top, ok := objectFields(raw)
	if !ok {
		return "", false
	}
	unsigned, ok := objectFields(top["unsigned"])
	if !ok {
		return "", false
	}
	prev := unsigned["prev_content"]
	if !isObject(prev) {
		return "", false
	}
	return HistoryVisibility(prev), true
}
