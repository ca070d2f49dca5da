package meeting

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// Limits of one meeting (see the package comment).
const (
	MaxLines    = 20000
	MaxDuration = 24 * 60 * 60 * 1000 // ms
	// Silence ends a meeting nobody ended.
	Silence = 2 * 60 * 60 * 1000 // ms
)

// Line is one shown message, in timeline order.
type Line struct {
	EventID id.EventID
	Sender  id.UserID // stable: a user ID, or an IRC nick's sender
	Name    string    // the display name at the time (the nick on IRC)
	TS      int64     // ms since the epoch
	Text    string    // plain text after the latest edit
	// Command says whether the line may hold a command: true for ordinary
	// messages, false for /me lines and notices (bots answer with notices).
	Command bool
}

// Kind is the kind of a minutes item.
type Kind string

// The kinds of item.
const (
	Topic  Kind = "topic"
	Info   Kind = "info"
	Idea   Kind = "idea"
	Help   Kind = "help"
	Action Kind = "action"
	Agreed Kind = "agreed"
	// Accepted and Rejected are MeetBot's ACCEPTED and REJECTED, kinds of
	// their own: a rejected proposal filed as agreed was counted among
	// what the meeting agreed.
	Accepted Kind = "accepted"
	Rejected Kind = "rejected"
	Link     Kind = "link"
)

// Item is one line of the minutes.
type Item struct {
	Kind    Kind
	Text    string
	EventID id.EventID
	Sender  id.UserID
	Name    string
	TS      int64
}

// Section is a topic and the items under it. The first section has no
// topic (Topic.EventID empty) when items came before the first #topic.
type Section struct {
	Topic Item
	Items []Item
}

// Person is a participant: anyone who said a line during the meeting, or
// a name #nick or #chair made one (Lines 0; Sender the one sender who went
// by it before the meeting, else empty).
type Person struct {
	Sender id.UserID
	Name   string // the last name used in the meeting
	Lines  int
}

// Assigned is a person's action items.
type Assigned struct {
	Person  Person
	Actions []Item
}

// Meeting is one meeting's minutes.
type Meeting struct {
	ID    id.EventID // the #startmeeting line: stable, derived from the archive
	Title string
	Owner Person
	// Chairs at the end of the meeting, owner first.
	Chairs   []Person
	Start    int64
	End      int64
	EndID    id.EventID // the #endmeeting line, or the last line of an unended meeting
	Ended    bool       // a chair said #endmeeting
	Sections []Section
	Actions  []Item
	ByPerson []Assigned
	// AssignedCapped: past MaxAssigned, actions were not listed under
	// more of the people they name.
	AssignedCapped bool
	// Unassigned holds action items that name no participant.
	Unassigned []Item
	People     []Person // by lines said, most first; named ones (0 lines) last
	Lines      int
	// Revised is the latest time (ms) a line of the meeting's span was
	// edited or deleted, as its reader knows it (0: none known); At does
	// not set it.
	Revised int64
}

// Topics counts the meeting's #topic items.
func (m *Meeting) Topics() int {
	n := 0
	for _, s := range m.Sections {
		if s.Topic.EventID != "" {
			n++
		}
	}
	return n
}

// Extract finds the meetings in lines (in timeline order) and returns them
// in order. Lines outside meetings are ignored.
func Extract(lines []Line) []Meeting {
	var out []Meeting
	for i := 0; i < len(lines); i++ {
		cmd, arg := command(lines[i])
		if cmd != "startmeeting" {
			continue
		}
		m, next := run(lines, i, arg)
		out = append(out, m)
		i = next - 1
	}
	return out
}

// At returns the meeting started by the line with the given event ID, if
// that line starts one; lines must begin at or before it.
func At(lines []Line, start id.EventID) (Meeting, bool) {
	for i := range lines {
		if lines[i].EventID != start {
			continue
		}
		cmd, arg := command(lines[i])
		if cmd != "startmeeting" {
			return Meeting{}, false
		}
		m, _ := run(lines, i, arg)
		return m, true
	}
	return Meeting{}, false
}

