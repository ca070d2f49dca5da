package event

import (
	"encoding/json"
	"slices"

	"maunium.net/go/mautrix/id"
)

// RoomPower is what judging a user's power in a room takes: the room's
// version, the content of its m.room.power_levels (nil if it has none) and
// its creators (the create event's sender, then, from v12,
// content.additional_creators).
type RoomPower struct {
	RoomVersion string
	PowerLevels json.RawMessage
	Creators    []id.UserID
}

// MayRedactOthers reports whether user's power may redact other users'
// events: a level at least "redact" (50 by default), or, from v12, being a
// creator. A malformed value that decides the answer fails closed.
func (p RoomPower) MayRedactOthers(user id.UserID) bool {
	check := RedactCheck{RoomVersion: p.RoomVersion, Redaction: &Event{Sender: user}, PowerLevels: p.PowerLevels, Creators: p.Creators}
	return hasRedactPower(check, normaliseRoomVersion(p.RoomVersion))
}

// Creators lists a room's creators from its create event: its sender,
// then content.additional_creators (which only v12 rooms honour;
// RoomPower's judges know that). A malformed list is ignored.
func Creators(createSender id.UserID, createContent json.RawMessage) []id.UserID {
	var out []id.UserID
	if createSender != "" {
		out = append(out, createSender)
	}
	var extra struct {
		AdditionalCreators []id.UserID `json:"additional_creators"`
	}
	if json.Unmarshal(createContent, &extra) == nil {
		for _, u := range extra.AdditionalCreators {
			if u != "" && !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// defaultStateLevel is state_default when power levels do not set it.
const defaultStateLevel = 50

// MaySendState reports whether user holds the power to send a state event
// of type evType in a room of roomVersion whose m.room.power_levels content
// is powerLevels (nil if the room has none) and whose creators are creators
// (the create event's sender, then content.additional_creators). The
// archive asks it of whoever invites the bot (design rule 8: only someone
// who could make the history public may ask for it to be published).
//
// Levels follow the auth rules: events[evType], else state_default (50),
// against users[user], else users_default (0); with no power-levels event
// the first creator is at 100 and everyone else at 0; from v12 every
// creator has infinite power. A malformed value that decides the answer
// fails closed.
func MaySendState(roomVersion string, powerLevels json.RawMessage, creators []id.UserID, user id.UserID, evType string) bool {
	if user == "" {
		return false
	}
	v := normaliseRoomVersion(roomVersion)
	if v.PrivilegedRoomCreators() && slices.Contains(creators, user) {
		return true
	}
	if isAbsent(powerLevels) {
		return len(creators) > 0 && creators[0] == user && creatorLevelWithoutPowerLevels >= defaultStateLevel
	}
	pl, ok := objectFields(powerLevels)
	if !ok {
		return false
	}
	required, ok := levelOr(pl["state_default"], defaultStateLevel)
	if !ok {
		return false
	}
	if events := pl["events"]; !isAbsent(events) {
		m, ok := objectFields(events)
		if !ok {
			return false
		}
		if l, set := m[evType]; set && !isAbsent(l) {
			if required, ok = parseLevel(l); !ok {
				return false
			}
		}
	}
	level, ok := userLevel(pl, user)
	return ok && level >= required
}
