package indexer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// The search syntax is the small one people know from Slack and Discord,
// parsed here and never handed to Bleve's own query-string parser, so that
// nothing a reader types can reach Bleve's operators (+, ^, ~, field:...).
//
//	podman runner            words; all must match
//	"exact phrase"           a phrase; inside it everything is literal ("from:bob" is text)
//	-word  -"some phrase"    excluded words and phrases
//	from:@user:server        sender; several from: mean any of them
//	in:#alias:server         room, by alias or ID (in:!id, in:!id:server); several mean any
//	before:2026-03-01        strictly before that day (00:00 UTC)
//	after:2026-03-01         from the day after it (00:00 UTC), as in Slack
//	on:2026-03-01            that day only (UTC)
//	has:link  is:thread      flags; is:poll, polls (their question and answers)
//
// Decisions on the corners, each pinned by a test case:
//   - There are no escapes. A quote opens a phrase only at the start of a term
//     (or right after its '-'); elsewhere it is an ordinary character, so
//     don"t and 5'11" are words. A phrase ends at the next quote, and what
//     follows it starts a new term even without a space: "a"b is the phrase a
//     and the word b. A phrase cannot contain a quote.
//   - Inside a phrase, runs of whitespace become one space and the ends are
//     trimmed; an empty phrase ("", -"") is ignored.
//   - A term made only of dashes (the "-" in "foo - bar") is punctuation and
//     is ignored, not an exclusion.
//   - A term is a filter when it is name:value with name all ASCII letters
//     and value non-empty and not starting with '/', ':' or '\' — so
//     http://x.org, std::vector, C:\path, 10:30 and :smile: stay words, and so
//     does an unknown name with an empty value (NB:, Note:). A known name
//     with an empty value (from:) is an error, and so is an unknown name with
//     a value (foo:bar); the message suggests quoting it to search for the
//     text itself.
//   - Filter names and the values of has: and is: are case-insensitive, as in
//     Slack (FROM:@a:b, has:LINK). User IDs and room aliases keep their case.
//   - Filters cannot be excluded (-from:@a:b is an error).
//   - Repeated from: and in: values are kept once. Date filters narrow each
//     other (the result is the intersection); a range with no day left is an
//     error. Dates are YYYY-MM-DD, UTC, from 1970 on.
//   - A query with only exclusions and no filter is as empty as a blank one:
//     -word only removes results.
//   - Limits: the trimmed query and its canonical form (Query.String) are at
//     most MaxQueryLength bytes, so every accepted query round-trips.

// Bounds on a query, so that a search's cost stays small whatever is typed.
const (
	// MaxQueryLength bounds the query text in bytes, after trimming.
	MaxQueryLength = 500
	// MaxTerms bounds words, phrases and exclusions together.
	MaxTerms = 16
	// MaxPhraseLength bounds one phrase (or excluded phrase) in bytes, after
	// its whitespace is collapsed.
	MaxPhraseLength = 200
)

// SyntaxHelp is the one-line reminder of the syntax that ends every
// SyntaxError; the search page can show it too.
const SyntaxHelp = `Try words, "a phrase", -word, from:@user:server, in:#room:server, before:2026-03-01, after:2026-03-01, on:2026-03-01, has:link, is:thread, is:poll.`

// ErrEmptyQuery is the cause of the *SyntaxError ParseQuery returns when
// there is nothing to search for: a blank query, or only exclusions without
// a filter. Test with errors.Is; a search page may prefer to show the empty
// form rather than an error.
var ErrEmptyQuery = errors.New("empty search query")

// SyntaxError is a query the parser refused. Its Error text is written for
// the person who typed the query (a 400 page shows it as is).
type SyntaxError struct {
	// Msg says what is wrong, in a sentence.
	Msg string
	// Err is the underlying cause, if any (ErrEmptyQuery, a date parsing
	// error); it is for errors.Is and logs, not for the user.
	Err error
}

// Error returns Msg followed by SyntaxHelp.
func (e *SyntaxError) Error() string {
	if e.Msg == "" {
		return SyntaxHelp
	}
	return e.Msg + " " + SyntaxHelp
}

func (e *SyntaxError) Unwrap() error { return e.Err }