// meetingState is a meeting being read.
type meetingState struct {
	m       Meeting
	items   []Item // in order, for #undo
	chairs  map[id.UserID]bool
	pending map[string]bool // #chair names not yet seen as anyone's name
	people  map[id.UserID]*Person
	order   []id.UserID
	names   map[string]id.UserID // lower-cased names and IDs seen so far; "" for a name more than one sender used
	owner   id.UserID            // never unchaired
	// named are the names #nick and #chair made attendees, as first
	// written, each once (lower-cased in namedSeen); spoken the
	// lower-cased names and IDs of the meeting's lines.
	named     []string
	namedSeen map[string]bool
	// chairNamed are the lower-cased names #chair gave the chair and no
	// #unchair took it back from: a chair who says nothing in the
	// meeting is still one of its chairs.
	chairNamed map[string]bool
	// chairedBy is the sender each name #chair chaired (at once, or when
	// a pending name was claimed), which #unchair of that name unchairs:
	// looked up again, a name another sender took meanwhile was two
	// senders' and unchaired nobody, leaving the chair with whom #chair
	// gave it (helper-106).
	chairedBy map[string]id.UserID
	spoken    map[string]bool
	// span are the lines the meeting can reach (reach), at the index of
	// the line being read; spanUses each name's uses in them and spanEnds
	// their #endmeetings, made when a pending name is first claimed
	// (claimable).
	span     []Line
	at       int
	spanUses map[string][]spanLine
	spanEnds []spanLine
}

// spanLine is a line of a meeting's span: its index there, its sender.
type spanLine struct {
	at     int
	sender id.UserID
}

// run reads the meeting started at lines[start] and returns it and the
// index of the first line after it.
func run(lines []Line, start int, title string) (Meeting, int) {
	first := lines[start]
	st := &meetingState{
		chairs: map[id.UserID]bool{first.Sender: true}, pending: map[string]bool{},
		people: map[id.UserID]*Person{}, names: map[string]id.UserID{}, owner: first.Sender,
		namedSeen: map[string]bool{}, spoken: map[string]bool{}, chairNamed: map[string]bool{}, chairedBy: map[string]id.UserID{},
	}
	// Names said before the meeting can be chaired by name too.
	for _, l := range lines[:start] {
		st.learn(l)
	}
	st.m = Meeting{ID: first.EventID, Title: meetingTopic(title), Start: first.TS, End: first.TS, EndID: first.EventID}
	st.span = lines[start:reach(lines, start)]
	last := start
	i := start
	for ; i < len(lines); i++ {
		l := lines[i]
		if i > start && (l.TS-lines[last].TS > Silence || l.TS-first.TS > MaxDuration || i-start >= MaxLines) {
			break
		}
		last = i
		st.learn(l)
		st.at = i - start
		st.said(l)
		if i == start {
			continue
		}
		cmd, arg := command(l)
		if st.step(l, cmd, arg) {
			st.m.Ended = true
			i++
			break
		}
	}
	end := lines[last]
	st.m.End, st.m.EndID = end.TS, end.EventID
	st.m.Lines = last - start + 1
	st.finish()
	return st.m, i
}

// learn records the names by which a sender may be chaired. A name two
// senders used (a display name is anyone's to take) chairs neither: a
// member named "Bob" who spoke first was chaired by "#chair Bob" meant for
// the real Bob, and took the meeting's #topic, #agreed and #endmeeting.
// The user ID always names its sender.
func (st *meetingState) learn(l Line) {
	for _, k := range nameKeys(l) {
		if u, ok := st.names[k]; !ok {
			st.names[k] = l.Sender
		} else if u != l.Sender {
			st.names[k] = ""
		}
	}
}

func nameKeys(l Line) []string {
	keys := []string{strings.ToLower(string(l.Sender))}
	if n := strings.ToLower(strings.TrimSpace(l.Name)); n != "" {
		keys = append(keys, n)
	}
	if local, _, err := l.Sender.Parse(); err == nil && local != "" {
		keys = append(keys, strings.ToLower(local))
	}
	return keys
}

