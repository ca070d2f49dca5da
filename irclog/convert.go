package irclog

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// ProvenanceKey is the content key under which every imported event says
// where it came from: network, channel, log file, line, the nick as
// written and a hash of what the line said.
const ProvenanceKey = "org.mxarchive.irc"

// Provenance is the value under ProvenanceKey.
type Provenance struct {
	Network string `json:"network"`
	Channel string `json:"channel"`
	Source  string `json:"source"`
	Line    int    `json:"line"`
	Nick    string `json:"nick"`
	// Hash identifies what the line said (kind, nicks, text), so a
	// re-export whose line at the same position differs can be told from
	// the same line read again.
	Hash string `json:"hash"`
	// NewNick is set on a nick change: the old nick's member leaves (the
	// new nick is another sender) and pages say "old is now known as new".
	NewNick string `json:"new_nick,omitempty"`
}

// Options say where a log's lines go.
type Options struct {
	Network string // names the senders' namespace and the event IDs
	Channel string // "#chan", for the event IDs and the provenance
	Server  string // server name of the senders' user IDs
	Room    id.RoomID
	// Location is the zone the log's times are written in (default UTC).
	Location *time.Location
	// Date is the day of a log whose lines carry no date (ZNC, plain)
	// when the file name does not say it; zero if not given.
	Date time.Time
}

// Event is one line turned into a Matrix event.
type Event struct {
	ID    id.EventID
	JSON  []byte // the event in client format, as the importer reads it
	State bool
	TS    int64  // origin_server_ts
	Hash  string // Provenance.Hash
}

// ErrNoFit is a line that fits the file's format nowhere.
var ErrNoFit = errors.New("the line fits no known form")

// ErrNoDate is a line whose day is unknown.
var ErrNoDate = errors.New("the day of the line is unknown: name the file YYYY-MM-DD or YYYYMMDD, or pass --date")

// ErrBadDate is a line dated outside the years an IRC log can have.
var ErrBadDate = errors.New("the line's date is impossible for an IRC log")

// Converter turns the lines of one file, in order, into events.
type Converter struct {
	format Format
	opts   Options
	source string

	// the day of the lines, from the file name, --date, or the log's own
	// date lines
	year  int
	month time.Month
	day   int
	// last time seen, for lines without one
	stamp        string
	hour, minute int
	second       int
	// the lines of each time of the days the file has been at, whose
	// ordinals are the line positions the IDs and the millisecond offsets
	// come from: the current day's and up to keptDays-1 days it left,
	// most recent last in days
	seen map[string]*daySeen
	days []string
	// dayKey is the day of the lines as seen's keys write it, made for
	// the day dayOf holds (made with each line, it cost BenchmarkConvert about 8%)
	dayKey string
	dayOf  [3]int
	// lastTime is the instant of the line before's written time (ms,
	// without the offset that orders lines of one time), which a time the
	// clocks went back over is read after (timestamp)
	lastTime int64
	// dated is set once the file has said a day itself (a date line, or
	// a line carrying its date): from then on its days are its own, and
	// its clock going back is never read as a new day (rollover).
	dated bool
	// first is the day the file begins on, from its name or --date (UTC
	// midnight; zero if neither says it), before which rollover never
	// goes back
	first time.Time
}

// rollover is how far back a clock must go, in a file whose lines carry
// no date, for the line to be read as the next day's: more than half a
// day, so that the next day is the nearer reading (23:59:58 then
// 00:00:03 is five seconds on, not a day less five seconds back). A
// MeetBot log (named after the meeting's start, "HH:MM:SS <nick>", no
// date lines) that ran past midnight archived its last lines at the
// start of the day it began, before its #startmeeting, and said nothing.
// A line a few minutes out of order, or the hour the clocks go back,
// stays on its day.
//
// Likewise a clock going on by more than half a day is the day before,
// when that puts the line at most lateLine before the line above and
// not before the file's first day: a line relayed a few seconds late
// just after midnight (23:59:59, 00:00:01, then 23:59:58) was put on the
// new day, a day after its instant, and the next line (00:00:05) a day
// later still, as if midnight had passed twice.
const rollover = 12 * 60 * 60

// lateLine bounds how far before the line above a line going back to the
// day before may land: a line out of order is seconds or minutes late
// (a relay's lag), or an hour (the clocks going back). A log where a
// channel is quiet for most of a day (22:00, 01:00, then 23:00) has
// passed midnight each time, and its 23:00 is the new day's, 22 hours on,
// not the old day's, two hours back.
const lateLine = 60 * 60

