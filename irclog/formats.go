package irclog

import (
	"strings"
	"time"
)

// parseLimnoria reads Limnoria's ChannelLogger with its default
// timestamp: "2021-08-17T19:00:24  <nick> text", "… * nick waves",
// "… -nick- text", "… *** nick <user@host> has joined #chan".
func parseLimnoria(s string) Line {
	var l Line
	if len(s) < 21 || s[10] != 'T' || !isoDate(s[:10], &l) || !clock(s[11:19], &l) {
		return Line{}
	}
	rest := strings.TrimLeft(s[19:], " ")
	if marker, ok := strings.CutPrefix(rest, "*** "); ok {
		if !event(marker, &l) {
			return Line{}
		}
		return l
	}
	if message(rest, &l) || action(rest, &l) || notice(rest, &l) {
		return l
	}
	return Line{}
}

// parseIrssi reads irssi's default log: "19:00 <@nick> text",
// "19:00  * nick waves", "19:00 -!- nick [user@host] has joined #chan",
// "--- Log opened Tue Aug 17 19:00:00 2021", "--- Day changed Wed Aug 18 2021".
func parseIrssi(s string) Line {
	var l Line
	if rest, ok := strings.CutPrefix(s, "--- "); ok {
		switch {
		case strings.HasPrefix(rest, "Log opened "):
			// "Tue Aug 17 19:00:00 2021" (time.ANSIC without the padding rules)
			t, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimPrefix(rest, "Log opened "))
			if err != nil {
				return Line{}
			}
			l.Kind, l.Year, l.Month, l.Day = KindDate, t.Year(), t.Month(), t.Day()
			return l
		case strings.HasPrefix(rest, "Day changed "):
			t, err := time.Parse("Mon Jan _2 2006", strings.TrimPrefix(rest, "Day changed "))
			if err != nil {
				return Line{}
			}
			l.Kind, l.Year, l.Month, l.Day = KindDate, t.Year(), t.Month(), t.Day()
			return l
		case strings.HasPrefix(rest, "Log closed "):
			return Line{Kind: KindSkip}
		}
		return Line{}
	}
	stamp, rest, ok := strings.Cut(s, " ")
	if !ok || !clock(stamp, &l) {
		return Line{}
	}
	if m, ok := strings.CutPrefix(rest, "-!- "); ok {
		switch {
		case strings.HasPrefix(m, "mode/"), strings.HasPrefix(m, "Irssi: "), strings.HasPrefix(m, "ServerMode/"),
			strings.HasPrefix(m, "Netsplit "), strings.HasPrefix(m, "Netsplit over"):
			l.Kind = KindSkip
			return l
		}
		if rest, ok := strings.CutPrefix(m, "Topic unset by "); ok {
			// The default theme's topic_unset, "Topic unset by nick on
			// #chan": the topic cleared, as WeeChat's "has unset topic
			// for". It fitted no form, and an imported room kept the
			// topic that had been cleared.
			nick, channel, ok := strings.Cut(rest, " on ")
			if !ok || !validNick(nick) || channel == "" || !strings.ContainsRune("#&!+", rune(channel[0])) || strings.Contains(channel, " ") {
				return Line{}
			}
			l.Kind, l.Nick, l.Text = KindTopic, nick, ""
			return l
		}
		// irssi's "You're now known as nick" (your_nick_changed) is left
		// to fit no form: it does not say the old nick, which the
		// per-line readers do not know, and a nick change without it
		// would have no sender to leave.
		if !event(m, &l) {
			return Line{}
		}
		return l
	}
	if a, ok := strings.CutPrefix(rest, " * "); ok {
		rest = "* " + a
	}
	if message(rest, &l) || action(rest, &l) || notice(rest, &l) {
		return l
	}
	return Line{}
}