func syntaxErrorf(cause error, format string, args ...any) *SyntaxError {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Query is a parsed search. The zero Query matches nothing useful; build one
// with ParseQuery.
type Query struct {
	Words   []string
	Phrases []string
	// Exclude holds excluded words and phrases; a phrase keeps its spaces.
	Exclude []string
	From    []id.UserID
	// In holds room IDs ("!…") and aliases ("#…").
	In []string
	// After is the inclusive lower bound, midnight UTC (zero = none).
	After time.Time
	// Before is the exclusive upper bound, midnight UTC (zero = none).
	Before   time.Time
	HasLink  bool
	IsThread bool
	// IsPoll: polls only (their question and answers), not messages.
	IsPoll bool
}

// HasText reports whether the query has words or phrases (else it only
// filters, and results are best listed by date).
func (q Query) HasText() bool {
	return len(q.Words) > 0 || len(q.Phrases) > 0
}

func (q Query) hasFilter() bool {
	return len(q.From) > 0 || len(q.In) > 0 || !q.After.IsZero() || !q.Before.IsZero() ||
		q.HasLink || q.IsThread || q.IsPoll
}

const day = 24 * time.Hour

// String renders the query in the syntax ParseQuery reads, in a canonical
// order (words, phrases, exclusions, then filters), so that
// ParseQuery(q.String()) equals q for every q that ParseQuery returned. It
// is what "search in this room" links and pagination carry. A Query built by
// hand with values ParseQuery cannot produce (a phrase with a quote, a bound
// that is not midnight UTC) is rendered as well as the syntax allows.
func (q Query) String() string {
	var parts []string
	parts = append(parts, q.Words...)
	for _, p := range q.Phrases {
		parts = append(parts, `"`+p+`"`)
	}
	for _, x := range q.Exclude {
		if isBareExclusion(x) {
			parts = append(parts, "-"+x)
		} else {
			parts = append(parts, `-"`+x+`"`)
		}
	}
	for _, u := range q.From {
		parts = append(parts, "from:"+string(u))
	}
	for _, r := range q.In {
		parts = append(parts, "in:"+r)
	}
	switch {
	case !q.After.IsZero() && !q.Before.IsZero() && q.Before.Sub(q.After) == day:
		parts = append(parts, "on:"+formatDay(q.After))
	default:
		if !q.After.IsZero() {
			// after:D means from D+1, so the day to write is the one before.
			parts = append(parts, "after:"+formatDay(q.After.Add(-day)))
		}
		if !q.Before.IsZero() {
			parts = append(parts, "before:"+formatDay(q.Before))
		}
	}
	if q.HasLink {
		parts = append(parts, "has:link")
	}
	if q.IsThread {
		parts = append(parts, "is:thread")
	}
	if q.IsPoll {
		parts = append(parts, "is:poll")
	}
	return strings.Join(parts, " ")
}

func formatDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// isBareExclusion reports whether "-"+s parses back as the exclusion of s; if
// not, String quotes it. (A bare form is needed too: an excluded word may
// contain a quote, as in -don"t, and a phrase cannot.)
func isBareExclusion(s string) bool {
	if s == "" || s[0] == '"' || strings.Trim(s, "-") == "" || strings.ContainsFunc(s, unicode.IsSpace) {
		return false
	}
	_, _, isFilter := splitFilter(s)
	return !isFilter
}

// filterExample reports whether name (lower case) is a filter, with an
// example of it for error messages.
func filterExample(name string) (example string, known bool) {
	switch name {
	case "from":
		return "from:@alice:example.org", true
	case "in":
		return "in:#room:example.org", true
	case "before", "after", "on":
		return name + ":2026-03-01", true
	case "has":
		return "has:link", true
	case "is":
		return "is:thread", true
	}
	return "", false
}

// splitFilter reports whether tok has the shape of a filter, name:value,
// and returns its lower-cased name and value. A value starting with '/',
// ':' or '\' is not one: that is a URL (http://), a C++ scope (std::) or a
// Windows path (C:\), and people search for those. An empty value makes a
// filter only for a known name, so that "NB:" stays a word while "from:"
// is reported as missing its value.
func splitFilter(tok string) (name, value string, ok bool) {
	i := strings.IndexByte(tok, ':')
	if i <= 0 {
		return "", "", false
	}
	for _, c := range []byte(tok[:i]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", "", false
		}
	}
	name, value = strings.ToLower(tok[:i]), tok[i+1:]
	if value == "" {
		_, known := filterExample(name)
		return name, value, known
	}
	if strings.IndexByte(`/:\`, value[0]) >= 0 {
		return "", "", false
	}
	return name, value, true
}

// ParseQuery parses a search as typed by a reader. Every error is a
// *SyntaxError with a message for the reader; see ErrEmptyQuery.
func ParseQuery(s string) (Query, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxQueryLength {
		return Query{}, tooLong(len(s))
	}
	if !utf8.ValidString(s) {
		return Query{}, syntaxErrorf(nil, "The search is not valid UTF-8 text.")
	}
	p := parser{}
	for rest := s; rest != ""; rest = strings.TrimLeftFunc(rest, unicode.IsSpace) {
		var err error
		if rest, err = p.term(rest); err != nil {
			return Query{}, err
		}
	}
	return p.finish()
}

func tooLong(n int) error {
	return syntaxErrorf(nil, "The search is too long: %d bytes, the limit is %d.", n, MaxQueryLength)
}

type parser struct {
	q     Query
	terms int
	// The filters that set the current date bounds, as typed, to name them
	// if the range turns out empty.
	afterBy, beforeBy string
}

// term consumes one term from the start of rest (which starts with a
// non-space) and returns what follows it.
func (p *parser) term(rest string) (string, error) {
	switch {
	case rest[0] == '"':
		phrase, after, err := cutPhrase(rest)
		if err != nil {
			return "", err
		}
		if phrase != "" {
			p.q.Phrases = append(p.q.Phrases, phrase)
		}
		return after, p.count(phrase)
	case strings.HasPrefix(rest, `-"`):
		phrase, after, err := cutPhrase(rest[1:])
		if err != nil {
			return "", err
		}
		if phrase != "" {
			p.q.Exclude = append(p.q.Exclude, phrase)
		}
		return after, p.count(phrase)
	}
	tok, after := rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		tok, after = rest[:i], rest[i:]
	}
	if tok[0] == '-' {
		return after, p.exclude(tok)
	}
	if name, value, ok := splitFilter(tok); ok {
		return after, p.filter(tok, name, value)
	}
	p.q.Words = append(p.q.Words, tok)
	return after, p.count(tok)
}