func (st *meetingState) said(l Line) {
	p := st.people[l.Sender]
	if p == nil {
		p = &Person{Sender: l.Sender}
		st.people[l.Sender] = p
		st.order = append(st.order, l.Sender)
	}
	p.Lines++
	p.Name = displayName(l)
	// A name chaired before its owner spoke: the first to speak under it,
	// unless another sender goes by it too before the meeting is over
	// (claimable). A name two senders used chairs neither (learn);
	// looking only behind, a member who took the name first (a display
	// name "Bob", or @bob on a server of its own) kept the chair meant
	// for the Bob who spoke after, took the meeting's items and could end
	// it.
	for _, k := range nameKeys(l) {
		st.spoken[k] = true
		if st.pending[k] {
			delete(st.pending, k)
			if st.claimable(k, l.Sender) {
				st.chairs[l.Sender] = true
				st.chairedBy[k] = l.Sender
			}
		}
	}
}

// claimable reports whether no sender but by goes by the name k from the
// line being read until the meeting is over: until an #endmeeting by its
// owner, by by (chaired, it ends the meeting there: a member who took the
// name after it could take the chair away from the meeting it had run),
// or by a chair, or the end of its span. Nobody else used the name before
// this line: it would have been claimed then, or not be pending.
func (st *meetingState) claimable(k string, by id.UserID) bool {
	if st.spanUses == nil {
		st.spanUses = map[string][]spanLine{}
		for j, l := range st.span {
			for _, key := range nameKeys(l) {
				st.spanUses[key] = append(st.spanUses[key], spanLine{j, l.Sender})
			}
			if cmd, _ := command(l); cmd == "endmeeting" {
				st.spanEnds = append(st.spanEnds, spanLine{j, l.Sender})
			}
		}
	}
	end := len(st.span)
	for _, e := range st.spanEnds {
		if e.at > st.at && (e.sender == st.owner || e.sender == by || st.chairs[e.sender]) {
			end = e.at
			break
		}
	}
	for _, u := range st.spanUses[k] {
		if u.at > st.at && u.at <= end && u.sender != by {
			return false
		}
	}
	return true
}

// reach is the index past the lines a meeting started at lines[start]
// can hold: as run stops (silence, its longest span, MaxLines), or after
// its owner's #endmeeting, which ends it whoever else is chaired.
func reach(lines []Line, start int) int {
	first := lines[start]
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if l.TS-lines[i-1].TS > Silence || l.TS-first.TS > MaxDuration || i-start >= MaxLines {
			return i
		}
		if l.Sender == first.Sender {
			if cmd, _ := command(l); cmd == "endmeeting" {
				return i + 1
			}
		}
	}
	return len(lines)
}

func displayName(l Line) string {
	if strings.TrimSpace(l.Name) != "" {
		return l.Name
	}
	return string(l.Sender)
}

