package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// objectFields decodes a JSON object into its members. It reports false for
// anything that is not an object (including null and invalid JSON), so that
// callers treat wrong-typed input as absent instead of failing.
func objectFields(raw []byte) (map[string]json.RawMessage, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// lastMember returns the value of obj's last member named key, as
// decoding obj into a map keeps it, or nil when there is none or obj is
// not an object. obj must be valid JSON.
func lastMember(obj []byte, key string) json.RawMessage {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	var found json.RawMessage
	i = skipSpace(obj, i+1)
	for i < len(obj) && obj[i] != '}' {
		end := stringEnd(obj, i)
		k := obj[i+1 : end-1]
		match := string(k) == key
		if !match && (bytes.IndexByte(k, '\\') >= 0 || !utf8.Valid(k)) {
			// An escaped key is the key it decodes to.
			var dec string
			match = json.Unmarshal(obj[i:end], &dec) == nil && dec == key
		}
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the ':'
		vend := valueEnd(obj, i)
		if match {
			found = obj[i:vend:vend]
		}
		i = skipSpace(obj, vend)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return found
}

// isObject reports whether an already-validated JSON value is an object.
func isObject(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

// isAbsent reports whether an optional JSON value was not given at all.
func isAbsent(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || bytes.Equal(v, []byte("null"))
}

// stringField returns m[key] if it is a JSON string, else "".
func stringField(m map[string]json.RawMessage, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return ""
	}
	return s
}

// emptyObject returns a fresh "{}": a shared slice could be mutated by one
// caller under another's feet.
func emptyObject() json.RawMessage { return json.RawMessage("{}") }

// encodeObject encodes members with sorted keys. HTML escaping is off so that
// "<" in a message body stays "<" rather than turning into "\u003c": the
// archive stores these bytes and they should read like what was sent.
func encodeObject(m map[string]json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode JSON object: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
