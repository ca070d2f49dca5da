package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// MaxEventSize is the largest event accepted, in bytes of JSON without its
// unsigned data (which the archive does not keep). The spec caps an event
// at 65,536 bytes in federation format; the client format we receive is of
// the same order, so anything much larger is hostile or broken.
const MaxEventSize = 96 * 1024

// MaxReceivedSize is the largest event accepted as received, its unsigned
// data included: a state event's unsigned.prev_content is the content it
// replaced, and unsigned.redacted_because a whole redaction event, so a
// legitimate 50 KiB state event (a large room's power levels) that
// replaces another comes from /messages and /sync at twice its size, and
// was refused.
const MaxReceivedSize = 4 * MaxEventSize

// ErrMalformed wraps every reason an event is rejected by Parse.
var ErrMalformed = errors.New("malformed event")

// Event is one Matrix event as the archive stores it. Content is the exact
// content bytes as received; Raw is the whole event minus "unsigned", which is
// per-recipient data the server rebuilds and must not be archived.
type Event struct {
	ID       id.EventID
	RoomID   id.RoomID
	Sender   id.UserID
	Type     string
	StateKey *string
	OriginTS int64 // milliseconds since the Unix epoch
	Content  json.RawMessage
	// Redacts is the top-level "redacts" of a pre-v11 m.room.redaction.
	Redacts id.EventID
	// RedactedBecause is unsigned.redacted_because when the source (for
	// example /messages) served the event already redacted; nil otherwise.
	RedactedBecause json.RawMessage
	Raw             json.RawMessage
}

// IsState reports whether the event is a state event.
func (e *Event) IsState() bool { return e.StateKey != nil }

// Parse validates one event in client-server format and returns it. Every
// error wraps ErrMalformed and names the offending field.
//
// Top-level keys are matched exactly and may not repeat. encoding/json's
// struct decoding matches keys case-insensitively and lets the last duplicate
// win, so {"event_id":"$a","EVENT_ID":"$b"} would yield ID "$b" while Raw (and
// any JSON query over it) says "$a"; the archive keys everything by these
// fields, so both must agree.
func Parse(raw []byte) (*Event, error) {
	if len(raw) > MaxReceivedSize {
		return nil, fmt.Errorf("%w: %d bytes, larger than the %d-byte limit of an event with its unsigned data", ErrMalformed, len(raw), MaxReceivedSize)
	}
	// json.Valid accepts bytes that are not UTF-8 (encoding/json decodes
	// them to U+FFFD), but PostgreSQL refuses them in text: kept, such an
	// event would fail every write it is part of. A lone surrogate escape
	// such as "\ud800" is left alone: it is ASCII in the stored JSON, and
	// every decoder reads it as U+FFFD.
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not valid UTF-8 (byte offset %d)", ErrMalformed, invalidUTF8At(raw))
	}
	var w topMembers
	if err := w.parse(raw); err != nil {
		return nil, err
	}
	if deeperThan(raw, MaxDepth) {
		return nil, fmt.Errorf("%w: nested deeper than %d levels", ErrMalformed, MaxDepth)
	}
	var e Event
	var err error
	var s string
	if s, err = requiredString("event_id", w.get("event_id"), 255); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(s, "$") || len(s) < 2 {
		return nil, fmt.Errorf("%w: event_id %q does not start with '$'", ErrMalformed, s)
	}
	e.ID = id.EventID(s)
	if s, err = requiredString("room_id", w.get("room_id"), 255); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(s, "!") || len(s) < 2 {
		return nil, fmt.Errorf("%w: room_id %q does not start with '!'", ErrMalformed, s)
	}
	e.RoomID = id.RoomID(s)
	if s, err = requiredString("sender", w.get("sender"), 255); err != nil {
		return nil, err
	}
	if _, _, perr := id.UserID(s).Parse(); perr != nil || !strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("%w: sender %q is not a user ID", ErrMalformed, s)
	}
	e.Sender = id.UserID(s)
	if e.Type, err = requiredString("type", w.get("type"), 255); err != nil {
		return nil, err
	}
	if e.Type == "" {
		return nil, fmt.Errorf("%w: type is empty", ErrMalformed)
	}
	if sk := w.get("state_key"); !isAbsent(sk) {
		key, err := requiredString("state_key", sk, 255)
		if err != nil {
			return nil, err
		}
		e.StateKey = &key
	}
	// null would otherwise decode to a silent zero timestamp.
	ts := w.get("origin_server_ts")
	if isAbsent(ts) {
		return nil, fmt.Errorf("%w: origin_server_ts is missing", ErrMalformed)
	}
	if err := decodeInt(ts, &e.OriginTS); err != nil || e.OriginTS < 0 {
		return nil, fmt.Errorf("%w: origin_server_ts %s is not a non-negative integer", ErrMalformed, truncate(ts))
	}
	content := w.get("content")
	if len(content) == 0 || !isObject(content) {
		return nil, fmt.Errorf("%w: content is missing or not an object", ErrMalformed)
	}
	e.Content = append(json.RawMessage(nil), content...)
	if r := w.get("redacts"); !isAbsent(r) {
		target, err := requiredString("redacts", r, 255)
		if err != nil {
			return nil, err
		}
		e.Redacts = id.EventID(target)
	}
	if rb := redactedBecause(w.get("unsigned")); rb != nil {
		e.RedactedBecause = append(json.RawMessage(nil), rb...)
	}
	e.Raw, err = withoutUnsigned(raw, &w)
	if err != nil {
		return nil, err
	}
	if len(e.Raw) > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes without its unsigned data, larger than the %d-byte limit", ErrMalformed, len(e.Raw), MaxEventSize)
	}
	return &e, nil
}

