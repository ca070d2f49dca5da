package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// objectFields decodes a JSON object into its members, as json.Unmarshal
// into a map does (a key named twice keeps its last value; each value is
// a slice of raw, not a copy). It reports false for anything that is not
// an object (including null and invalid JSON), so that callers treat
// wrong-typed input as absent instead of failing. The bytes are checked
// (validJSON) and walked here: encoding/json's decoder was a tenth of an
// import's CPU, reading relations and media references.
func objectFields(raw []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' || !validJSON(raw) {
		return nil, false
	}
	m := make(map[string]json.RawMessage, 8)
	if err := eachMember(raw, func(key string, v json.RawMessage) error {
		m[key] = v
		return nil
	}); err != nil {
		return nil, false
	}
	return m, true
}

// eachMember calls f with each member of the object raw, which must be
// valid JSON and an object, in order: its key as encoding/json decodes
// it (escapes, invalid UTF-8 as U+FFFD) and its value's bytes (capacity
// cut to them). It stops at f's first error.
func eachMember(raw []byte, f func(key string, v json.RawMessage) error) error {
	return eachMemberBytes(raw, func(key []byte, v json.RawMessage) error { return f(string(key), v) })
}

// eachMemberBytes is eachMember with the key as bytes: a plain key's own,
// in raw (no copy), or a decoded one's. f must not keep or change them.
func eachMemberBytes(raw []byte, f func(key []byte, v json.RawMessage) error) error {
	i := skipSpace(raw, skipSpace(raw, 0)+1)
	for i < len(raw) && raw[i] != '}' {
		// raw is valid JSON, so here is a string key, ':', a value, then
		// ',' or '}'.
		end := stringEnd(raw, i)
		key := raw[i+1 : end-1]
		// Escapes and invalid UTF-8 need the real decoder; plain keys are
		// their bytes.
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			var dec string
			if err := json.Unmarshal(raw[i:end], &dec); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			key = []byte(dec)
		}
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // the ':'
		vend := valueEnd(raw, i)
		if err := f(key, raw[i:vend:vend]); err != nil {
			return err
		}
		i = skipSpace(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return nil
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

// memberString is StringField of obj, valid JSON, without checking it
// again: its last member key if that is a JSON string, else "".
func memberString(obj json.RawMessage, key string) string {
	v := lastMember(obj, key)
	if len(v) == 0 || v[0] != '"' {
		return "" // absent, not an object, or not a string
	}
	s, err := decodeString(v)
	if err != nil {
		return ""
	}
	return s
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
	s, err := decodeString(v)
	if err != nil {
		return ""
	}
	return s
}

// decodeString is json.Unmarshal of v into a string: the same string and
// an error where it has one (null is "" and no error). A string without
// escapes, control bytes or invalid UTF-8, as nearly all are, is its
// bytes, taken without the decoder: an import decoded every event's ID,
// room, sender and type with it. One with escapes (a Markdown message's
// line feeds, its HTML's quotes) is unescaped here too (unescape):
// through the decoder it was a tenth of a day page of such messages.
func decodeString(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		in := v[1 : len(v)-1]
		if plainString(in) {
			return string(in), nil
		}
		if s, ok := unescape(in); ok {
			return s, nil
		}
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

// unescape decodes the inside of a JSON string as encoding/json does: the
// escapes, and a \u escape of half a UTF-16 surrogate pair not followed by
// the other half as U+FFFD. ok is false where it leaves the answer to
// encoding/json: an unescaped '"' or control byte, an invalid escape,
// invalid UTF-8 (which the decoder replaces byte by byte).
func unescape(in []byte) (s string, ok bool) {
	if !utf8.Valid(in) {
		return "", false
	}
	b := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		j := bytes.IndexByte(in[i:], '\\')
		if j < 0 {
			j = len(in) - i
		}
		for _, c := range in[i : i+j] {
			if c == '"' || c < 0x20 {
				return "", false
			}
		}
		b = append(b, in[i:i+j]...)
		i += j
		if i == len(in) {
			break
		}
		if i+1 == len(in) {
			return "", false
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(in[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if len(in) >= i+2 && in[i] == '\\' && in[i+1] == 'u' {
					r2, ok := hex4(in[i+2:])
					if !ok {
						return "", false
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						i += 6
						continue
					}
				}
			}
			// A half of a pair alone is written as U+FFFD.
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(b), true
}

// hex4 reads the four hex digits of a \u escape at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// plainString reports whether b, the inside of a JSON string, has no '"',
// '\\', control byte or invalid UTF-8: then it decodes to its bytes.
func plainString(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if specialBytes(binary.LittleEndian.Uint64(b[i:])) != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
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
