package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"
)

// typeAliases is m.room.aliases, protected from redaction only in v1–v5 and
// otherwise of no interest to the archive, hence not among the Type constants.
const typeAliases = "m.room.aliases"

// defaultRedactLevel is power_levels.redact when the key is absent.
const defaultRedactLevel = 50

// creatorLevelWithoutPowerLevels is the creator's level in a room that has no
// m.room.power_levels event; everyone else has 0.
const creatorLevelWithoutPowerLevels = 100

// normaliseRoomVersion maps a stored room version to mautrix's type. Rooms
// from before room versions existed have none and follow v1. Unknown and
// custom versions need no mapping: mautrix's feature helpers are written as
// "not one of the old versions", so they behave like the newest version.
func normaliseRoomVersion(v string) id.RoomVersion {
	if v == "" {
		return id.RoomV1
	}
	return id.RoomVersion(v)
}

// RedactContent returns the content that survives redaction of an event of
// type evType in a room of roomVersion, following the redaction algorithm of
// room versions 1–12. "" means version 1; unknown versions follow v12.
// Content that is not a JSON object redacts to {}.
//
// m.relates_to is never kept (MSC3389 is not merged), so a redacted edit,
// reaction or thread reply loses its link to its parent.
func RedactContent(evType string, content json.RawMessage, roomVersion string) json.RawMessage {
	v := normaliseRoomVersion(roomVersion)
	fields, ok := objectFields(content)
	if !ok {
		return emptyObject()
	}
	var keep []string
	out := make(map[string]json.RawMessage)
	switch evType {
	case TypeMember:
		keep = []string{"membership"}
		if v.RestrictedJoinsFix() {
			keep = append(keep, "join_authorised_via_users_server")
		}
		if v.UpdatedRedactionRules() {
			// Only the signed block is kept. Like Synapse (and unlike
			// mautrix's pdu package) an object without "signed" still
			// leaves an empty third_party_invite: servers serve what
			// Synapse computed, and we want byte-for-byte agreement.
			if tpi, ok := objectFields(fields["third_party_invite"]); ok {
				kept := make(map[string]json.RawMessage)
				if signed, ok := tpi["signed"]; ok {
					kept["signed"] = signed
				}
				enc, err := encodeObject(kept)
				if err == nil {
					out["third_party_invite"] = enc
				}
			}
		}
	case TypeCreate:
		if v.UpdatedRedactionRules() {
			return append(json.RawMessage(nil), bytes.TrimSpace(content)...)
		}
		keep = []string{"creator"}
	case TypeJoinRules:
		keep = []string{"join_rule"}
		if v.RestrictedJoins() {
			keep = append(keep, "allow")
		}
	case TypePowerLevels:
		keep = []string{"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
		if v.UpdatedRedactionRules() {
			keep = append(keep, "invite")
		}
	case TypeHistoryVisibility:
		keep = []string{"history_visibility"}
	case TypeRedaction:
		if v.RedactsInContent() {
			keep = []string{"redacts"}
		}
	case typeAliases:
		if v.SpecialCasedAliasesAuth() {
			keep = []string{"aliases"}
		}
	}
	for _, k := range keep {
		if val, ok := fields[k]; ok {
			out[k] = val
		}
	}
	enc, err := encodeObject(out)
	if err != nil {
		return emptyObject()
	}
	return enc
}

// keptTopLevel reports whether a top-level event key survives redaction.
// "redacts" is not in the list in any version: the spec and Synapse drop it
// (mautrix's pdu.Redact keeps it for old versions, which we do not follow).
// "unsigned" is not kept either; servers rebuild it per recipient.
func keptTopLevel(key string, v id.RoomVersion) bool {
	switch key {
	case "event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
		"signatures", "depth", "prev_events", "auth_events", "origin_server_ts":
		return true
	case "origin", "membership", "prev_state":
		return !v.UpdatedRedactionRules()
	}
	return false
}

// Redact returns the redacted form of a whole event in a room of
// roomVersion: only the top-level keys the room version protects, content
// reduced by RedactContent (always present, {} at least), no "unsigned".
// Keys come out sorted. An error wrapping ErrMalformed means raw is not a
// JSON object.
func Redact(raw json.RawMessage, roomVersion string) (json.RawMessage, error) {
	fields, ok := objectFields(raw)
	if !ok {
		return nil, fmt.Errorf("redact: %w: event is not a JSON object", ErrMalformed)
	}
	v := normaliseRoomVersion(roomVersion)
	out := make(map[string]json.RawMessage, len(fields))
	for k, val := range fields {
		if keptTopLevel(k, v) {
			out[k] = val
		}
	}
	// A non-string type is nonsense; it redacts like an unknown type.
	evType := stringField(fields, "type")
	out["content"] = RedactContent(evType, fields["content"], roomVersion)
	enc, err := encodeObject(out)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	return enc, nil
}

// RedactsTarget returns the event an m.room.redaction redacts: content.redacts
// (v11+, and added by servers to older events for compatibility) when it is a
// non-empty string, else the pre-v11 top-level redacts. It returns "" for
// events of other types, so that a stray "redacts" key elsewhere cannot
// redact anything.
func RedactsTarget(e *Event) id.EventID {
	if e == nil || e.Type != TypeRedaction {
		return ""
	}
	if fields, ok := objectFields(e.Content); ok {
		if s := stringField(fields, "redacts"); s != "" {
			return id.EventID(s)
		}
	}
	return e.Redacts
}

// RedactsTargetIn is RedactsTarget for a redaction of a room of a known
// version (roomVersion; "" when unknown, read as RedactsTarget reads it).
// Before v11 the event's top-level redacts is the target its servers
// checked and applied, and content is anyone's to fill: a member who
// redacted her own message there with content.redacts naming another's
// had the other's erased. From v11 content.redacts is the target, and a
// top-level one only a server's copy of it.
func RedactsTargetIn(e *Event, roomVersion string) id.EventID {
	if e != nil && e.Type == TypeRedaction && roomVersion != "" && e.Redacts != "" && !normaliseRoomVersion(roomVersion).RedactsInContent() {
		return e.Redacts
	}
	return RedactsTarget(e)
}

// RedactCheck is what RedactionAllowed needs to know about a redaction and
// its target, as of the redaction.
type RedactCheck struct {
	RoomVersion string
	Redaction   *Event
	// TargetEventID is the redacted event's ID. Only v1/v2 use it; when
	// empty, RedactsTarget(Redaction) is used.
	TargetEventID id.EventID
	TargetSender  id.UserID
	TargetType    string
	// PowerLevels is the content of m.room.power_levels in force at the
	// redaction; nil if the room has none.
	PowerLevels json.RawMessage
	// Creators is the create event's sender followed by
	// content.additional_creators. From v12 all of them have infinite power;
	// before v12 only the first counts, and only when the room has no
	// power-levels event (at level 100).
	Creators []id.UserID
}

// RedactionAllowed reports whether the redaction may be applied to its
// target (https://spec.matrix.org/v1.16/rooms/v1/#authorization-rules, rule 11, for v1/v2;
// https://spec.matrix.org/v1.16/rooms/v3/#handling-redactions from v3). It never allows redacting m.room.create (Synapse
// ignores those). Otherwise it allows:
//   - v1/v2: the redaction's event-ID domain equals the target's event-ID
//     domain (auth rule 11);
//   - v3+: the redaction's sender is on the same server as the target's
//     sender (which covers self-redaction);
//   - any version: the redactor's power level is at least "redact".
//
// The power needed to send an m.room.redaction at all is not checked: the
// redaction is already in the room's timeline, so its server authorised it.
func RedactionAllowed(p RedactCheck) bool {
	if p.Redaction == nil || p.TargetType == TypeCreate {
		return false
	}
	v := normaliseRoomVersion(p.RoomVersion)
	if v.EventIDFormat() == id.EventIDFormatCustom {
		target := p.TargetEventID
		if target == "" {
			target = RedactsTarget(p.Redaction)
		}
		if d := idDomain(string(p.Redaction.ID)); d != "" && d == idDomain(string(target)) {
			return true
		}
	} else if s := ServerName(p.Redaction.Sender); s != "" && s == ServerName(p.TargetSender) {
		return true
	}
	return hasRedactPower(p, v)
}

// hasRedactPower compares the redactor's power level with "redact". A value
// that cannot be read as a level fails closed, as Synapse's int() raising
// rejects the redaction.
func hasRedactPower(p RedactCheck, v id.RoomVersion) bool {
	sender := p.Redaction.Sender
	if sender == "" {
		return false
	}
	if v.PrivilegedRoomCreators() && slices.Contains(p.Creators, sender) {
		return true
	}
	if isAbsent(p.PowerLevels) {
		level := int64(0)
		if len(p.Creators) > 0 && p.Creators[0] == sender {
			level = creatorLevelWithoutPowerLevels
		}
		return level >= defaultRedactLevel
	}
	pl, ok := objectFields(p.PowerLevels)
	if !ok {
		return false
	}
	redact, ok := levelOr(pl["redact"], defaultRedactLevel)
	if !ok {
		return false
	}
	level, ok := userLevel(pl, sender)
	return ok && level >= redact
}

// userLevel returns users[user], else users_default, else 0. ok is false
// when a value that decides the answer is malformed.
func userLevel(pl map[string]json.RawMessage, user id.UserID) (int64, bool) {
	if users := pl["users"]; !isAbsent(users) {
		m, ok := objectFields(users)
		if !ok {
			return 0, false
		}
		if l, listed := m[string(user)]; listed && !isAbsent(l) {
			return parseLevel(l)
		}
	}
	return levelOr(pl["users_default"], 0)
}

// levelOr parses an optional power level, returning def when it is absent or
// null (as Synapse's content.get(name) is None does).
func levelOr(raw json.RawMessage, def int64) (int64, bool) {
	if isAbsent(raw) {
		return def, true
	}
	return parseLevel(raw)
}

// parseLevel reads a power level. Rooms before v10 did not validate power
// levels, and Synapse applies Python's int() to them, so this accepts what
// int() accepts in practice: integers, numbers (truncated toward zero) and
// strings of ASCII digits with an optional sign and surrounding whitespace.
// Booleans (int(True) == 1 in Python), other strings, objects and arrays are
// rejected rather than guessed at.
func parseLevel(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
		digits := strings.TrimLeft(s, "+-")
		if len(s)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// idDomain returns what follows the first ':' of an identifier, as Synapse's
// get_domain_from_id does; "" if there is none.
func idDomain(s string) string {
	_, domain, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	return domain
}