// topLevelFields splits an event into its top-level members, rejecting
// anything but a JSON object and any key that appears twice (after
// unescaping), which different JSON readers resolve differently.
//
// It validates once (validJSON, which is json.Valid) and then walks the
// bytes itself: the token-by-token json.Decoder was most of an import's
// parsing time.
func topLevelFields(raw []byte) (map[string]json.RawMessage, error) {
	if err := checkObject(raw); err != nil {
		return nil, err
	}
	fields := make(map[string]json.RawMessage, 10)
	if err := eachMember(raw, func(key string, v json.RawMessage) error {
		if _, dup := fields[key]; dup {
			return duplicateKey([]byte(key))
		}
		fields[key] = v
		return nil
	}); err != nil {
		return nil, err
	}
	return fields, nil
}

// checkObject is topLevelFields's judgement of raw as a whole: valid
// JSON, and an object.
func checkObject(raw []byte) error {
	if !validJSON(raw) {
		var probe any
		err := json.Unmarshal(raw, &probe)
		return fmt.Errorf("%w: not a JSON object: %v", ErrMalformed, err)
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	return nil
}

func duplicateKey(key []byte) error {
	return fmt.Errorf("%w: duplicate key %q", ErrMalformed, truncate(key))
}

// maxListedMembers is how many members topMembers lists before it keeps
// them in topLevelFields's map instead: events have about eight.
const maxListedMembers = 16

// topMembers is an event's top-level members as topLevelFields finds
// them (the same checks, the same errors), listed rather than in a map:
// making the map and its key strings was a quarter of Parse's CPU in an
// import of IRC lines, and the map a ninth of the import's allocations.
type topMembers struct {
	n    int
	keys [maxListedMembers][]byte
	vals [maxListedMembers]json.RawMessage
	// all is topLevelFields's map, for an event of more members than the
	// list holds.
	all map[string]json.RawMessage
}

// parse lists raw's members into m, or fails as topLevelFields fails.
func (m *topMembers) parse(raw []byte) error {
	if err := checkObject(raw); err != nil {
		return err
	}
	err := eachMemberBytes(raw, func(key []byte, v json.RawMessage) error {
		for _, k := range m.keys[:m.n] {
			if bytes.Equal(k, key) {
				return duplicateKey(key)
			}
		}
		if m.n == maxListedMembers {
			return errTooManyListed
		}
		m.keys[m.n], m.vals[m.n] = key, v
		m.n++
		return nil
	})
	if err == errTooManyListed {
		m.all, err = topLevelFields(raw)
	}
	return err
}

var errTooManyListed = errors.New("more members than topMembers lists")

// get is the member key's value, nil when there is none.
func (m *topMembers) get(key string) json.RawMessage {
	if m.all != nil {
		return m.all[key]
	}
	for i, k := range m.keys[:m.n] {
		if string(k) == key {
			return m.vals[i]
		}
	}
	return nil
}

// encodeEdited is the members, but drop's and with add's (when add is
// set), as encodeObject encodes them (keys sorted, values compacted):
// written out by encodePlain when it can, else through the map and
// encodeObject. add must not be a member that stays. size is the capacity
// to allocate.
func (m *topMembers) encodeEdited(drop, add string, addValue json.RawMessage, size int) (json.RawMessage, error) {
	if out, ok := m.encodePlain(drop, add, addValue, size); ok {
		return out, nil
	}
	f := maps.Clone(m.fields())
	if drop != "" {
		delete(f, drop)
	}
	if add != "" {
		f[add] = addValue
	}
	return encodeObject(f)
}

// encodePlain is encodeEdited's answer written out by hand: keys in order,
// each value compacted as encoding/json compacts a json.RawMessage
// (appendCompact: whitespace outside strings dropped, the rest as it is,
// HTML escaping off). ok is false when m keeps a map, or a key is one
// encoding/json would escape (anything but printable ASCII other than '"'
// and '\\'): a plain key is its own bytes, and sorts as its string.
func (m *topMembers) encodePlain(drop, add string, addValue json.RawMessage, size int) (json.RawMessage, bool) {
	if m.all != nil || !plainKey([]byte(add)) {
		return nil, false
	}
	type member struct{ key, value []byte }
	var list [maxListedMembers + 1]member
	n := 0
	insert := func(k, v []byte) {
		// Insertion sort: at most 17 members.
		j := n
		for ; j > 0 && bytes.Compare(list[j-1].key, k) > 0; j-- {
			list[j] = list[j-1]
		}
		list[j] = member{k, v}
		n++
	}
	for i, k := range m.keys[:m.n] {
		if drop != "" && string(k) == drop {
			continue
		}
		if !plainKey(k) {
			return nil, false
		}
		insert(k, m.vals[i])
	}
	if add != "" {
		insert([]byte(add), addValue)
	}
	out := make(json.RawMessage, 0, size)
	out = append(out, '{')
	for j, mb := range list[:n] {
		if j > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, mb.key...)
		out = append(out, '"', ':')
		out = appendCompact(out, mb.value)
	}
	return append(out, '}'), true
}