// parseWeeChat reads WeeChat's logger: "2021-08-17 19:00:24\tnick\ttext",
// with the prefixes "-->" (join), "<--" (part, quit, kick), "--" (nick,
// topic, mode, notices, client chatter) and " *" (action) in the nick column.
func parseWeeChat(s string) Line {
	var l Line
	if len(s) < 21 || s[10] != ' ' || s[19] != '\t' || !isoDate(s[:10], &l) || !clock(s[11:19], &l) {
		return Line{}
	}
	prefix, text, ok := strings.Cut(s[20:], "\t")
	if !ok {
		return Line{}
	}
	switch strings.TrimSpace(prefix) {
	case "-->", "<--":
		if event(text, &l) {
			return l
		}
		return Line{}
	case "--":
		if n, ok := strings.CutPrefix(text, "Notice("); ok {
			nick, msg, ok := strings.Cut(n, ")")
			if !ok || !validNick(nick) {
				return Line{}
			}
			_, msg, _ = strings.Cut(msg, ": ")
			l.Kind, l.Nick, l.Text = KindNotice, nick, msg
			return l
		}
		if event(text, &l) {
			return l
		}
		// Mode changes, "irc: …" status, "Channel … created on …" and the
		// like: WeeChat's own chatter.
		l.Kind = KindSkip
		return l
	case "*":
		if action("* "+text, &l) {
			return l
		}
		return Line{}
	case "=!=", "":
		l.Kind = KindSkip
		return l
	}
	nick := bareNick(prefix)
	if !validNick(nick) {
		return Line{}
	}
	l.Kind, l.Nick, l.Text = KindMessage, nick, text
	return l
}

// parseHexChat reads HexChat/XChat logs: "Aug 17 19:00:24 <nick>\ttext",
// "Aug 17 19:00:24 *\tnick waves", "… -nick-\ttext",
// "**** BEGIN LOGGING AT Tue Aug 17 19:00:00 2021".
func parseHexChat(s string) Line {
	var l Line
	if rest, ok := strings.CutPrefix(s, "**** "); ok {
		for _, p := range []string{"BEGIN LOGGING AT ", "ENDING LOGGING AT "} {
			if d, ok := strings.CutPrefix(rest, p); ok {
				t, err := time.Parse("Mon Jan _2 15:04:05 2006", d)
				if err != nil {
					return Line{}
				}
				l.Kind, l.Year, l.Month, l.Day = KindDate, t.Year(), t.Month(), t.Day()
				return l
			}
		}
		return Line{}
	}
	if len(s) < 16 {
		return Line{}
	}
	t, err := time.Parse("Jan _2", s[:6])
	if err != nil || s[6] != ' ' || !clock(s[7:15], &l) || s[15] != ' ' {
		return Line{}
	}
	l.Month, l.Day = t.Month(), t.Day()
	who, text, ok := strings.Cut(s[16:], "\t")
	if !ok {
		return Line{}
	}
	switch {
	case who == "*":
		if event(text, &l) {
			return l
		}
		if hexChatOwn(text) {
			l.Kind = KindSkip
			return l
		}
		if action("* "+text, &l) {
			return l
		}
		return Line{}
	case who == "-->" || who == "<--":
		if event(text, &l) {
			return l
		}
		if hexChatOwn(text) {
			l.Kind = KindSkip
			return l
		}
		return Line{}
	case who == "---" || who == "-":
		l.Kind = KindSkip
		return l
	case strings.HasPrefix(who, "<") && strings.HasSuffix(who, ">"):
		nick := bareNick(who[1 : len(who)-1])
		if !validNick(nick) {
			return Line{}
		}
		l.Kind, l.Nick, l.Text = KindMessage, nick, text
		return l
	case strings.HasPrefix(who, "-") && strings.HasSuffix(who, "-") && len(who) > 2:
		// "-nick-", and "-nick/#chan-" for a notice to the channel (no
		// nick holds a '/'): the bot's notices are its own lines.
		nick, _, _ := strings.Cut(who[1:len(who)-1], "/")
		if !validNick(nick) {
			return Line{}
		}
		l.Kind, l.Nick, l.Text = KindNotice, nick, text
		return l
	}
	return Line{}
}