// count counts one more term unless it is empty (an ignored empty phrase).
func (p *parser) count(term string) error {
	if term == "" {
		return nil
	}
	p.terms++
	if p.terms > MaxTerms {
		return syntaxErrorf(nil, "Too many search terms: the limit is %d words, phrases and -exclusions together.", MaxTerms)
	}
	return nil
}

// cutPhrase reads the phrase at the start of rest, which starts with a
// quote, and returns it with its whitespace collapsed.
func cutPhrase(rest string) (phrase, after string, err error) {
	body, after, found := strings.Cut(rest[1:], `"`)
	if !found {
		return "", "", syntaxErrorf(nil, "The phrase %s has no closing quote (\").", quoted(body))
	}
	phrase = strings.Join(strings.Fields(body), " ")
	if len(phrase) > MaxPhraseLength {
		return "", "", syntaxErrorf(nil, "The phrase %s is too long: %d bytes, the limit is %d.",
			quoted(phrase), len(phrase), MaxPhraseLength)
	}
	return phrase, after, nil
}

// exclude handles a bare term starting with '-'.
func (p *parser) exclude(tok string) error {
	if strings.Trim(tok, "-") == "" {
		return nil // a dash used as punctuation, as in "foo - bar"
	}
	word := tok[1:]
	if name, _, ok := splitFilter(word); ok {
		if _, known := filterExample(name); known {
			return syntaxErrorf(nil, "Filters cannot be excluded: %s. To exclude the text itself, put it in quotes: -\"%s\".",
				snippet(tok), snippet(word))
		}
		return unknownFilter(name, tok)
	}
	p.q.Exclude = append(p.q.Exclude, word)
	return p.count(word)
}

func unknownFilter(name, tok string) error {
	msg := fmt.Sprintf("There is no %s: filter (in %s).", snippet(name), snippet(tok))
	if !strings.Contains(tok, `"`) {
		if rest, ok := strings.CutPrefix(tok, "-"); ok {
			msg += fmt.Sprintf(" To exclude the text itself, put it in quotes: -\"%s\".", snippet(rest))
		} else {
			msg += fmt.Sprintf(" To search for the text itself, put it in quotes: \"%s\".", snippet(tok))
		}
	}
	return syntaxErrorf(nil, "%s", msg)
}

// filter applies one name:value filter; tok is the term as typed.
func (p *parser) filter(tok, name, value string) error {
	example, known := filterExample(name)
	if !known {
		return unknownFilter(name, tok)
	}
	if value == "" {
		return syntaxErrorf(nil, "%s: needs a value, for example %s.", name, example)
	}
	switch name {
	case "from":
		u, err := parseUserID(value)
		if err != nil {
			return syntaxErrorf(err, "from:%s is not a Matrix user ID; write it in full, for example %s.",
				snippet(value), example)
		}
		if !slices.Contains(p.q.From, u) {
			p.q.From = append(p.q.From, u)
		}
	case "in":
		if err := checkRoom(value); err != nil {
			return syntaxErrorf(err, "in:%s is not a room; use an alias like in:#room:example.org or a room ID like in:!abc:example.org.",
				snippet(value))
		}
		if !slices.Contains(p.q.In, value) {
			p.q.In = append(p.q.In, value)
		}
	case "before", "after", "on":
		d, err := parseDay(name, value)
		if err != nil {
			return err
		}
		typed := name + ":" + value
		lo, hi := d, d.Add(day) // on:
		switch name {
		case "before":
			lo, hi = time.Time{}, d
		case "after":
			lo, hi = d.Add(day), time.Time{}
		}
		if !lo.IsZero() && (p.q.After.IsZero() || lo.After(p.q.After)) {
			p.q.After, p.afterBy = lo, typed
		}
		if !hi.IsZero() && (p.q.Before.IsZero() || hi.Before(p.q.Before)) {
			p.q.Before, p.beforeBy = hi, typed
		}
	case "has":
		if !strings.EqualFold(value, "link") {
			return syntaxErrorf(nil, "has:%s is not a filter; the only one is has:link.", snippet(value))
		}
		p.q.HasLink = true
	case "is":
		switch {
		case strings.EqualFold(value, "thread"):
			p.q.IsThread = true
		case strings.EqualFold(value, "poll"):
			p.q.IsPoll = true
		default:
			return syntaxErrorf(nil, "is:%s is not a filter; is: takes thread or poll.", snippet(value))
		}
	}
	return nil
}