// step applies one line's command; it reports whether the meeting ended.
func (st *meetingState) step(l Line, cmd, arg string) bool {
	chair := st.chairs[l.Sender]
	add := func(k Kind) {
		if arg != "" {
			st.items = append(st.items, Item{Kind: k, Text: arg, EventID: l.EventID, Sender: l.Sender, Name: displayName(l), TS: l.TS})
		}
	}
	switch cmd {
	case "endmeeting":
		return chair
	case "topic":
		if chair {
			add(Topic)
		}
	case "agreed", "agree":
		if chair {
			add(Agreed)
		}
	case "accepted", "accept":
		if chair {
			add(Accepted)
		}
	case "rejected", "reject":
		if chair {
			add(Rejected)
		}
	case "info":
		add(Info)
	case "idea":
		add(Idea)
	case "help":
		add(Help)
	case "action":
		add(Action)
	case "link":
		add(Link)
	case "url":
		add(Link)
	case "nick":
		for _, n := range nickArgs(arg) {
			st.name(n)
		}
	case "chair":
		if chair {
			for _, n := range nickArgs(arg) {
				st.name(n)
				st.chairNamed[strings.ToLower(n)] = true
				if u, ok := st.names[strings.ToLower(n)]; ok {
					if u != "" {
						st.chairs[u] = true
						st.chairedBy[strings.ToLower(n)] = u
					}
				} else {
					st.pending[strings.ToLower(n)] = true
				}
			}
		}
	case "unchair":
		if chair {
			for _, n := range nickArgs(arg) {
				delete(st.pending, strings.ToLower(n))
				delete(st.chairNamed, strings.ToLower(n))
				if u := st.chairedBy[strings.ToLower(n)]; u != "" && u != st.owner {
					delete(st.chairs, u)
				}
				delete(st.chairedBy, strings.ToLower(n))
				if u, ok := st.names[strings.ToLower(n)]; ok && u != "" && u != st.owner {
					delete(st.chairs, u)
				}
			}
		}
	case "undo":
		if chair && len(st.items) > 0 {
			st.items = st.items[:len(st.items)-1]
		}
	case "meetingtopic":
		if chair {
			st.m.Title = meetingTopic(arg)
		}
		// #meetingname only names the files MeetBot saves the minutes
		// under; the title stays the meeting topic.
	}
	return false
}

// meetingTopic is the title #startmeeting's or #meetingtopic's argument
// gives: none for "none", "unset" or nothing, which clear it in MeetBot.
func meetingTopic(arg string) string {
	if a := asciiLower(arg); a == "none" || a == "unset" {
		return ""
	}
	return arg
}

// maxNamed bounds the attendees #nick and #chair name who say nothing: a
// line of 64 KiB names thousands, and a meeting holds thousands of lines.
const maxNamed = 200

// name makes n an attendee, as MeetBot's addnick(nick, lines=0) does for
// #nick and #chair: actions naming them are listed under them, and they
// are among the people present, with 0 lines if they say nothing.
func (st *meetingState) name(n string) {
	k := strings.ToLower(n)
	if st.namedSeen[k] || len(st.named) == maxNamed {
		return
	}
	st.namedSeen[k] = true
	st.named = append(st.named, n)
}

// nickArgs splits "#chair a, b c" into names.
func nickArgs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// finish builds the sections, action lists and people from the items.
func (st *meetingState) finish() {
	m, owner := &st.m, st.owner
	for _, it := range st.items {
		if it.Kind == Topic {
			m.Sections = append(m.Sections, Section{Topic: it})
			continue
		}
		if len(m.Sections) == 0 {
			m.Sections = append(m.Sections, Section{})
		}
		s := &m.Sections[len(m.Sections)-1]
		s.Items = append(s.Items, it)
		if it.Kind == Action {
			m.Actions = append(m.Actions, it)
		}
	}
	for _, u := range st.order {
		m.People = append(m.People, *st.people[u])
	}
	sort.SliceStable(m.People, func(i, j int) bool { return m.People[i].Lines > m.People[j].Lines })
	for _, n := range st.named {
		k := strings.ToLower(n)
		u := st.names[k]
		if st.spoken[k] || st.people[u] != nil {
			continue // a participant already, under this name or another
		}
		m.People = append(m.People, Person{Sender: u, Name: n})
	}
	m.Owner = *st.people[owner]
	m.Chairs = append(m.Chairs, m.Owner)
	for _, u := range st.order {
		if u != owner && st.chairs[u] {
			m.Chairs = append(m.Chairs, *st.people[u])
		}
	}
	// Chairs by name who said nothing in the meeting, as People lists
	// them: their sender if the name was one sender's before, else none.
	for _, n := range st.named {
		k := strings.ToLower(n)
		if !st.chairNamed[k] {
			continue
		}
		switch u, ok := st.names[k]; {
		case ok && u != "" && st.people[u] == nil && st.chairs[u] && u != owner:
			m.Chairs = append(m.Chairs, Person{Sender: u, Name: n})
		case !ok && st.pending[k]:
			m.Chairs = append(m.Chairs, Person{Name: n})
		}
	}
	st.assign()
	m.tellApart(st.items)
}

