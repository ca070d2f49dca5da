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