// keptDays bounds the days whose lines a Converter keeps. Only the
// current day's were kept: a file that came back to a day it had left
// (logs concatenated out of order, a clock set back over midnight) gave
// the first line at a time it had already written there the ID of the
// earlier one, and the import kept the earlier and reported the line as
// "changed". A file that comes back to a day with the lines it had there
// already, in order (two overlapping logs joined into one), gives them
// their IDs again, so the overlap is not archived twice.
const keptDays = 32

// daySeen is what a Converter keeps of a day: the lines of each of its
// times, and how many times the file has come back to it.
type daySeen struct {
	visit  int
	stamps map[string]*stampSeen
}

// stampSeen is a time's lines, by ordinal (their hashes), and, in the
// day's current visit, the ordinal the next line there takes if it is
// the line of that ordinal again.
type stampSeen struct {
	hashes      []string
	visit, next int
}

var nameDate = regexp.MustCompile(`(\d{4})-?(\d{2})-?(\d{2})`)

// validName reports whether s is 1 to max ASCII letters, digits and
// the given punctuation.
func validName(s string, max int, punct string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}

// DateFromName finds a YYYY-MM-DD or YYYYMMDD date in a file name.
func DateFromName(name string) (time.Time, bool) {
	for _, m := range nameDate.FindAllStringSubmatch(filepath.Base(name), -1) {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		if mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && t.Day() == d && y >= 1980 {
			return t, true
		}
	}
	return time.Time{}, false
}

// NewConverter starts reading a file named path in format f.
func NewConverter(f Format, path string, opts Options) (*Converter, error) {
	if opts.Network == "" || opts.Channel == "" {
		return nil, errors.New("an IRC log needs its network and channel (--network, --channel)")
	}
	if opts.Server == "" {
		return nil, errors.New("an IRC log needs a server name for its senders")
	}
	// Bounded so that a sender ID (nick up to 32 bytes, escaped up to
	// threefold) stays within the spec's 255 bytes.
	if !validName(opts.Network, 24, "._-") {
		return nil, fmt.Errorf("network %q: use 1 to 24 letters, digits, '.', '-' or '_'", opts.Network)
	}
	if !validName(opts.Server, 32, ".-:[]") {
		return nil, fmt.Errorf("server name %q is not a host name (at most 32 characters)", opts.Server)
	}
	if len(opts.Channel) < 2 || len(opts.Channel) > 200 || !strings.ContainsRune("#&+!", rune(opts.Channel[0])) ||
		strings.ContainsAny(opts.Channel, " ,") || strings.ContainsFunc(opts.Channel, func(r rune) bool { return r < ' ' }) {
		return nil, fmt.Errorf("channel %q is not an IRC channel name (#name)", opts.Channel)
	}
	if opts.Room == "" {
		return nil, errors.New("an IRC log needs a room (--room or --new-room)")
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	c := &Converter{format: f, opts: opts, source: filepath.Base(path), seen: map[string]*daySeen{}}
	d, ok := DateFromName(path)
	if !ok && !opts.Date.IsZero() {
		d, ok = opts.Date, true
	}
	if ok {
		c.year, c.month, c.day = d.Date()
		c.first = time.Date(c.year, c.month, c.day, 0, 0, 0, 0, time.UTC)
	} else if f == ZNC || f == Plain {
		// Their lines never say the day: every line would fail.
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), ErrNoDate)
	}
	return c, nil
}