// tellApart follows a name two people of the meeting went by (a display
// name is anyone's to take) with each one's user ID, as Matrix clients
// show it ("Bob (@mallory:example.org)"), wherever the minutes name them:
// a member who took another's name was that member in them. It runs after
// assign, which finds people by their names in actions.
func (m *Meeting) tellApart(items []Item) {
	by := map[string]id.UserID{}
	shared := map[string]bool{}
	note := func(name string, u id.UserID) {
		if name == "" {
			return
		}
		if v, ok := by[name]; !ok {
			by[name] = u
		} else if v != u {
			shared[name] = true
		}
	}
	for _, p := range m.People {
		note(p.Name, p.Sender)
	}
	for _, it := range items {
		note(it.Name, it.Sender)
	}
	if len(shared) == 0 {
		return
	}
	fix := func(name *string, u id.UserID) {
		if shared[*name] {
			*name += " (" + string(u) + ")"
		}
	}
	person := func(p *Person) { fix(&p.Name, p.Sender) }
	item := func(it *Item) { fix(&it.Name, it.Sender) }
	each(m.People, person)
	person(&m.Owner)
	each(m.Chairs, person)
	for i := range m.Sections {
		item(&m.Sections[i].Topic)
		each(m.Sections[i].Items, item)
	}
	each(m.Actions, item)
	for i := range m.ByPerson {
		person(&m.ByPerson[i].Person)
		each(m.ByPerson[i].Actions, item)
	}
	each(m.Unassigned, item)
}

// each calls f with a pointer to each element of xs.
func each[T any](xs []T, f func(*T)) {
	for i := range xs {
		f(&xs[i])
	}
}

// Bounds of action assignment, which would otherwise cost actions × people
// × text (a hostile meeting at the line cap took minutes): names are looked
// up word by word in the first maxActionScan bytes of an action, and only
// the maxSpacedNames most talkative people whose names are not one word
// ("Ann Smith", "bur[n]er") are searched for as substrings.
const (
	maxActionScan  = 512
	maxSpacedNames = 16
)

// MaxAssigned bounds ByPerson's entries, the actions listed under each
// person they name: 2,000 actions naming each of 60 people made minutes
// of 120,000 entries, 60 MB of HTML a request and 29 MB of text minutes.
const MaxAssigned = 2000

// assign fills ByPerson (people in the order of People) and Unassigned.
func (st *meetingState) assign() {
	m := &st.m
	words := map[string][]int{} // a one-word name, lower case → people
	var spaced []int
	for i, p := range m.People {
		for _, c := range nameCandidates(p) {
			if strings.IndexFunc(c, func(r rune) bool { return !wordRune(r) }) < 0 {
				words[c] = append(words[c], i)
			} else if len(spaced) < maxSpacedNames {
				spaced = append(spaced, i)
			}
		}
	}
	mine := make([][]Item, len(m.People))
	assigned := 0
	for _, a := range m.Actions {
		text := a.Text
		if len(text) > maxActionScan {
			text = strings.ToValidUTF8(text[:maxActionScan], "")
		}
		text = strings.ToLower(text)
		hit := map[int]bool{}
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !wordRune(r) }) {
			for _, i := range words[w] {
				hit[i] = true
			}
		}
		for _, i := range spaced {
			if !hit[i] && names(text, m.People[i]) {
				hit[i] = true
			}
		}
		if len(hit) == 0 {
			m.Unassigned = append(m.Unassigned, a)
		}
		people := slices.Sorted(maps.Keys(hit))
		if left := MaxAssigned - assigned; len(people) > left {
			people, m.AssignedCapped = people[:left], true
		}
		for _, i := range people {
			mine[i] = append(mine[i], a)
		}
		assigned += len(people)
	}
	for i, p := range m.People {
		if len(mine[i]) > 0 {
			m.ByPerson = append(m.ByPerson, Assigned{Person: p, Actions: mine[i]})
		}
	}
}