// plainKey says whether encoding/json writes k, a member's key, as its
// bytes between quotes: printable ASCII but '"' and '\\'.
func plainKey(k []byte) bool {
	for _, c := range k {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendCompact appends v, valid JSON, to dst without the whitespace
// outside its strings: what encoding/json's Compact (appendCompact
// without HTML escaping) makes of valid JSON, without its scanner's step
// a byte. A homeserver's JSON is compact already, and is copied whole.
func appendCompact(dst, v []byte) []byte {
	start, inString := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// fields is the members as topLevelFields's map.
func (m *topMembers) fields() map[string]json.RawMessage {
	if m.all != nil {
		return m.all
	}
	f := make(map[string]json.RawMessage, m.n)
	for i, k := range m.keys[:m.n] {
		f[string(k)] = m.vals[i]
	}
	return f
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

func requiredString(field string, v json.RawMessage, max int) (string, error) {
	if len(v) == 0 {
		return "", fmt.Errorf("%w: %s is missing", ErrMalformed, field)
	}
	s, err := decodeString(v)
	if err != nil {
		return "", fmt.Errorf("%w: %s %s is not a string", ErrMalformed, field, truncate(v))
	}
	if len(s) > max {
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrMalformed, field, max)
	}
	// These fields are the keys the archive stores and finds events by,
	// and PostgreSQL text cannot hold U+0000: stored as anything else, the
	// row would not be the event's.
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%w: %s contains U+0000", ErrMalformed, field)
	}
	return s, nil
}

// invalidUTF8At returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decodeInt is json.Unmarshal of v, valid JSON, into n: a number of
// digits alone (all timestamps) is read as the decoder reads it
// (strconv.ParseInt), without the decoder and its allocations.
func decodeInt(v []byte, n *int64) error {
	digits := len(v) > 0 && len(v) <= 19
	for _, c := range v {
		digits = digits && c >= '0' && c <= '9'
	}
	if !digits {
		return json.Unmarshal(v, n)
	}
	x, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return err
	}
	*n = x
	return nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// redactedBecause is unsigned's redacted_because if unsigned (a value of
// a checked event) and it are objects, else nil: the last of the key
// given twice, as a map keeps it, read from the bytes (lastMember). Events
// from a homeserver's /messages, backfill and transactions carry unsigned
// (their age), so a map here was one more an event.
func redactedBecause(unsigned json.RawMessage) json.RawMessage {
	if !isObject(unsigned) {
		return nil
	}
	if rb := lastMember(unsigned, "redacted_because"); isObject(rb) {
		return rb
	}
	return nil
}

// withoutUnsigned returns the event without its "unsigned" key. Events that
// have none keep their exact bytes; the others are re-encoded from their
// members as encodeObject encodes them (keys sorted, values compacted), by
// encodeEdited, which writes them out by hand when it can: every event
// from a homeserver carries its age in unsigned, and encoding/json's way
// through a map tripled Parse's cost.
func withoutUnsigned(raw []byte, w *topMembers) (json.RawMessage, error) {
	if w.get("unsigned") == nil {
		return append(json.RawMessage(nil), raw...), nil
	}
	out, err := w.encodeEdited("unsigned", "", nil, len(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return out, nil
}