// Line converts line number n (1-based) of the file. It returns no event
// for lines dropped on purpose (mode changes, client chatter, date lines)
// and an error for a line that fits nothing or whose day is unknown.
func (c *Converter) Line(n int, raw []byte) (*Event, error) {
	s := Decode(raw)
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	l := Parse(c.format, s)
	switch l.Kind {
	case KindNone:
		return nil, ErrNoFit
	case KindSkip:
		return nil, nil
	case KindDate:
		c.setDay(l.Year, l.Month, l.Day)
		c.dated = true
		return nil, nil
	}
	if l.HasDate() {
		c.dated = true
		y := l.Year
		if y == 0 { // HexChat: month and day only
			y = c.year
			if y == 0 {
				return nil, ErrNoDate
			}
			if l.Month < c.month {
				y++ // the log went past New Year
			}
		}
		c.setDay(y, l.Month, l.Day)
	}
	if l.Stamp != "" && c.day != 0 && !c.dated && c.stamp != "" {
		// The file's day came from its name or --date, and nothing in it
		// marks midnight: the line is on the day, of this one, the next
		// and the one before, that puts it nearest the line above
		// (rollover), the one before only if at most lateLine back.
		step := (l.Hour*3600 + l.Minute*60 + l.Second) - (c.hour*3600 + c.minute*60 + c.second)
		switch {
		case step < -rollover:
			c.setDay(time.Date(c.year, c.month, c.day+1, 0, 0, 0, 0, time.UTC).Date())
		case step > rollover && step-24*3600 >= -lateLine:
			if before := time.Date(c.year, c.month, c.day-1, 0, 0, 0, 0, time.UTC); !before.Before(c.first) {
				c.setDay(before.Date())
			}
		}
	}
	if c.day == 0 {
		return nil, ErrNoDate
	}
	if c.year < 1980 || c.year > 9999 {
		// Matrix times are milliseconds after 1970; IRC began in 1988.
		return nil, fmt.Errorf("%w: the year %d", ErrBadDate, c.year)
	}
	if l.Stamp != "" {
		// A copy: kept as a key of seen, a slice of the line kept all of
		// the line (up to 64 KiB) for as long as its day's ordinals.
		c.stamp, c.hour, c.minute, c.second = strings.Clone(l.Stamp), l.Hour, l.Minute, l.Second
	} else if c.stamp == "" {
		c.stamp = "00:00"
	}
	if c.dayOf != [3]int{c.year, int(c.month), c.day} {
		c.dayOf, c.dayKey = [3]int{c.year, int(c.month), c.day}, fmt.Sprintf("%04d-%02d-%02d", c.year, c.month, c.day)
	}
	day := c.dayKey
	ds := c.seen[day]
	if ds == nil {
		ds = &daySeen{stamps: map[string]*stampSeen{}}
		c.seen[day] = ds
		c.days = append(c.days, day)
		if len(c.days) > keptDays {
			delete(c.seen, c.days[0])
			c.days = slices.Delete(c.days, 0, 1)
		}
	}
	ss := ds.stamps[c.stamp]
	if ss == nil {
		ss = &stampSeen{visit: ds.visit}
		ds.stamps[c.stamp] = ss
	}
	if ss.visit != ds.visit {
		ss.visit, ss.next = ds.visit, 0
	}
	hash := lineHash(l)
	ord := len(ss.hashes)
	if ss.next < ord && ss.hashes[ss.next] == hash {
		ord = ss.next // the line the file had here, again
	} else {
		ss.hashes = append(ss.hashes, hash)
	}
	ss.next = ord + 1
	return c.event(n, day+" "+c.stamp, ord, l, hash)
}

func (c *Converter) setDay(y int, m time.Month, d int) {
	if y != c.year || m != c.month || d != c.day {
		c.year, c.month, c.day = y, m, d
		// The day's ordinals go on from where the file left them (or
		// take its lines again, daySeen): it is the most recent day now.
		day := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
		if i := slices.Index(c.days, day); i >= 0 {
			c.days = append(slices.Delete(c.days, i, i+1), day)
			c.seen[day].visit++
		}
	}
}

// timestamp is the line's time in ms: its written time in the log's zone,
// plus ord ms so that lines sharing a written time keep their order (at
// most the resolution's span, beyond which they tie and keep arrival order).
//
// A time written twice in the log's zone (the hour the clocks go back)
// is the later of its two instants where the earlier would come before
// the line before it: the log went on through the repeated hour, and
// time.Date gives the earlier, which put the lines written after the
// change before those written just ahead of it.
func (c *Converter) timestamp(ord int) int64 {
	t := time.Date(c.year, c.month, c.day, c.hour, c.minute, c.second, 0, c.opts.Location)
	if later, ok := repeated(t); ok && t.UnixMilli() < c.lastTime && later.UnixMilli() >= c.lastTime {
		t = later
	}
	c.lastTime = t.UnixMilli()
	span := 999
	if len(c.stamp) == 5 {
		span = 59999
	}
	return t.UnixMilli() + int64(min(ord, span))
}