// hexChatOwnLines are HexChat's and XChat's words about the logging client
// itself, which they write in a channel's tab, and so in its log, with the
// "*" of an action (XChat 2.8 and HexChat's default text events, "You
// Join", "Topic", "Topic Creation", "You Part", "You Kicked", "Users On
// Channel", "Channel Modes", "Channel Creation", the "Cannot join" ones)
// or older XChat's "-->" and "<--": a prefix, a channel, and what follows
// the channel ("" for anything).
var hexChatOwnLines = [...]struct{ prefix, after string }{
	{"Now talking on ", ""},
	{"You are now talking on ", ""},
	{"Topic for ", " is"}, // "is: topic", XChat's "is topic"
	{"Topic for ", " set by "},
	{"You have left channel ", ""},
	{"You have been kicked from ", " by "},
	{"You have been invited to ", " by "},
	{"Users on ", ": "},
	{"Channel ", " modes: "},
	{"Channel ", " created on "},
	{"Channel ", " url: "},
	{"Cannot join ", " ("},
}

// hexChatOwn reports whether text (after the "*", "-->" or "<--") is one
// of the client's lines about itself (hexChatOwnLines, its nick change,
// its disconnection): client chatter, where a /me of a user "Now",
// "Topic" or "You" was read.
func hexChatOwn(text string) bool {
	if nick, ok := strings.CutPrefix(text, "You are now known as "); ok {
		return validNick(nick)
	}
	if strings.HasPrefix(text, "Disconnected (") && strings.HasSuffix(text, ")") {
		return true
	}
	for _, o := range hexChatOwnLines {
		rest, ok := strings.CutPrefix(text, o.prefix)
		if !ok || rest == "" || !strings.ContainsRune("#&!+", rune(rest[0])) {
			continue
		}
		if i := strings.IndexAny(rest, " :"); i >= 0 { // no channel holds either
			rest = rest[i:]
		} else {
			rest = ""
		}
		if strings.HasPrefix(rest, o.after) {
			return true
		}
	}
	return false
}

// parseBracketed reads "[HH:MM:SS] <nick> text" (ZNC, seconds required)
// and "[HH:MM] <nick> text" (plain, minutes only), with the event lines of
// ZNC ("*** Joins: nick (user@host)") and of irclogs.ubuntu.com
// ("=== nick [user@host]  has joined #chan", untimed).
func parseBracketed(s string, seconds bool) Line {
	var l Line
	if rest, ok := strings.CutPrefix(s, "=== "); ok && !seconds {
		// Ubuntu's untimed lines: events, mode changes, topics, and
		// otherwise an action ("=== nick waves").
		switch {
		case strings.HasPrefix(rest, "mode/"):
			return Line{Kind: KindSkip}
		case strings.HasPrefix(rest, "..[topic/"):
			// "..[topic/#chan:nick] : topic"
			who, topic, ok := strings.Cut(rest[len("..[topic/"):], "] : ")
			if !ok {
				return Line{}
			}
			_, nick, ok := strings.Cut(who, ":")
			if !ok || !validNick(nick) {
				return Line{}
			}
			return Line{Kind: KindTopic, Nick: nick, Text: topic}
		}
		if event(rest, &l) {
			return l
		}
		if action("* "+rest, &l) {
			return l
		}
		return Line{}
	}
	if len(s) < 8 || s[0] != '[' {
		return Line{}
	}
	end := strings.IndexByte(s, ']')
	if end < 0 || !clock(s[1:end], &l) || (len(l.Stamp) == 8) != seconds {
		return Line{}
	}
	rest := strings.TrimPrefix(s[end+1:], " ")
	if m, ok := strings.CutPrefix(rest, "*** "); ok {
		if event(m, &l) {
			return l
		}
		return Line{}
	}
	if a, ok := strings.CutPrefix(rest, " * "); ok {
		rest = "* " + a
	}
	if message(rest, &l) || action(rest, &l) || notice(rest, &l) {
		return l
	}
	return Line{}
}
