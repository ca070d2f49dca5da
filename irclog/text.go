package irclog

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// cp1252 maps the bytes 0x80–0x9F where Windows-1252 differs from Latin-1
// (whose bytes there are C1 controls no log means); 0 marks the five bytes
// Windows-1252 leaves undefined.
var cp1252 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// utf8BOM is U+FEFF, the byte order mark, in UTF-8.
var utf8BOM = []byte("\uFEFF")

// Decode returns a raw log line as text: UTF-8 if it is valid UTF-8,
// otherwise Windows-1252/Latin-1, decided per line because logs that lived
// through a client's move to UTF-8 mix both. A UTF-8 line whose last
// character was cut short (cutUTF8) stays UTF-8, that character replaced
// by U+FFFD. It also drops the line end and mIRC formatting codes, and a
// byte order mark before it: an editor saving a log as "UTF-8 with BOM"
// puts one before its first line, which then fit no known form (irssi's
// dated "Log opened" line, and with it every line after).
func Decode(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	b = bytes.TrimPrefix(b, utf8BOM)
	var s string
	if utf8.Valid(b) {
		s = string(b)
	} else if n, ok := cutUTF8(b); ok {
		s = string(b[:n]) + string(utf8.RuneError)
	} else {
		var sb strings.Builder
		sb.Grow(len(b) + 8)
		for _, c := range b {
			switch {
			case c < 0x80:
				sb.WriteByte(c)
			case c < 0xa0:
				// The five bytes Windows-1252 leaves undefined would be C1
				// controls in Latin-1, which nothing writes on purpose.
				if r := cp1252[c-0x80]; r != 0 {
					sb.WriteRune(r)
				}
			default:
				sb.WriteRune(rune(c))
			}
		}
		s = sb.String()
	}
	return StripFormatting(s)
}

// cutUTF8 reports whether b is UTF-8 whose last character was cut short,
// as an IRC server cuts a message at 512 bytes on the wire, and where the
// cut character begins: b is valid UTF-8 up to an incomplete sequence at
// its end, and holds at least cutEvidence whole multi-byte sequences
// before it. Read as Windows-1252, one broken character made mojibake of
// the whole line ("Ð¿Ñ€Ð¸Ð²ÐµÑ‚" for "привет"). A Latin-1 line that ends
// in a byte that could begin a sequence ("caf\xe9") has no multi-byte
// sequence before it, and stays Windows-1252.
func cutUTF8(b []byte) (int, bool) {
	// The cut sequence's lead byte is one of the last UTFMax-1 bytes.
	for i := len(b) - 1; i >= 0 && i >= len(b)-(utf8.UTFMax-1); i-- {
		if !utf8.RuneStart(b[i]) {
			continue // a continuation byte: the lead is further back
		}
		// FullRune is false only for a valid sequence's beginning (an
		// invalid byte counts as a whole rune, an error).
		if b[i] < utf8.RuneSelf || utf8.FullRune(b[i:]) {
			return 0, false
		}
		head := b[:i]
		if !utf8.Valid(head) {
			return 0, false
		}
		n := 0
		for _, c := range head {
			// Valid, so a byte from 0xC0 up is the lead of a multi-byte
			// sequence.
			if c >= 0xc0 {
				if n++; n == cutEvidence {
					return i, true
				}
			}
		}
		return 0, false
	}
	return 0, false
}

// cutEvidence is how many whole multi-byte sequences a line must hold
// before an incomplete one at its end to be read as UTF-8 cut short. One
// was taken as enough, and a Windows-1252 line whose accented letters
// happen to pair into UTF-8 and that ends in one that could begin a
// sequence ("Spa\xdf\x85 und Gru\xdf", Spaß… und Gruß: ß… is also the
// UTF-8 of U+07C5) was read as UTF-8, mojibake with its last letter lost.
// Two such pairs in a line are rare, three rarer still; a real cut
// happens at the 512-byte limit, on a long line of a non-Latin script,
// which has many.
const cutEvidence = 3

// StripFormatting removes mIRC formatting: bold (^B), italics (^]),
// underline (^_), strike-through (^^), monospace (^Q), reverse (^V), reset
// (^O), colours (^C with up to two foreground and background digits) and
// hex colours (^D), and any other control character but the tab, which
// the web would show as nothing or as a box.
func StripFormatting(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x03: // ^C[fg[,bg]]
			i += colourDigits(s[i+1:], isDigit, 2)
		case c == 0x04: // ^D[RRGGBB[,RRGGBB]]
			i += colourDigits(s[i+1:], isHex, 6)
		case c < 0x20 && c != '\t' || c == 0x7f:
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// colourDigits returns how many bytes of s after a colour code belong to
// it: up to max digits, then optionally a comma and up to max more (the
// comma only if a digit follows it, as mIRC reads it).
func colourDigits(s string, ok func(byte) bool, max int) int {
	n := 0
	for n < len(s) && n < max && ok(s[n]) {
		n++
	}
	if n == 0 {
		return 0
	}
	if n < len(s)-1 && s[n] == ',' && ok(s[n+1]) {
		m := 1
		for n+m < len(s) && m <= max && ok(s[n+m]) {
			m++
		}
		n += m
	}
	return n
}
