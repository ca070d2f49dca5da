package event

import (
	"encoding/binary"
	"math/bits"
)

// validJSON is json.Valid (TestValidJSONAsStdlib, FuzzValidJSONAsStdlib),
// for the store's reads: every event read checks its JSON before taking
// its content, and encoding/json's scanner, a function call per byte,
// cost a day page of 500 events more than all its other JSON work.
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// maxJSONDepth is encoding/json's nesting bound: deeper input is invalid.
const maxJSONDepth = 10000

// MaxDepth is how deeply an event's JSON may nest arrays and objects (the
// event object is level 1); Parse refuses a deeper one. Matrix's own
// events nest a handful of levels (a poll's answers, an edit's
// m.new_content: under ten), and Synapse's JSON reader stops near 1,000;
// encoding/json's 10,000 would let one event fill a wrapper's whole
// bound, so that a transaction, a /messages page or a /sync response
// holding it could not be decoded at all (ingest's leaveOutDeep).
const MaxDepth = 512

// deeperThan reports whether b, valid JSON, nests arrays and objects more
// than n levels deep.
func deeperThan(b []byte, n int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _ := validString(b, i)
			i = end - 1
		case '[', '{':
			if depth++; depth > n {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// validValue checks the value at b[i], inside depth arrays and objects,
// and returns the index just past it.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth+1 > maxJSONDepth {
			return i, false
		}
		return validContainer(b, i, depth+1)
	case c == '"':
		return validString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

// validContainer checks the object or array opening at b[i], at depth.
func validContainer(b []byte, i, depth int) (int, bool) {
	object := b[i] == '{'
	end := byte(']')
	if object {
		end = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == end {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = validString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
		if i, ok = validValue(b, i, depth); !ok {
			return i, false
		}
		i = skipSpace(b, i)
		switch {
		case i >= len(b):
			return i, false
		case b[i] == end:
			return i + 1, true
		case b[i] != ',':
			return i, false
		}
		i = skipSpace(b, i+1)
	}
}

// validString checks the string opening at b[i]: escapes as JSON has
// them, no control characters; any other byte (invalid UTF-8 too) is
// accepted, as encoding/json accepts it.
func validString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		// A message's text is most of its event's bytes, and a byte
		// at a time was half of reading a day's events (store.DayPage):
		// eight bytes are looked at once, up to the first that needs
		// a look.
		for j+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c == '\\':
			if j+1 >= len(b) {
				return j, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(b) || !isHexDigit(b[j+2]) || !isHexDigit(b[j+3]) || !isHexDigit(b[j+4]) || !isHexDigit(b[j+5]) {
					return j, false
				}
				j += 5
			default:
				return j, false
			}
		}
	}
	return len(b), false
}

// specialBytes marks, in the high bit of each byte's place, the bytes of
// x (eight bytes of a string, the first in the low byte) that end a JSON
// string or need a look: '"', '\\', a control character. These are the
// tests of "Bit Twiddling Hacks" (haszero, hasless): a borrow can mark a
// byte after a marked one, never one before, so the lowest mark is exact.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^'"'*ones, x^'\\'*ones
	return ((x-0x20*ones) & ^x | (q-ones) & ^q | (bs-ones) & ^bs) & highs
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validNumber checks the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