// repeated returns the second instant whose wall-clock time in t's zone
// is t's, when the clocks went back over it, and whether there is one.
func repeated(t time.Time) (time.Time, bool) {
	_, before := t.Zone()
	_, after := t.Add(3 * time.Hour).Zone()
	if after >= before {
		return time.Time{}, false
	}
	later := t.Add(time.Duration(before-after) * time.Second)
	y, m, d := t.Date()
	ly, lm, ld := later.Date()
	if y != ly || m != lm || d != ld || t.Hour() != later.Hour() || t.Minute() != later.Minute() || t.Second() != later.Second() {
		return time.Time{}, false
	}
	return later, true
}

// EventID derives a line's event ID from its network, channel, day, time
// as written and position among the lines written at that time: the same
// line read from any file, or from an overlapping one, has the same ID.
func EventID(network, channel, dayStamp string, ord int) id.EventID {
	h := sha256.Sum256([]byte(strings.ToLower(network) + "\x1f" + strings.ToLower(channel) + "\x1f" + dayStamp + "\x1f" + strconv.Itoa(ord)))
	return id.EventID("$irc-" + base64.RawURLEncoding.EncodeToString(h[:24]))
}

// SenderID is the user ID a nick on a network is archived under: the
// Matrix spec's mapping from other character sets applied to the network
// and the nick, lowercased first because IRC nicks are case-insensitive.
func SenderID(network, nick, server string) id.UserID {
	return id.UserID("@irc_" + escape(strings.ToLower(network)) + "_" + escape(strings.ToLower(nick)) + ":" + server)
}

// NetworkUserID is the user ID that creates a room made for a channel.
func NetworkUserID(network, server string) id.UserID {
	return id.UserID("@irc_" + escape(strings.ToLower(network)) + ":" + server)
}

// escape applies the spec's "Mapping from other character sets" (the
// input is already lowercase, so A–Z never occur).
func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == '_':
			b.WriteString("__")
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02x", c)
		}
	}
	return b.String()
}