// nameCandidates are the lower-cased names a person is assigned actions
// by: the display name and the user ID's localpart.
func nameCandidates(p Person) []string {
	var out []string
	if n := strings.ToLower(strings.TrimSpace(p.Name)); n != "" {
		out = append(out, n)
	}
	if local, _, err := p.Sender.Parse(); err == nil && local != "" && !strings.EqualFold(local, strings.TrimSpace(p.Name)) {
		out = append(out, strings.ToLower(local))
	}
	return out
}

// names reports whether lower-cased text mentions the person by one of
// their names as a whole word.
func names(text string, p Person) bool {
	for _, c := range nameCandidates(p) {
		for off := 0; off < len(text); {
			i := strings.Index(text[off:], c)
			if i < 0 {
				break
			}
			at := off + i
			before, _ := utf8.DecodeLastRuneInString(text[:at])
			after, _ := utf8.DecodeRuneInString(text[at+len(c):])
			if (at == 0 || !wordRune(before)) && (at+len(c) == len(text) || !wordRune(after)) {
				return true
			}
			off = at + 1
		}
	}
	return false
}

func wordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// urlPrefixes make a line a link without #link, as MeetBot's UrlProtocols.
var urlPrefixes = [...]string{"http://", "https://", "ftp://", "mailto:"}

// command returns a line's command (lower case, without '#') and its
// argument, or "" when the line holds none.
func command(l Line) (cmd, arg string) {
	if !l.Command {
		return "", ""
	}
	s := strings.TrimSpace(l.Text)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) // a command is the first line only
	}
	switch {
	case strings.HasPrefix(s, "#"):
		s = s[1:]
		word, rest, _ := strings.Cut(s, " ")
		if j := strings.IndexFunc(word, unicode.IsSpace); j >= 0 {
			word, rest = word[:j], word[j:]+" "+rest
		}
		return asciiLower(word), strings.TrimSpace(rest)
	case strings.HasPrefix(s, "["):
		// MootBot: "[TOPIC] text", "[ACTION] text".
		word, rest, ok := strings.Cut(s[1:], "]")
		if !ok || strings.ContainsAny(word, " \t") {
			return "", ""
		}
		return asciiLower(word), strings.TrimSpace(rest)
	}
	lower := strings.ToLower(s)
	for _, p := range urlPrefixes {
		if strings.HasPrefix(lower, p) && len(s) > len(p) {
			return "url", s
		}
	}
	return "", ""
}

// asciiLower lowercases a command word's ASCII letters alone. Commands
// are ASCII words, as the store's filter of candidate starts reads them
// (SQL's LOWER on a column that compares as bytes: ASCII only): with
// strings.ToLower "#STARTMEETİNG" (U+0130) started a meeting whose page
// had minutes, though no list, feed or nesting check found it. (MeetBot,
// in Python, would not start one either: its lower() keeps İ two letters.
// It would read "#LINK" with a Kelvin sign, U+212A, as #link, which this
// does not.)
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// Starts reports whether a line is a #startmeeting: where a day page marks
// a meeting. (One said inside a running meeting is a line of that meeting;
// its own minutes page still shows the meeting it would start.)
//
// A day page asks it of every message, and command lowercases the whole of
// a line that does not start with '#' or '[' (for its URL prefixes): a
// quarter of building a first 1,000-event day page's items went to that
// (0.43 of 1.7 ms of CPU, in-process). Only a line
// that starts with '#' or '[' (MootBot's "[STARTMEETING]") once its leading
// space is trimmed, as command trims it, can start a meeting, so no other
// is handed to command.
func Starts(l Line) bool {
	if !l.Command {
		return false
	}
	if t := strings.TrimLeftFunc(l.Text, unicode.IsSpace); !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "[") {
		return false
	}
	cmd, _ := command(l)
	return cmd == "startmeeting"
}
