package event

import (
	"encoding/json"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// Relation types (rel_type) the archive understands.
const (
	RelReplace    = "m.replace"
	RelAnnotation = "m.annotation"
	RelThread     = "m.thread"
	RelReference  = "m.reference"
)

// relThreadUnstable is the pre-Matrix 1.4 thread rel_type. Element still reads
// it, and old rooms in the archive are full of it.
const relThreadUnstable = "io.element.thread"

// MaxAnnotationKey is the longest annotation key kept, in bytes. Keys are
// arbitrary strings; a reaction "key" of 60 kB is an attack on the page, not
// an emoji.
const MaxAnnotationKey = 256

// maxIDLength is the spec's limit on identifiers, event IDs included.
const maxIDLength = 255

// Relation is the m.relates_to of an event's content, reduced to what the
// archive indexes.
type Relation struct {
	// Type is the rel_type: RelReplace, RelAnnotation, RelThread,
	// RelReference, or "" when there is none, it is unknown, or the relation
	// is invalid (no valid event_id; an annotation without a key).
	Type string
	// EventID is the relation's target; set exactly when Type is.
	EventID id.EventID
	// Key is the annotation key, truncated to MaxAnnotationKey bytes on a
	// rune boundary; "" unless Type is RelAnnotation.
	Key string
	// ReplyTo is the m.in_reply_to target, or "" when there is none or it is
	// only a thread's fallback for clients without threads (rel_type m.thread
	// with is_falling_back true).
	ReplyTo id.EventID
}

// ParseRelation extracts the relation from event content. Relations come
// from untrusted clients, so it never fails: any part of m.relates_to of the
// wrong JSON type is ignored and the valid parts are kept.
//
// It walks content's bytes (lastMember) rather than decoding each object into
// a map, with the maps' answers (TestParseRelationAsMaps): every event an
// import stores is asked for its relation.
func ParseRelation(content json.RawMessage) Relation {
	if !validJSON(content) {
		return Relation{}
	}
	rel := lastMember(content, "m.relates_to")
	if !isObject(rel) {
		return Relation{}
	}
	var r Relation
	relType := memberString(rel, "rel_type")
	if relType == relThreadUnstable {
		relType = RelThread
	}
	switch relType {
	case RelReplace, RelAnnotation, RelThread, RelReference:
		target := eventIDMember(rel, "event_id")
		key := truncateKey(memberString(rel, "key"))
		if target != "" && (relType != RelAnnotation || key != "") {
			r.Type, r.EventID = relType, target
			if relType == RelAnnotation {
				r.Key = key
			}
		}
	}
	if reply := lastMember(rel, "m.in_reply_to"); isObject(reply) {
		// The fallback rule is decided on the raw rel_type: a thread
		// relation whose event_id is broken still generated its
		// m.in_reply_to as a fallback, not as a real reply.
		var falling bool
		if relType == RelThread {
			_ = json.Unmarshal(lastMember(rel, "is_falling_back"), &falling)
		}
		if !falling {
			r.ReplyTo = eventIDMember(reply, "event_id")
		}
	}
	return r
}

// eventIDMember is obj's member key if it is a string that looks like an
// event ID (obj: valid JSON).
func eventIDMember(obj json.RawMessage, key string) id.EventID {
	s := memberString(obj, key)
	if len(s) < 2 || len(s) > maxIDLength || s[0] != '$' {
		return ""
	}
	return id.EventID(s)
}

// truncateKey cuts s to MaxAnnotationKey bytes without splitting a rune.
func truncateKey(s string) string {
	if len(s) <= MaxAnnotationKey {
		return s
	}
	cut := MaxAnnotationKey
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// NewContent returns the m.new_content of an edit, if it is a JSON object.
func NewContent(content json.RawMessage) (json.RawMessage, bool) {
	fields, ok := objectFields(content)
	if !ok {
		return nil, false
	}
	nc, ok := fields["m.new_content"]
	if !ok || !isObject(nc) {
		return nil, false
	}
	return append(json.RawMessage(nil), nc...), true
}

// ValidEdit reports whether edit is a valid replacement of original
// (https://spec.matrix.org/v1.16/client-server-api/#validity-of-replacement-events). Invalid edits are ignored, not applied: anyone can send
// an m.replace pointing anywhere.
func ValidEdit(original, edit *Event) bool {
	if original == nil || edit == nil {
		return false
	}
	if original.RoomID != edit.RoomID || original.Sender != edit.Sender || original.Type != edit.Type {
		return false
	}
	if original.IsState() || edit.IsState() {
		return false
	}
	if ParseRelation(original.Content).Type == RelReplace {
		return false
	}
	if _, ok := NewContent(edit.Content); !ok {
		return false
	}
	rel := ParseRelation(edit.Content)
	return rel.Type == RelReplace && rel.EventID == original.ID && edit.ID != original.ID
}

// ApplyEdit returns the content shown for an edited event: newContent
// wholesale, except that m.relates_to is the original's (so an edited reply
// is still a reply) and never newContent's. Keys absent from newContent are
// gone. If newContent is not a JSON object the edit is meaningless and the
// original content is returned unchanged.
func ApplyEdit(original, newContent json.RawMessage) json.RawMessage {
	nc, ok := objectFields(newContent)
	if !ok {
		return append(json.RawMessage(nil), original...)
	}
	delete(nc, "m.relates_to")
	if orig, ok := objectFields(original); ok {
		if rel, ok := orig["m.relates_to"]; ok {
			nc["m.relates_to"] = rel
		}
	}
	out, err := encodeObject(nc)
	if err != nil {
		return append(json.RawMessage(nil), original...)
	}
	return out
}

// LatestEdit returns the edit to show: the highest origin_server_ts, and on
// a tie the lexicographically largest event ID, so that every reader picks
// the same one. It returns nil when edits holds no event. Callers filter with
// ValidEdit and drop redacted edits first.
func LatestEdit(edits []*Event) *Event {
	var best *Event
	for _, e := range edits {
		if e == nil {
			continue
		}
		if best == nil || e.OriginTS > best.OriginTS || (e.OriginTS == best.OriginTS && e.ID > best.ID) {
			best = e
		}
	}
	return best
}
