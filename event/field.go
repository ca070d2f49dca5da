package event

import "encoding/json"

// StringField returns the string member key of a JSON object, or "" when
// obj is not an object or the member is absent or not a string. Content is
// untrusted: a wrong type reads as absent, never as an error or a panic.
func StringField(obj json.RawMessage, key string) string {
	m, ok := objectFields(obj)
	if !ok {
		return ""
	}
	return stringField(m, key)
}

// ContentOf returns the "content" member of a whole event's JSON, or {} when
// there is none. The store keeps each event's JSON once and reads its
// content from it.
func ContentOf(raw []byte) json.RawMessage {
	m, err := topLevelFields(raw)
	if err != nil || !isObject(m["content"]) {
		return emptyObject()
	}
	return m["content"]
}