func lineHash(l Line) string {
	h := sha256.Sum256([]byte(strconv.Itoa(int(l.Kind)) + "\x1f" + l.Nick + "\x1f" + l.Target + "\x1f" + l.Text))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

type wireEvent struct {
	ID       id.EventID     `json:"event_id"`
	Room     id.RoomID      `json:"room_id"`
	Sender   id.UserID      `json:"sender"`
	Type     string         `json:"type"`
	StateKey *string        `json:"state_key,omitempty"`
	TS       int64          `json:"origin_server_ts"`
	Content  map[string]any `json:"content"`
}

func (c *Converter) event(n int, key string, ord int, l Line, hash string) (*Event, error) {
	prov := Provenance{Network: c.opts.Network, Channel: c.opts.Channel, Source: c.source, Line: n, Nick: l.Nick, Hash: hash}
	sender := SenderID(c.opts.Network, l.Nick, c.opts.Server)
	w := wireEvent{
		ID: EventID(c.opts.Network, c.opts.Channel, key, ord), Room: c.opts.Room, Sender: sender,
		TS: c.timestamp(ord), Content: map[string]any{ProvenanceKey: prov},
	}
	member := func(stateKey id.UserID, membership string) {
		w.Type = "m.room.member"
		sk := string(stateKey)
		w.StateKey = &sk
		w.Content["membership"] = membership
	}
	switch l.Kind {
	case KindMessage, KindAction, KindNotice:
		w.Type = "m.room.message"
		w.Content["msgtype"] = map[Kind]string{KindMessage: "m.text", KindAction: "m.emote", KindNotice: "m.notice"}[l.Kind]
		w.Content["body"] = l.Text
	case KindJoin:
		member(sender, "join")
		w.Content["displayname"] = l.Nick
	// Leaves carry the nick as display name too: the old nick may never
	// have joined in the logs (it was there when logging began), and the
	// page names whoever left by it.
	case KindPart, KindQuit:
		member(sender, "leave")
		w.Content["displayname"] = l.Nick
		if l.Text != "" {
			w.Content["reason"] = l.Text
		}
	case KindKick:
		member(SenderID(c.opts.Network, l.Target, c.opts.Server), "leave")
		w.Content["displayname"] = l.Target
		if l.Text != "" {
			w.Content["reason"] = l.Text
		}
	case KindNick:
		// Senders are per nick, so the old nick's sender leaves; the new
		// nick speaks as its own sender from then on. NewNick lets pages
		// show the change as a rename.
		member(sender, "leave")
		w.Content["displayname"] = l.Nick
		prov.NewNick = l.Target
		w.Content[ProvenanceKey] = prov
	case KindTopic:
		w.Type = "m.room.topic"
		empty := ""
		w.StateKey = &empty
		w.Content["topic"] = l.Text
	default:
		return nil, ErrNoFit
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode line %d: %w", n, err)
	}
	return &Event{ID: w.ID, JSON: b, State: w.StateKey != nil, TS: w.TS, Hash: prov.Hash}, nil
}

// RoomEvents are the state events that make an archive room for a
// channel that never moved to Matrix: its creation, its alias and name
// (the channel), stamped ts (just before its first line).
func RoomEvents(opts Options, alias string, ts int64) ([][]byte, error) {
	creator := NetworkUserID(opts.Network, opts.Server)
	empty := ""
	prov := map[string]any{"network": opts.Network, "channel": opts.Channel}
	evs := []wireEvent{
		{Type: "m.room.create", Content: map[string]any{"creator": creator, "room_version": "10", ProvenanceKey: prov}},
		{Type: "m.room.canonical_alias", Content: map[string]any{"alias": alias, ProvenanceKey: prov}},
		{Type: "m.room.name", Content: map[string]any{"name": opts.Channel, ProvenanceKey: prov}},
	}
	var out [][]byte
	for i := range evs {
		w := &evs[i]
		w.Room, w.Sender, w.StateKey, w.TS = opts.Room, creator, &empty, ts-int64(len(evs)-i)
		h := sha256.Sum256([]byte(string(opts.Room) + "\x1f" + w.Type))
		w.ID = id.EventID("$irc-" + base64.RawURLEncoding.EncodeToString(h[:24]))
		b, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// RoomID is the room ID of the archive room made for alias.
func RoomID(alias string) (id.RoomID, error) {
	_, server, ok := strings.Cut(alias, ":")
	if !strings.HasPrefix(alias, "#") || !ok || server == "" || len(alias) > 255 || strings.ContainsAny(alias, " \t") {
		return "", fmt.Errorf("%q is not a room alias (#name:server)", alias)
	}
	h := sha256.Sum256([]byte(alias))
	return id.RoomID("!irc-" + base64.RawURLEncoding.EncodeToString(h[:15]) + ":" + server), nil
}

// SameNetworkSender returns the user ID nick has on the network and
// server of u, an imported IRC sender or a network's own user
// (NetworkUserID); false if u is neither.
func SameNetworkSender(u id.UserID, nick string) (id.UserID, bool) {
	local, server, ok := strings.Cut(strings.TrimPrefix(string(u), "@"), ":")
	rest, isIRC := strings.CutPrefix(local, "irc_")
	if !ok || !isIRC || !strings.HasPrefix(string(u), "@") {
		return "", false
	}
	// The escaped network has no single "_": the first one ends it.
	for i := 0; i < len(rest); i++ {
		if rest[i] != '_' {
			continue
		}
		if i+1 < len(rest) && rest[i+1] == '_' {
			i++
			continue
		}
		return id.UserID("@irc_" + rest[:i] + "_" + escape(strings.ToLower(nick)) + ":" + server), true
	}
	if rest == "" {
		return "", false
	}
	return id.UserID("@irc_" + rest + "_" + escape(strings.ToLower(nick)) + ":" + server), true
}

// TombstoneEvent links a channel's room (opts.Room) to the Matrix room it
// moved to, as a room upgrade does: an m.room.tombstone at ts (after its
// last line), sent by the network's user, with an ID derived from both
// rooms so that linking again adds nothing.
func TombstoneEvent(opts Options, successor id.RoomID, ts int64) ([]byte, error) {
	empty := ""
	h := sha256.Sum256([]byte(string(opts.Room) + "\x1fm.room.tombstone\x1f" + string(successor)))
	w := wireEvent{
		ID: id.EventID("$irc-" + base64.RawURLEncoding.EncodeToString(h[:24])), Room: opts.Room,
		Sender: NetworkUserID(opts.Network, opts.Server), Type: "m.room.tombstone", StateKey: &empty, TS: ts,
		Content: map[string]any{
			"body":             "This channel continues in Matrix.",
			"replacement_room": successor,
			ProvenanceKey:      map[string]any{"network": opts.Network, "channel": opts.Channel},
		},
	}
	return json.Marshal(w)
}
