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
