package irclog

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is a log format the package reads.
type Format string

// The formats, in the order detection tries them (a tie goes to the first).
const (
	Limnoria Format = "limnoria" // Supybot/Limnoria ChannelLogger (OpenDev eavesdrop)
	Irssi    Format = "irssi"
	WeeChat  Format = "weechat"
	HexChat  Format = "hexchat" // HexChat and XChat
	ZNC      Format = "znc"     // ZNC's log module: [HH:MM:SS], date from the file name
	Plain    Format = "plain"   // [HH:MM] <nick> text (irclogs.ubuntu.com), date from the file name
)

// Formats lists every format, in detection order.
var Formats = []Format{Limnoria, Irssi, WeeChat, HexChat, ZNC, Plain}

// Kind says what a line is.
type Kind int

// The kinds of line.
const (
	KindNone    Kind = iota // fits the format nowhere
	KindSkip                // understood and dropped on purpose: mode changes, client chatter
	KindDate                // sets the date of the lines after it (irssi, HexChat)
	KindMessage             // <nick> text
	KindAction              // * nick text
	KindNotice              // -nick- text
	KindJoin
	KindPart
	KindQuit
	KindKick  // Nick kicked Target, Text the reason
	KindNick  // Nick is now known as Target
	KindTopic // Nick set the topic to Text
)

// Line is one parsed line. Times are as written, in the log's own zone.
type Line struct {
	Kind Kind
	// Stamp is the time of day as written ("19:00", "19:00:24"); empty when
	// the line has none (it then shares the previous line's).
	Stamp        string
	Hour, Minute int
	Second       int
	// Year, Month, Day are set when the line carries a date; Year is 0 when
	// it carries a month and day only (HexChat).
	Year  int
	Month time.Month
	Day   int
	Nick  string
	// Text is the message, the reason of a part, quit or kick, or the topic.
	Text string
	// Target is the kicked nick or the new nick.
	Target string
}

// HasDate reports whether the line says its day.
func (l Line) HasDate() bool { return l.Day != 0 }

// ErrUnknownFormat is returned for a file whose lines fit no format.
var ErrUnknownFormat = errors.New("not an IRC log in any known format")

// Parse reads one line (already decoded and stripped of control codes) in
// format f.
func Parse(f Format, s string) Line {
	s = strings.TrimRight(s, "\r\n")
	switch f {
	case Limnoria:
		return parseLimnoria(s)
	case Irssi:
		return parseIrssi(s)
	case WeeChat:
		return parseWeeChat(s)
	case HexChat:
		return parseHexChat(s)
	case ZNC:
		return parseBracketed(s, true)
	case Plain:
		return parseBracketed(s, false)
	}
	return Line{}
}

// sampleLines is how many non-empty lines detection reads.
const sampleLines = 50

// Detect tells the format of a file from its first lines: each format
// scores the lines it understands, dated lines count double for the
// formats that carry a date in every line (a date is the strongest sign),
// and the best score wins if it covers at least half of the sample.
func Detect(lines []string) (Format, error) {
	var sample []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			sample = append(sample, l)
			if len(sample) == sampleLines {
				break
			}
		}
	}
	if len(sample) == 0 {
		return "", fmt.Errorf("%w: the file has no lines (tried %s)", ErrUnknownFormat, formatList())
	}
	best, bestScore := Format(""), 0
	for _, f := range Formats {
		score := 0
		for _, l := range sample {
			if Parse(f, l).Kind != KindNone {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = f, score
		}
	}
	if bestScore*2 < len(sample) {
		return "", fmt.Errorf("%w (tried %s; %d of the first %d lines fit the closest)", ErrUnknownFormat, formatList(), bestScore, len(sample))
	}
	return best, nil
}

func formatList() string {
	s := make([]string, len(Formats))
	for i, f := range Formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// digits parses s as a decimal number of exactly n digits.
func digits(s string, n int) (int, bool) {
	if len(s) != n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// clock parses "HH:MM" or "HH:MM:SS" into l.
func clock(s string, l *Line) bool {
	var ok1, ok2, ok3 bool
	switch len(s) {
	case 5:
		l.Hour, ok1 = digits(s[0:2], 2)
		l.Minute, ok2 = digits(s[3:5], 2)
		ok3 = true
	case 8:
		l.Hour, ok1 = digits(s[0:2], 2)
		l.Minute, ok2 = digits(s[3:5], 2)
		l.Second, ok3 = digits(s[6:8], 2)
		ok3 = ok3 && s[5] == ':' && l.Second < 61
	default:
		return false
	}
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || l.Hour > 23 || l.Minute > 59 {
		return false
	}
	l.Stamp = s
	return true
}

// isoDate parses "YYYY-MM-DD" into l.
func isoDate(s string, l *Line) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digits(s[0:4], 4)
	m, ok2 := digits(s[5:7], 2)
	d, ok3 := digits(s[8:10], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return false
	}
	l.Year, l.Month, l.Day = y, time.Month(m), d
	return true
}

// validNick reports whether s can be an IRC nick (loosely: servers differ,
// so anything without spaces, brackets of the log's own syntax or control
// characters, at most 32 bytes: no network's NICKLEN is longer, and so a
// sender ID stays within the spec's 255 bytes whatever the nick escapes to).
func validNick(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '<' || r == '>' || r == 0x7f {
			return false
		}
	}
	return true
}

