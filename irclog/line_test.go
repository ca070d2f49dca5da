package irclog

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	type want = Line
	tests := []struct {
		name   string
		format Format
		line   string
		want   Line
	}{
		// Limnoria ChannelLogger (OpenDev eavesdrop)
		{"limnoria message", Limnoria, "2021-08-17T19:00:24  <corvus> zuul is happy", want{Kind: KindMessage, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "corvus", Text: "zuul is happy"}},
		{"limnoria action", Limnoria, "2021-08-17T19:00:25  * fungi waves", want{Kind: KindAction, Stamp: "19:00:25", Hour: 19, Second: 25, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Text: "waves"}},
		{"limnoria notice", Limnoria, "2021-08-17T19:00:26  -openstackgerrit- change merged", want{Kind: KindNotice, Stamp: "19:00:26", Hour: 19, Second: 26, Year: 2021, Month: 8, Day: 17, Nick: "openstackgerrit", Text: "change merged"}},
		{"limnoria join", Limnoria, "2021-08-17T19:01:00  *** clarkb <~clarkb@198.51.100.7> has joined #opendev", want{Kind: KindJoin, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb"}},
		{"limnoria part", Limnoria, "2021-08-17T19:01:00  *** clarkb <~clarkb@198.51.100.7> has left #opendev (bye now)", want{Kind: KindPart, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Text: "bye now"}},
		{"limnoria quit", Limnoria, "2021-08-17T19:01:00  *** clarkb <~clarkb@198.51.100.7> has quit IRC (Quit: ZNC - https://znc.in)", want{Kind: KindQuit, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Text: "Quit: ZNC - https://znc.in"}},
		{"limnoria kick without reason", Limnoria, "2021-08-17T19:01:00  *** spammer was kicked by fungi", want{Kind: KindKick, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Target: "spammer"}},
		{"limnoria hostmask prefix", Limnoria, "2021-08-17T19:01:00  *** clarkb <clarkb!~clarkb@198.51.100.7> has quit IRC", want{Kind: KindQuit, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb"}},
		{"supybot parted", Limnoria, "2021-08-17T19:01:00  *** clarkb has parted #opendev (bye)", want{Kind: KindPart, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Text: "bye"}},
		{"limnoria nick", Limnoria, "2021-08-17T19:01:00  *** clarkb is now known as clarkb_", want{Kind: KindNick, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Target: "clarkb_"}},
		{"limnoria kick", Limnoria, "2021-08-17T19:01:00  *** spammer was kicked by fungi (spam)", want{Kind: KindKick, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Target: "spammer", Text: "spam"}},
		{"limnoria topic", Limnoria, `2021-08-17T19:01:00  *** fungi changes topic to "OpenDev | https://opendev.org"`, want{Kind: KindTopic, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Text: "OpenDev | https://opendev.org"}},
		{"limnoria mode", Limnoria, "2021-08-17T19:01:00  *** ChanServ sets mode: +o fungi", want{Kind: KindSkip, Stamp: "19:01:00", Hour: 19, Minute: 1, Year: 2021, Month: 8, Day: 17}},
		{"limnoria bad date", Limnoria, "2021-13-17T19:00:24  <corvus> hi", want{}},
		{"limnoria not a log", Limnoria, "hello world", want{}},

		// irssi
		{"irssi log opened", Irssi, "--- Log opened Tue Aug 17 19:00:00 2021", want{Kind: KindDate, Year: 2021, Month: 8, Day: 17}},
		{"irssi day changed", Irssi, "--- Day changed Wed Aug 18 2021", want{Kind: KindDate, Year: 2021, Month: 8, Day: 18}},
		{"irssi log closed", Irssi, "--- Log closed Wed Aug 18 01:00:00 2021", want{Kind: KindSkip}},
		{"irssi op message", Irssi, "19:00 <@fungi> hello", want{Kind: KindMessage, Stamp: "19:00", Hour: 19, Nick: "fungi", Text: "hello"}},
		{"irssi plain message", Irssi, "19:00 < corvus> <b>not html</b>", want{Kind: KindMessage, Stamp: "19:00", Hour: 19, Nick: "corvus", Text: "<b>not html</b>"}},
		{"irssi action", Irssi, "19:00  * fungi waves", want{Kind: KindAction, Stamp: "19:00", Hour: 19, Nick: "fungi", Text: "waves"}},
		{"irssi join", Irssi, "19:01 -!- clarkb [~clarkb@198.51.100.7] has joined #opendev", want{Kind: KindJoin, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "clarkb"}},
		{"irssi part", Irssi, "19:01 -!- clarkb [~clarkb@198.51.100.7] has left #opendev [off to lunch]", want{Kind: KindPart, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "clarkb", Text: "off to lunch"}},
		{"irssi quit", Irssi, "19:01 -!- clarkb [~clarkb@198.51.100.7] has quit [Ping timeout: 252 seconds]", want{Kind: KindQuit, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "clarkb", Text: "Ping timeout: 252 seconds"}},
		{"irssi kick", Irssi, "19:01 -!- spammer was kicked from #opendev by fungi [spam]", want{Kind: KindKick, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "fungi", Target: "spammer", Text: "spam"}},
		{"irssi nick", Irssi, "19:01 -!- clarkb is now known as clarkb_afk", want{Kind: KindNick, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "clarkb", Target: "clarkb_afk"}},
		{"irssi topic", Irssi, "19:01 -!- fungi changed the topic of #opendev to: new topic", want{Kind: KindTopic, Stamp: "19:01", Hour: 19, Minute: 1, Nick: "fungi", Text: "new topic"}},
		{"irssi topic unset", Irssi, "19:06 -!- Topic unset by fungi on #opendev", want{Kind: KindTopic, Stamp: "19:06", Hour: 19, Minute: 6, Nick: "fungi"}},
		{"irssi topic unset, no channel", Irssi, "19:06 -!- Topic unset by fungi", want{}},
		// No old nick: see TestIrssiTopicUnsetClearsTheTopic.
		{"irssi own nick change", Irssi, "19:06 -!- You're now known as fungi_", want{}},
		{"irssi mode", Irssi, "19:01 -!- mode/#opendev [+o fungi] by ChanServ", want{Kind: KindSkip, Stamp: "19:01", Hour: 19, Minute: 1}},
		{"irssi chatter", Irssi, "19:01 -!- Irssi: Join to #opendev was synced in 1 secs", want{Kind: KindSkip, Stamp: "19:01", Hour: 19, Minute: 1}},
		{"irssi notice", Irssi, "19:02 -NickServ(NickServ@services.)- You are now identified", want{Kind: KindNotice, Stamp: "19:02", Hour: 19, Minute: 2, Nick: "NickServ", Text: "You are now identified"}},
		{"irssi seconds", Irssi, "19:02:03 <fungi> with seconds", want{Kind: KindMessage, Stamp: "19:02:03", Hour: 19, Minute: 2, Second: 3, Nick: "fungi", Text: "with seconds"}},
		{"irssi bad hour", Irssi, "25:00 <fungi> no", want{}},

		// WeeChat
		{"weechat message", WeeChat, "2021-08-17 19:00:24\t@fungi\thello", want{Kind: KindMessage, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Text: "hello"}},
		{"weechat action", WeeChat, "2021-08-17 19:00:24\t *\tfungi waves", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Text: "waves"}},
		{"weechat join", WeeChat, "2021-08-17 19:00:24\t-->\tclarkb (~clarkb@198.51.100.7) has joined #opendev", want{Kind: KindJoin, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "clarkb"}},
		{"weechat part", WeeChat, "2021-08-17 19:00:24\t<--\tclarkb (~clarkb@198.51.100.7) has left #opendev (Leaving)", want{Kind: KindPart, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Text: "Leaving"}},
		{"weechat quit", WeeChat, "2021-08-17 19:00:24\t<--\tclarkb (~clarkb@198.51.100.7) has quit (Remote host closed the connection)", want{Kind: KindQuit, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Text: "Remote host closed the connection"}},
		{"weechat kick", WeeChat, "2021-08-17 19:00:24\t<--\tfungi has kicked spammer (go away)", want{Kind: KindKick, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Target: "spammer", Text: "go away"}},
		{"weechat nick", WeeChat, "2021-08-17 19:00:24\t--\tclarkb is now known as clarkb_", want{Kind: KindNick, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "clarkb", Target: "clarkb_"}},
		{"weechat topic", WeeChat, "2021-08-17 19:00:24\t--\tfungi has changed topic for #opendev from \"old\" to \"new one\"", want{Kind: KindTopic, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "fungi", Text: "new one"}},
		{"weechat mode", WeeChat, "2021-08-17 19:00:24\t--\tMode #opendev [+o fungi] by ChanServ", want{Kind: KindSkip, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17}},
		{"weechat notice", WeeChat, "2021-08-17 19:00:24\t--\tNotice(gerritbot) -> #opendev: change merged", want{Kind: KindNotice, Stamp: "19:00:24", Hour: 19, Second: 24, Year: 2021, Month: 8, Day: 17, Nick: "gerritbot", Text: "change merged"}},
		{"weechat no tab", WeeChat, "2021-08-17 19:00:24 fungi hello", want{}},

		// HexChat / XChat
		{"hexchat begin", HexChat, "**** BEGIN LOGGING AT Tue Aug 17 19:00:00 2021", want{Kind: KindDate, Year: 2021, Month: 8, Day: 17}},
		{"hexchat message", HexChat, "Aug 17 19:00:24 <fungi>\thello", want{Kind: KindMessage, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "fungi", Text: "hello"}},
		{"hexchat padded day", HexChat, "Aug  7 19:00:24 <fungi>\thello", want{Kind: KindMessage, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 7, Nick: "fungi", Text: "hello"}},
		{"hexchat action", HexChat, "Aug 17 19:00:24 *\tfungi waves", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "fungi", Text: "waves"}},
		{"hexchat join", HexChat, "Aug 17 19:00:24 *\tclarkb (~clarkb@198.51.100.7) has joined #opendev", want{Kind: KindJoin, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "clarkb"}},
		{"hexchat quit", HexChat, "Aug 17 19:00:24 *\tclarkb has quit (Ping timeout)", want{Kind: KindQuit, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "clarkb", Text: "Ping timeout"}},
		// A /me that reads like an event is a /me: what follows a join,
		// part or quit is a channel, a reason in brackets, or nothing.
		{"hexchat action like a quit", HexChat, "Aug 17 19:00:24 *\tbob has quit smoking", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "bob", Text: "has quit smoking"}},
		{"hexchat action like a join", HexChat, "Aug 17 19:00:24 *\tbob has joined the team at last", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "bob", Text: "has joined the team at last"}},
		{"hexchat action like a part", HexChat, "Aug 17 19:00:24 *\tbob left the building", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "bob", Text: "left the building"}},
		{"hexchat bare quit", HexChat, "Aug 17 19:00:24 *\tbob has quit", want{Kind: KindQuit, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "bob"}},
		{"hexchat kick", HexChat, "Aug 17 19:00:24 *\tfungi has kicked spammer from #opendev (spam)", want{Kind: KindKick, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "fungi", Target: "spammer", Text: "spam"}},
		{"hexchat topic", HexChat, "Aug 17 19:00:24 *\tfungi has changed the topic to: a topic", want{Kind: KindTopic, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "fungi", Text: "a topic"}},
		{"hexchat mode", HexChat, "Aug 17 19:00:24 *\tChanServ gives channel operator status to fungi", want{Kind: KindSkip, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17}},
		{"hexchat notice", HexChat, "Aug 17 19:00:24 -gerritbot-\tchange merged", want{Kind: KindNotice, Stamp: "19:00:24", Hour: 19, Second: 24, Month: 8, Day: 17, Nick: "gerritbot", Text: "change merged"}},

		// ZNC
		{"znc message", ZNC, "[19:00:24] <fungi> hello", want{Kind: KindMessage, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "fungi", Text: "hello"}},
		{"znc action", ZNC, "[19:00:24] * fungi waves", want{Kind: KindAction, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "fungi", Text: "waves"}},
		{"znc join", ZNC, "[19:00:24] *** Joins: clarkb (~clarkb@198.51.100.7)", want{Kind: KindJoin, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "clarkb"}},
		{"znc part", ZNC, "[19:00:24] *** Parts: clarkb (~clarkb@198.51.100.7) (later)", want{Kind: KindPart, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "clarkb", Text: "later"}},
		{"znc quit", ZNC, "[19:00:24] *** Quits: clarkb (~clarkb@198.51.100.7) (Quit: Leaving)", want{Kind: KindQuit, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "clarkb", Text: "Quit: Leaving"}},
		{"znc kick", ZNC, "[19:00:24] *** spammer was kicked by fungi (spam)", want{Kind: KindKick, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "fungi", Target: "spammer", Text: "spam"}},
		{"znc topic", ZNC, "[19:00:24] *** fungi changes topic to 'the topic'", want{Kind: KindTopic, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "fungi", Text: "the topic"}},
		{"znc mode", ZNC, "[19:00:24] *** ChanServ sets mode: +o fungi", want{Kind: KindSkip, Stamp: "19:00:24", Hour: 19, Second: 24}},
		{"znc notice", ZNC, "[19:00:24] -gerritbot- change merged", want{Kind: KindNotice, Stamp: "19:00:24", Hour: 19, Second: 24, Nick: "gerritbot", Text: "change merged"}},
		{"znc minutes only is plain", ZNC, "[19:00] <fungi> hello", want{}},

		// plain (irclogs.ubuntu.com), lines as in the corpus
		{"plain message", Plain, "[09:14] <crimsun> kleedrac: I'm afraid not.", want{Kind: KindMessage, Stamp: "09:14", Hour: 9, Minute: 14, Nick: "crimsun", Text: "kleedrac: I'm afraid not."}},
		// Pidgin's and Adium's words, as the corpus's channel-two has them.
		{"plain entered the room", Plain, "=== Nella entered the room.", want{Kind: KindJoin, Nick: "Nella"}},
		{"plain left the room, quit", Plain, "=== Delmer left the room (quit: Remote closed the connection).", want{Kind: KindQuit, Nick: "Delmer", Text: "Remote closed the connection"}},
		{"plain left the room", Plain, "=== Delmer left the room.", want{Kind: KindPart, Nick: "Delmer"}},
		{"plain left the building", Plain, "=== bob left the building", want{Kind: KindAction, Nick: "bob", Text: "left the building"}},
		{"plain odd nick", Plain, "[09:15] <|QuaD-> totem xine", want{Kind: KindMessage, Stamp: "09:15", Hour: 9, Minute: 15, Nick: "|QuaD-", Text: "totem xine"}},
		// The corpus writes some nicks with a space inside the brackets
		// ("bur[n] er"); IRC nicks have none, so the space is dropped.
		{"plain nick with space", Plain, "[06:03] <bur[n] er> anyone?", want{Kind: KindMessage, Stamp: "06:03", Hour: 6, Minute: 3, Nick: "bur[n]er", Text: "anyone?"}},
		{"plain nick with trailing space", Plain, "[07:15] <[optik] > hola", want{Kind: KindMessage, Stamp: "07:15", Hour: 7, Minute: 15, Nick: "[optik]", Text: "hola"}},
		{"plain action", Plain, "[11:42]  * teamcobra <3's gftp", want{Kind: KindAction, Stamp: "11:42", Hour: 11, Minute: 42, Nick: "teamcobra", Text: "<3's gftp"}},
		{"plain notice", Plain, "[05:12] -gfxtxoyrwa:#ubuntu- happy", want{Kind: KindNotice, Stamp: "05:12", Hour: 5, Minute: 12, Nick: "gfxtxoyrwa", Text: "happy"}},
		{"plain join", Plain, "=== L0sT [~waa3@raptor.ukc.ac.uk]  has joined #ubuntu", want{Kind: KindJoin, Nick: "L0sT"}},
		{"plain part", Plain, `=== sivang [~sivang@80.179.93.130.forward.012.net.il]  has left #ubuntu ["Leaving"]`, want{Kind: KindPart, Nick: "sivang", Text: `"Leaving"`}},
		{"plain part no reason", Plain, "=== devFran [~Fran@84-120-105-69.onocable.ono.com]  has left #Ubuntu []", want{Kind: KindPart, Nick: "devFran"}},
		{"plain nick", Plain, "=== Gus|Away is now known as Gus_", want{Kind: KindNick, Nick: "Gus|Away", Target: "Gus_"}},
		{"plain kick", Plain, "=== _mason was kicked off #ubuntu by apokryphos (flood)", want{Kind: KindKick, Nick: "apokryphos", Target: "_mason", Text: "flood"}},
		{"plain topic", Plain, "=== ..[topic/#ubuntu:Seveas] : Happy Dapper Day Everyone!", want{Kind: KindTopic, Nick: "Seveas", Text: "Happy Dapper Day Everyone!"}},
		{"plain mode", Plain, "=== mode/#ubuntu [+o Hobbsee]  by ChanServ", want{Kind: KindSkip}},
		{"plain old action", Plain, "=== JP goes to look", want{Kind: KindAction, Nick: "JP", Text: "goes to look"}},
		// Longer than any network's NICKLEN, and would make a sender ID
		// past the spec's 255 bytes once escaped.
		{"plain nick too long", Plain, "[09:14] <" + strings.Repeat("é", 17) + "> hi", want{}},
		{"plain seconds is znc", Plain, "[09:14:00] <crimsun> hi", want{}},
		{"plain garbage", Plain, "PK\x03\x04garbage", want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.format, tt.line)
			if got != tt.want {
				t.Errorf("Parse(%s, %q)\n got %+v\nwant %+v", tt.format, tt.line, got, tt.want)
			}
			// A trailing CR (a log copied from Windows) changes nothing.
			if crlf := Parse(tt.format, tt.line+"\r\n"); crlf != tt.want {
				t.Errorf("with CRLF: got %+v", crlf)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  Format
	}{
		{"limnoria", []string{"2021-08-17T19:00:24  <corvus> hi", "2021-08-17T19:00:25  *** fungi <f@h> has joined #opendev"}, Limnoria},
		{"irssi", []string{"--- Log opened Tue Aug 17 19:00:00 2021", "19:00 -!- fungi [f@h] has joined #opendev", "19:00 <@fungi> hi"}, Irssi},
		{"weechat", []string{"2021-08-17 19:00:24\t-->\tfungi (f@h) has joined #opendev", "2021-08-17 19:00:25\tfungi\thi"}, WeeChat},
		{"hexchat", []string{"**** BEGIN LOGGING AT Tue Aug 17 19:00:00 2021", "", "Aug 17 19:00:24 <fungi>\thi"}, HexChat},
		{"znc", []string{"[19:00:24] *** Joins: fungi (f@h)", "[19:00:25] <fungi> hi"}, ZNC},
		{"plain", []string{"=== fungi [f@h]  has joined #ubuntu", "[19:00] <fungi> hi", "[19:01] <corvus> ho"}, Plain},
		{"one odd line among many", []string{"[19:00] <a> x", "garbage", "[19:01] <b> y"}, Plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.lines)
			if err != nil || got != tt.want {
				t.Errorf("Detect = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for name, lines := range map[string][]string{
		"json":  {`{"type":"m.room.message"}`},
		"prose": {"Dear diary,", "today I wrote a parser.", "[19:00] <a> x"},
		"empty": {"", "  "},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			f, err := Detect(lines)
			if !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("Detect = %q, %v; want ErrUnknownFormat", f, err)
			}
			if !strings.Contains(err.Error(), "limnoria, irssi, weechat, hexchat, znc, plain") {
				t.Errorf("error does not name the formats tried: %v", err)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf-8 kept", []byte("caf\xc3\xa9 \xe2\x82\xac\r\n"), "café €"},
		{"latin-1", []byte("caf\xe9 na\xefve"), "café naïve"},
		{"cp1252 quotes and euro", []byte("\x93quoted\x94 \x80 \x85"), "“quoted” € …"},
		{"cp1252 undefined byte dropped", []byte("a\x81b\xe9"), "abé"},
		{"bold, underline, reset", []byte("\x02bold\x02 \x1funder\x1f\x0f"), "bold under"},
		{"colours", []byte("\x034red\x03 \x0304,12both\x03 \x0399,1x"), "red both x"},
		{"colour then digits kept after two", []byte("\x03123"), "3"},
		{"colour comma without digit", []byte("\x034,text"), ",text"},
		{"hex colour", []byte("\x04FF0000red\x04"), "red"},
		{"other controls dropped, tab kept", []byte("a\x00b\x07c\td\x7f"), "abc\td"},
		// Cut lines: see TestDecodeKeepsUTF8LineCutShort.
		{"utf-8 cut short", []byte("\xd0\xbc\xd0\xb8\xd1\x80\xd1"), "мир\uFFFD"},
		{"latin-1 ending in a lead byte", []byte("caf\xe9"), "café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decode(tt.in); got != tt.want {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDateFromName(t *testing.T) {
	for name, want := range map[string]string{
		"logs/#ubuntu/2004-12-25.train-c.raw.txt": "2004-12-25",
		"#opendev_20210817.log":                   "2021-08-17",
		"znc/libera/#zuul/2021-08-17.log":         "2021-08-17",
		"channel.log":                             "",
		"2021-02-30.log":                          "",
	} {
		got, ok := DateFromName(name)
		if s := got.Format(time.DateOnly); (ok && s != want) || (!ok && want != "") {
			t.Errorf("DateFromName(%q) = %s, %v; want %q", name, s, ok, want)
		}
	}
}

// TestKickInAChannelEndingInBy: irssi writes a kick as "victim was kicked
// from #chan by kicker [reason]" and irclogs.ubuntu.com as "victim was
// kicked off #chan by kicker (reason)". In a channel whose name ends in
// "by" (#ruby, #lobby, #rugby, #standby) the archive showed the kick as
// sent by a user "by", with the kicker's nick glued to the reason.
func TestKickInAChannelEndingInBy(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		line   string
	}{
		{"irssi", Irssi, "19:01 -!- spammer was kicked from #ruby by fungi [spam]"},
		{"ubuntu", Plain, "=== spammer was kicked off #lobby by fungi (spam)"},
		{"a channel named by", Irssi, "19:01 -!- spammer was kicked from #by by fungi [spam]"},
		{"limnoria, no channel", Limnoria, "2021-08-17T19:01:00  *** spammer was kicked by fungi (spam)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Parse(tt.format, tt.line)
			if l.Kind != KindKick || l.Nick != "fungi" || l.Target != "spammer" || l.Text != "spam" {
				t.Errorf("%q:\n got kind %d kicker %q victim %q reason %q\nwant a kick by \"fungi\" of \"spammer\" with reason \"spam\"",
					tt.line, l.Kind, l.Nick, l.Target, l.Text)
			}
		})
	}
}

// TestHexChatOwnLinesAreDropped: XChat and HexChat write their messages
// about the logging client itself in a channel's log with the "*" of an
// action ("*\tNow talking on #opendev", "*\tTopic for #opendev is: …"), or,
// in older XChat, with "-->" and "<--". They were read as /me lines of
// users "Now", "Topic" and "You": each time the logging client joined,
// the archive showed "* Now talking on #opendev" from a user "Now". They
// are client chatter, dropped like irssi's and WeeChat's; other people's
// joins, topics and actions are still read.
func TestHexChatOwnLinesAreDropped(t *testing.T) {
	for _, text := range []string{
		"*\tNow talking on #opendev",
		"*\tTopic for #opendev is: OpenDev | https://opendev.org",
		"*\tTopic for #opendev set by fungi (Mon Aug 16 10:00:00 2021)",
		"*\tYou are now known as clarkb_",
		"*\tYou have left channel #opendev",
		"*\tYou have left channel #opendev (bye)",
		"*\tYou have been kicked from #opendev by fungi (spam)",
		"*\tDisconnected (Connection reset by peer)",
		"*\tUsers on #opendev: fungi clarkb @ChanServ",
		"*\tChannel #opendev modes: +nt",
		"*\tChannel #opendev created on Mon Aug 16 10:00:00 2021",
		"*\tCannot join #secret (Channel is invite only).",
		"-->\tYou are now talking on #opendev",
		"<--\tYou have left channel #opendev",
		"---\tTopic for #opendev is OpenDev",
	} {
		line := "Aug 17 19:00:24 " + text
		if l := Parse(HexChat, line); l.Kind != KindSkip {
			t.Errorf("%q read as kind %d by %q (%q); want HexChat's own chatter, dropped (KindSkip)", line, l.Kind, l.Nick, l.Text)
		}
	}
	for text, want := range map[string]Kind{
		"*\tfungi (~f@198.51.100.7) has joined #opendev":              KindJoin,
		"-->\tfungi (~f@198.51.100.7) has joined #opendev":            KindJoin,
		"*\tfungi has changed the topic to: Topic for #opendev is: x": KindTopic,
		"*\tfungi is now known as You":                                KindNick,
		"*\tfungi talks on #opendev":                                  KindAction,
		"*\tNow you see me":                                           KindAction,
	} {
		line := "Aug 17 19:00:24 " + text
		if l := Parse(HexChat, line); l.Kind != want {
			t.Errorf("%q read as kind %d by %q; want kind %d", line, l.Kind, l.Nick, want)
		}
	}
}

// TestHexChatChannelNoticeIsByItsNick: HexChat writes a notice sent to
// the channel (gerrit's and CI bots') as "-nick/#chan-\ttext". The bot
// was archived as another sender named "gerritbot/#opendev", apart from
// its own lines, its opt-out and its erasure.
func TestHexChatChannelNoticeIsByItsNick(t *testing.T) {
	l := Parse(HexChat, "Aug 17 19:00:24 -gerritbot/#opendev-\tchange merged")
	if l.Kind != KindNotice || l.Nick != "gerritbot" || l.Text != "change merged" {
		t.Errorf("got kind %d nick %q text %q; want a notice by \"gerritbot\" saying \"change merged\"", l.Kind, l.Nick, l.Text)
	}
}

// TestDecodeKeepsUTF8LineCutShort: an IRC server cuts a message at 512
// bytes on the wire, often inside a character, and logs of non-Latin
// channels are full of such lines. Decode read every line that is not
// valid UTF-8 as Windows-1252, so one broken last character made mojibake
// of the whole line ("Ð¿Ñ€Ð¸Ð²ÐµÑ‚" for "привет"). A line that is valid
// UTF-8 up to an incomplete sequence at its end, with at least three
// whole multi-byte characters before it, is UTF-8, the cut character
// U+FFFD; a Latin-1 line whose last byte could begin a sequence is still
// Windows-1252, even when some of its other accented letters pair into
// UTF-8 (one whole character before the cut was taken as enough, and
// "Spa\xdf\x85 und Gru\xdf", Spaß… und Gruß, became "Spa\u07c5 und Gru\uFFFD").
func TestDecodeKeepsUTF8LineCutShort(t *testing.T) {
	text := "19:00 <ivan> " + strings.Repeat("привет ", 3) + "мир"
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"two-byte character cut", []byte(text[:len(text)-1]), "19:00 <ivan> привет привет привет ми\uFFFD"},
		{"three-byte character cut after one byte", []byte("€ 5, € 6, € 7, \xe2"), "€ 5, € 6, € 7, \uFFFD"},
		{"three-byte character cut after two bytes", []byte("€ 5, € 6, € 7, \xe2\x82"), "€ 5, € 6, € 7, \uFFFD"},
		{"four-byte character cut after three bytes", []byte("ok 👍👍👍 \xf0\x9f\x91"), "ok 👍👍👍 \uFFFD"},
		{"three whole characters before the cut", []byte("ему \xd0"), "ему \uFFFD"},
		{"cut, then the line end", []byte(text[:len(text)-1] + "\r\n"), "19:00 <ivan> привет привет привет ми\uFFFD"},
		{"cut, with mIRC codes", []byte("\x02жирный\x02 \xd0"), "жирный \uFFFD"},
		// No whole multi-byte character: the byte that could begin one is
		// Latin-1's (é, Ð), as in the rest of such logs.
		{"latin-1 é at the end", []byte("caf\xe9"), "café"},
		{"latin-1 Ð at the end", []byte("19:00 <ivan> \xd0"), "19:00 <ivan> Ð"},
		// Windows-1252 whose other accented letters pair into UTF-8 (ß…
		// is U+07C5's, É© U+0269's), fewer than three times.
		{"windows-1252 ß… then ß at the end", []byte("12:00 <udo> Spa\xdf\x85 und Gru\xdf"), "12:00 <udo> Spaß… und Gruß"},
		{"windows-1252 É© then à at the end", []byte("12:00 <marc> \xc9\xa9 voil\xe0"), "12:00 <marc> É© voilà"},
		{"windows-1252 two pairs then ß at the end", []byte("Spa\xdf\x85 Spa\xdf\x85 Gru\xdf"), "Spaß… Spaß… Gruß"},
		{"two whole characters before the cut", []byte("ем \xd0"), "ÐµÐ¼ Ð"},
		// Not UTF-8 before the end: the line is Windows-1252 whatever its
		// last bytes are.
		{"latin-1 before a lead byte", []byte("na\xefve \xd0\xbc \xd0"), "naïve Ð¼ Ð"},
		// Bytes no UTF-8 sequence begins with, or a sequence broken before
		// its end, are not a cut.
		{"invalid lead byte at the end", []byte("ми \xff"), "Ð¼Ð¸ ÿ"},
		{"impossible second byte", []byte("ми \xe0\x80"), "Ð¼Ð¸ à€"},
		{"stray continuation byte", []byte("ми a\x80"), "Ð¼Ð¸ a€"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decode(tt.in); got != tt.want {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzDecodeCutUTF8: valid UTF-8 with at least three multi-byte
// characters (cutEvidence), cut inside a multi-byte character added after
// it, decodes to the text before the cut and U+FFFD; whatever the bytes,
// Decode gives valid UTF-8.
func FuzzDecodeCutUTF8(f *testing.F) {
	f.Add("привет мир", "ы", 1)
	f.Add("€€€", "👍", 3)
	f.Add("a é ü ß", "€", 2)
	f.Add("\uFEFFé ü", "€", 1) // the byte order mark Decode drops is no evidence
	f.Fuzz(func(t *testing.T, head, last string, cut int) {
		if got := Decode([]byte(head + last)); !utf8.ValidString(got) {
			t.Fatalf("Decode(%q) = %q, not UTF-8", head+last, got)
		}
		r, size := utf8.DecodeRuneInString(last)
		// Decode drops a byte order mark before it looks for a cut.
		if !utf8.ValidString(head) || r == utf8.RuneError || size < 2 || multiByte(strings.TrimPrefix(head, "\uFEFF")) < cutEvidence {
			return
		}
		cut = 1 + (cut%(size-1)+(size-1))%(size-1) // 1 to size-1 bytes of it
		in := head + last[:cut]
		if got, want := Decode([]byte(in)), StripFormatting(strings.TrimPrefix(head, "\uFEFF"))+"\uFFFD"; got != want {
			t.Fatalf("Decode(%q) = %q, want %q", in, got, want)
		}
	})
}

// multiByte counts the characters of s that take more than a byte in UTF-8.
func multiByte(s string) int {
	n := 0
	for _, r := range s {
		if r >= utf8.RuneSelf {
			n++
		}
	}
	return n
}

// TestIrssiTopicUnsetClearsTheTopic: irssi's default theme writes a
// cleared topic as "Topic unset by nick on #chan" (topic_unset). The line
// fitted no form and was rejected, so an imported room kept the topic
// that had been cleared; it is now the empty topic set by the nick, the
// same event as WeeChat's "has unset topic for".
//
// irssi's own nick change, "You're now known as nick", is still refused:
// it does not say the old nick, and a line's reader does not know it.
func TestIrssiTopicUnsetClearsTheTopic(t *testing.T) {
	weechat := Parse(WeeChat, "2021-08-17 19:06:00\t--\tfungi has unset topic for #opendev")
	irssi := Parse(Irssi, "19:06 -!- Topic unset by fungi on #opendev")
	if irssi.Kind != KindTopic || irssi.Nick != "fungi" || irssi.Text != "" || irssi.Kind != weechat.Kind || irssi.Nick != weechat.Nick || irssi.Text != weechat.Text {
		t.Errorf("irssi's unset topic parsed as %+v, WeeChat's as %+v", irssi, weechat)
	}
	evs, errs := convert(t, Irssi, "#opendev.log", testOpts,
		"--- Log opened Tue Aug 17 19:00:00 2021",
		"19:00 -!- fungi changed the topic of #opendev to: meeting at 20:00",
		"19:05 <fungi> meeting cancelled",
		"19:06 -!- Topic unset by fungi on #opendev",
		"19:07 -!- You're now known as fungi_")
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoFit) {
		t.Errorf("errors %v, want one ErrNoFit (the own nick change)", errs)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	e := evs[2]
	if e.Type != "m.room.topic" || e.StateKey == nil || *e.StateKey != "" || e.Sender != "@irc_oftc_fungi:archive.test" ||
		!strings.Contains(string(e.Content), `"topic":""`) {
		t.Errorf("the unset topic became %s %v %s %s; want m.room.topic \"\" from fungi with the empty topic", e.Type, e.StateKey, e.Sender, e.Content)
	}
	if got, want := time.UnixMilli(e.TS).UTC(), time.Date(2021, 8, 17, 19, 6, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("the unset topic at %s, want %s", got, want)
	}
}