// parseUserID accepts a full user ID, @localpart:server, with a valid server
// name. Historical localparts (upper case and the like) are allowed: such
// users exist, and searching for them must work.
func parseUserID(s string) (id.UserID, error) {
	u := id.UserID(s)
	local, _, err := u.ParseAndValidateRelaxed()
	if err != nil {
		return "", fmt.Errorf("parse user ID: %w", err)
	}
	if local == "" {
		return "", fmt.Errorf("parse user ID: %w", id.ErrEmptyLocalpart)
	}
	return u, nil
}

var errNotARoom = errors.New("not a room ID or alias")

// checkRoom accepts an alias, #name:server, or a room ID, !opaque with an
// optional :server (room version 12 IDs have none).
func checkRoom(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("check room: %w: longer than 255 bytes", errNotARoom)
	}
	sigil, local, server := id.ParseCommonIdentifier(s)
	hasServer := strings.Contains(s, ":")
	switch {
	case sigil != '#' && sigil != '!':
		return fmt.Errorf("check room: %w: the first character is neither # nor ! here", errNotARoom)
	case local == "":
		return fmt.Errorf("check room: %w: empty name", errNotARoom)
	case sigil == '#' && !hasServer:
		return fmt.Errorf("check room: %w: an alias needs its server", errNotARoom)
	case hasServer && !id.ValidateServerName(server):
		return fmt.Errorf("check room: %w: bad server name", errNotARoom)
	}
	return nil
}

// parseDay reads a YYYY-MM-DD date as midnight UTC.
func parseDay(name, value string) (time.Time, error) {
	shaped := len(value) == len(time.DateOnly) && value[4] == '-' && value[7] == '-'
	for i := 0; shaped && i < len(value); i++ {
		if i != 4 && i != 7 && !('0' <= value[i] && value[i] <= '9') {
			shaped = false
		}
	}
	if !shaped {
		return time.Time{}, syntaxErrorf(nil, "%s:%s is not a date; write dates as YYYY-MM-DD, for example %s:2026-03-01.",
			name, snippet(value), name)
	}
	d, err := time.Parse(time.DateOnly, value)
	if err != nil {
		return time.Time{}, syntaxErrorf(fmt.Errorf("parse %s: date: %w", name, err),
			"%s:%s: there is no such day.", name, value)
	}
	// Before 1970 nothing was archived, and a bound at year 1 would be
	// confused with the zero time that means "no bound".
	if d.Year() < 1970 {
		return time.Time{}, syntaxErrorf(nil, "%s:%s: dates start in 1970.", name, value)
	}
	return d, nil
}

func (p *parser) finish() (Query, error) {
	q := p.q
	if !q.HasText() && !q.hasFilter() {
		if len(q.Exclude) > 0 {
			return Query{}, syntaxErrorf(ErrEmptyQuery, "-word only removes results; add a word, a phrase or a filter to search for.")
		}
		return Query{}, syntaxErrorf(ErrEmptyQuery, "Type something to search for.")
	}
	if !q.After.IsZero() && !q.Before.IsZero() && !q.After.Before(q.Before) {
		return Query{}, syntaxErrorf(nil, "No day is both %s and %s (after: starts the day after its date, before: stops at the start of its date).",
			p.afterBy, p.beforeBy)
	}
	// String puts spaces where the query had none ("a""b"), so the canonical
	// form can be a few bytes longer; refusing it here keeps every accepted
	// query round-trippable through links.
	if n := len(q.String()); n > MaxQueryLength {
		return Query{}, tooLong(n)
	}
	return q, nil
}

// quoted shows a phrase in a message, in typographic quotes so that they are
// not mistaken for the syntax's.
func quoted(s string) string { return "“" + snippet(s) + "”" }

// snippet shortens user text for a message and makes it harmless to show
// and log: one line, at most 40 characters, no control characters and no
// bidi overrides that would scramble the sentence around it.
func snippet(s string) string {
	const maxRunes = 40
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