// bareNick removes the channel-mode prefix clients write before a nick
// (irssi "<@nick>", "< nick>", WeeChat "@nick").
func bareNick(s string) string {
	return strings.TrimLeft(s, "@+%&~ ")
}

// message parses "<nick> text".
func message(s string, l *Line) bool {
	if !strings.HasPrefix(s, "<") {
		return false
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return false
	}
	// Spaces inside the brackets are not part of the nick (IRC nicks have
	// none): some logs, like irclogs.ubuntu.com's, write "<bur[n] er>".
	nick := strings.ReplaceAll(bareNick(s[1:end]), " ", "")
	if !validNick(nick) {
		return false
	}
	l.Kind, l.Nick = KindMessage, nick
	l.Text = strings.TrimPrefix(s[end+1:], " ")
	return true
}

// action parses "* nick text".
func action(s string, l *Line) bool {
	rest, ok := strings.CutPrefix(s, "* ")
	if !ok {
		return false
	}
	nick, text, _ := strings.Cut(rest, " ")
	if !validNick(nick) {
		return false
	}
	l.Kind, l.Nick, l.Text = KindAction, nick, text
	return true
}

// notice parses "-nick- text", "-nick:#chan- text" and irssi's
// "-nick(user@host)- text".
func notice(s string, l *Line) bool {
	if !strings.HasPrefix(s, "-") || strings.HasPrefix(s, "-!-") {
		return false
	}
	end := strings.Index(s, "- ")
	if end < 1 {
		return false
	}
	nick := s[1:end]
	if i := strings.IndexAny(nick, ":("); i > 0 {
		nick = nick[:i]
	}
	if !validNick(nick) {
		return false
	}
	l.Kind, l.Nick, l.Text = KindNotice, nick, s[end+2:]
	return true
}

// enclosed returns the text inside a trailing bracketed reason, such as
// "(Quit: bye)" or "[Leaving]", without the brackets.
func enclosed(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '(' && s[len(s)-1] == ')' || s[0] == '[' && s[len(s)-1] == ']' ||
		s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// skipHost removes a leading "[user@host]", "(user@host)" or "<user@host>"
// (with the spaces around it) from s.
func skipHost(s string) string {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return s
	}
	var closing byte
	switch s[0] {
	case '[':
		closing = ']'
	case '(':
		closing = ')'
	case '<':
		closing = '>'
	default:
		return s
	}
	end := strings.IndexByte(s, closing)
	if end < 0 || !strings.Contains(s[:end], "@") {
		return s
	}
	return strings.TrimLeft(s[end+1:], " ")
}

// eventTail reports whether s can follow a join, part or quit: nothing,
// a channel, or a reason in brackets.
func eventTail(s string) bool {
	return s == "" || strings.ContainsRune("#&!+([", rune(s[0]))
}

// event parses the text of a join/part/quit/nick/kick/topic line as the
// clients word it (after their marker: "***", "-!-", "===", "*\t", "-->",
// "<--", "--"). It returns false for what it does not know.
func event(s string, l *Line) bool {
	// ZNC: "Joins: nick (user@host)", "Parts: nick (user@host) (reason)",
	// "Quits: nick (user@host) (reason)".
	for _, p := range []struct {
		prefix string
		kind   Kind
	}{{"Joins: ", KindJoin}, {"Parts: ", KindPart}, {"Quits: ", KindQuit}} {
		if rest, ok := strings.CutPrefix(s, p.prefix); ok {
			nick, rest, _ := strings.Cut(rest, " ")
			if !validNick(nick) {
				return false
			}
			l.Kind, l.Nick = p.kind, nick
			if p.kind != KindJoin {
				l.Text = enclosed(skipHost(rest))
			}
			return true
		}
	}
	nick, rest, ok := strings.Cut(s, " ")
	if !ok || !validNick(nick) {
		return false
	}
	rest = skipHost(rest)
	// What follows a join, part or quit is a channel, a reason in
	// brackets, or nothing (eventTail): "bob has quit smoking", "bob has
	// joined the team" and "bob left the building" are /me lines, which
	// were read as bob leaving, with the reason "smoking", or joining.
	switch {
	case rest == "entered the room." || rest == "entered the room":
		// Pidgin and Adium: "Nick entered the room."
		l.Kind, l.Nick = KindJoin, nick
	case strings.HasPrefix(rest, "left the room") && eventTail(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(rest, "left the room"), "."))):
		// Pidgin and Adium: "Nick left the room (quit: reason)." for a
		// quit, "Nick left the room." or with "(reason)" for a part.
		after := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(rest, "left the room"), "."))
		l.Kind, l.Nick = KindPart, nick
		if r, ok := strings.CutPrefix(after, "(quit: "); ok {
			l.Kind, after = KindQuit, "("+r
		}
		l.Text = enclosed(after)
	case (strings.HasPrefix(rest, "has joined ") || strings.HasPrefix(rest, "joined ") || rest == "has joined") &&
		eventTail(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(rest, "has "), "joined"))):
		l.Kind, l.Nick = KindJoin, nick
	case (strings.HasPrefix(rest, "has left ") || strings.HasPrefix(rest, "left ") || rest == "has left" ||
		strings.HasPrefix(rest, "has parted ")) && // older Supybot
		eventTail(strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(rest, "has "), "left"), "parted"), " ")):
		l.Kind, l.Nick = KindPart, nick
		// "has left #chan [reason]" / "(reason)"
		after := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(rest, "has "), "left"), "parted")
		after = strings.TrimLeft(after, " ")
		if after != "" && (after[0] == '#' || after[0] == '&') {
			_, after, _ = strings.Cut(after, " ")
		}
		l.Text = enclosed(after)
	case (strings.HasPrefix(rest, "has quit") || strings.HasPrefix(rest, "quit ") || rest == "quit") &&
		eventTail(strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(rest, "has "), "quit"), " IRC"), " :")):
		l.Kind, l.Nick = KindQuit, nick
		after := strings.TrimPrefix(strings.TrimPrefix(rest, "has "), "quit")
		after = strings.TrimPrefix(after, " IRC")
		l.Text = enclosed(after)
	case strings.HasPrefix(rest, "is now known as "):
		target := strings.TrimSpace(strings.TrimPrefix(rest, "is now known as "))
		if !validNick(target) {
			return false
		}
		l.Kind, l.Nick, l.Target = KindNick, nick, target
	case strings.HasPrefix(rest, "was kicked "):
		// irssi "was kicked from #chan by kicker [reason]", Limnoria/ZNC
		// "was kicked by kicker (reason)", Ubuntu "was kicked off #chan by kicker (reason)".
		// The channel is one word, skipped whole: cut at the first "by ",
		// a kick in #ruby or #lobby was one by a user "by".
		after := strings.TrimPrefix(rest, "was kicked ")
		if r, ok := strings.CutPrefix(after, "from "); ok {
			_, after, _ = strings.Cut(r, " ")
		} else if r, ok := strings.CutPrefix(after, "off "); ok {
			_, after, _ = strings.Cut(r, " ")
		}
		after, ok := strings.CutPrefix(after, "by ")
		if !ok {
			return false
		}
		kicker, reason, _ := strings.Cut(after, " ")
		if !validNick(kicker) {
			return false
		}
		l.Kind, l.Nick, l.Target, l.Text = KindKick, kicker, nick, enclosed(reason)
	case strings.HasPrefix(rest, "has kicked "):
		// HexChat "kicker has kicked victim from #chan (reason)", WeeChat
		// "kicker has kicked victim (reason)".
		after := strings.TrimPrefix(rest, "has kicked ")
		victim, reason, _ := strings.Cut(after, " ")
		if !validNick(victim) {
			return false
		}
		if r, ok := strings.CutPrefix(reason, "from "); ok {
			_, reason, _ = strings.Cut(r, " ")
		}
		l.Kind, l.Nick, l.Target, l.Text = KindKick, nick, victim, enclosed(reason)
	case strings.HasPrefix(rest, "changes topic to "):
		l.Kind, l.Nick, l.Text = KindTopic, nick, enclosed(strings.TrimPrefix(rest, "changes topic to "))
	case strings.HasPrefix(rest, "changed the topic of "):
		// irssi "changed the topic of #chan to: topic"
		_, topic, ok := strings.Cut(rest, " to: ")
		if !ok {
			_, topic, ok = strings.Cut(rest, " to:")
			if !ok {
				return false
			}
		}
		l.Kind, l.Nick, l.Text = KindTopic, nick, topic
	case strings.HasPrefix(rest, "has changed the topic to: "):
		l.Kind, l.Nick, l.Text = KindTopic, nick, strings.TrimPrefix(rest, "has changed the topic to: ")
	case strings.HasPrefix(rest, "has changed topic for "):
		// WeeChat: `has changed topic for #chan from "old" to "new"` or `to "new"`.
		i := strings.LastIndex(rest, ` to "`)
		if i < 0 {
			return false
		}
		l.Kind, l.Nick, l.Text = KindTopic, nick, enclosed(rest[i+4:])
	case strings.HasPrefix(rest, "has unset topic for "):
		l.Kind, l.Nick, l.Text = KindTopic, nick, ""
	case strings.HasPrefix(rest, "sets mode"), strings.HasPrefix(rest, "gives "), strings.HasPrefix(rest, "removes "),
		strings.HasPrefix(rest, "sets ban"), strings.HasPrefix(rest, "removes ban"):
		l.Kind = KindSkip
	default:
		return false
	}
	return true
}
