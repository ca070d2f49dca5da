package indexer

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// repeatTerms returns n distinct words, w1 … wn.
func repeatTerms(n int) (s string, words []string) {
	for i := 1; i <= n; i++ {
		words = append(words, "w"+strings.Repeat("x", i))
	}
	return strings.Join(words, " "), words
}

var (
	sixteen, sixteenWords   = repeatTerms(16)
	seventeen, _            = repeatTerms(17)
	phrase200               = strings.Repeat("p", MaxPhraseLength)
	word500                 = strings.Repeat("a", MaxQueryLength)
	adjacentPhrases, canonN = adjacent()
)

// adjacent returns a 500-byte query of 16 phrases with no space between
// them, whose canonical form (with spaces) is longer than MaxQueryLength.
func adjacent() (string, int) {
	var b strings.Builder
	for i := 0; i < MaxTerms; i++ {
		n := 29
		if i == MaxTerms-1 {
			n = MaxQueryLength - b.Len() - 2
		}
		b.WriteString(`"` + strings.Repeat("q", n) + `"`)
	}
	return b.String(), b.Len() + MaxTerms - 1
}

type parseCase struct {
	name string
	in   string
	want Query
	// wantErr is a substring of the error; "" means the query is valid.
	wantErr string
	// wantEmpty means the error must be errors.Is ErrEmptyQuery.
	wantEmpty bool
}

var parseCases = []parseCase{
	// Words.
	{name: "one word", in: "podman", want: Query{Words: []string{"podman"}}},
	{name: "words are all required, in order", in: "podman runner", want: Query{Words: []string{"podman", "runner"}}},
	{name: "words keep case and punctuation", in: "Podman, runner!", want: Query{Words: []string{"Podman,", "runner!"}}},
	{name: "unicode words", in: "日本語 Ünïcödé 🚀", want: Query{Words: []string{"日本語", "Ünïcödé", "🚀"}}},
	{name: "emoji with zero-width joiner", in: "👩‍💻 ok", want: Query{Words: []string{"👩‍💻", "ok"}}},
	{name: "repeated word kept as typed", in: "go go", want: Query{Words: []string{"go", "go"}}},
	{name: "hyphen inside a word", in: "e-mail", want: Query{Words: []string{"e-mail"}}},

	// Whitespace.
	{name: "tabs newlines and runs of spaces", in: "  podman\t\trunner\n\r\nci   ", want: Query{Words: []string{"podman", "runner", "ci"}}},
	{name: "unicode spaces separate terms", in: "podman\u00a0runner\u3000ci", want: Query{Words: []string{"podman", "runner", "ci"}}},

	// Colons in words.
	{name: "time of day", in: "meet 10:30", want: Query{Words: []string{"meet", "10:30"}}},
	{name: "url", in: "http://x.org/a", want: Query{Words: []string{"http://x.org/a"}}},
	{name: "url with colons in the query", in: "https://example.org/a?b=c:d", want: Query{Words: []string{"https://example.org/a?b=c:d"}}},
	{name: "c++ scope", in: "std::vector", want: Query{Words: []string{"std::vector"}}},
	{name: "windows path", in: `C:\path`, want: Query{Words: []string{`C:\path`}}},
	{name: "windows path with slash", in: `C:/path`, want: Query{Words: []string{`C:/path`}}},
	{name: "emoji shortcode", in: ":smile:", want: Query{Words: []string{":smile:"}}},
	{name: "unknown name with empty value is a word", in: "NB: fix", want: Query{Words: []string{"NB:", "fix"}}},
	{name: "non-ascii name is a word", in: "café:au-lait", want: Query{Words: []string{"café:au-lait"}}},
	{name: "digit in name is a word", in: "h2:title", want: Query{Words: []string{"h2:title"}}},
	{name: "ipv6 address", in: "fe80::1", want: Query{Words: []string{"fe80::1"}}},
	{name: "known name with slash value is a word", in: "in://x", want: Query{Words: []string{"in://x"}}},

	// Unknown and empty filters.
	{name: "unknown filter", in: "foo:bar", wantErr: "There is no foo: filter"},
	{name: "unknown filter suggests quotes", in: "image:alpine", wantErr: `put it in quotes: "image:alpine"`},
	{name: "unknown filter with a quote", in: `foo:"bar baz"`, wantErr: "There is no foo: filter (in foo:\"bar)."},
	{name: "mailto is an unknown filter", in: "mailto:bob@example.org", wantErr: "There is no mailto: filter"},
	{name: "slack's during is not supported", in: "during:2026-03", wantErr: "There is no during: filter"},
	{name: "empty from", in: "from:", wantErr: "from: needs a value, for example from:@alice:example.org"},
	{name: "space after the colon", in: "from: @bob:example.org", wantErr: "from: needs a value"},
	{name: "empty in", in: "podman in:", wantErr: "in: needs a value"},
	{name: "empty before upper case", in: "BEFORE:", wantErr: "before: needs a value"},
	{name: "empty has", in: "has:", wantErr: "has: needs a value"},

	// Phrases and quotes.
	{name: "phrase", in: `"exact phrase"`, want: Query{Phrases: []string{"exact phrase"}}},
	{name: "phrase whitespace collapsed", in: "\"  exact \t phrase\n \"", want: Query{Phrases: []string{"exact phrase"}}},
	{name: "phrase holds filters literally", in: `"from:@a:b in:#x:y -no"`, want: Query{Phrases: []string{"from:@a:b in:#x:y -no"}}},
	{name: "quoted filter is text", in: `"from:bob"`, want: Query{Phrases: []string{"from:bob"}}},
	{name: "one-word phrase", in: `"podman"`, want: Query{Phrases: []string{"podman"}}},
	{name: "unicode phrase", in: `"日本語 の テスト"`, want: Query{Phrases: []string{"日本語 の テスト"}}},
	{name: "quote inside a word", in: `don"t`, want: Query{Words: []string{`don"t`}}},
	{name: "apostrophe and inch mark", in: `it's 5'11"`, want: Query{Words: []string{"it's", `5'11"`}}},
	{name: "quote mid-word does not open a phrase", in: `foo"bar baz"`, want: Query{Words: []string{`foo"bar`, `baz"`}}},
	{name: "word right after a phrase", in: `"a b"c`, want: Query{Words: []string{"c"}, Phrases: []string{"a b"}}},
	{name: "adjacent phrases", in: `"a""b"`, want: Query{Phrases: []string{"a", "b"}}},
	{name: "filter right after a phrase", in: `"a"has:link`, want: Query{Phrases: []string{"a"}, HasLink: true}},
	{name: "no backslash escapes", in: `"a\"b"`, want: Query{Words: []string{`b"`}, Phrases: []string{`a\`}}},
	{name: "empty phrase ignored", in: `podman ""`, want: Query{Words: []string{"podman"}}},
	{name: "typographic quotes are ordinary characters", in: "“exact phrase”", want: Query{Words: []string{"“exact", "phrase”"}}},
	{name: "unterminated quote", in: `podman "exact phr`, wantErr: "The phrase “exact phr” has no closing quote"},
	{name: "lone quote", in: `"`, wantErr: "has no closing quote"},
	{name: "unterminated after a phrase", in: `"a" "b`, wantErr: "The phrase “b” has no closing quote"},
	{name: "phrase at the length limit", in: `"` + phrase200 + `"`, want: Query{Phrases: []string{phrase200}}},
	{name: "phrase too long", in: `"` + phrase200 + `x"`, wantErr: "is too long: 201 bytes, the limit is 200"},
	{name: "phrase limit counts collapsed whitespace", in: `"` + phrase200[:100] + "     " + phrase200[:99] + `"`, want: Query{Phrases: []string{phrase200[:100] + " " + phrase200[:99]}}},

	// Exclusions.
	{name: "excluded word", in: "podman -docker", want: Query{Words: []string{"podman"}, Exclude: []string{"docker"}}},
	{name: "excluded phrase", in: `podman -"docker compose"`, want: Query{Words: []string{"podman"}, Exclude: []string{"docker compose"}}},
	{name: "excluded phrase after a phrase", in: `"a"-"b c"`, want: Query{Phrases: []string{"a"}, Exclude: []string{"b c"}}},
	{name: "excluded words and phrases keep order", in: `podman -x -"y z" -w`, want: Query{Words: []string{"podman"}, Exclude: []string{"x", "y z", "w"}}},
	{name: "dash between words is punctuation", in: "foo - bar", want: Query{Words: []string{"foo", "bar"}}},
	{name: "double dash is punctuation", in: "foo -- bar", want: Query{Words: []string{"foo", "bar"}}},
	{name: "double dash word excludes a dash word", in: "foo --bar", want: Query{Words: []string{"foo"}, Exclude: []string{"-bar"}}},
	{name: "excluded url", in: "podman -http://x.org", want: Query{Words: []string{"podman"}, Exclude: []string{"http://x.org"}}},
	{name: "excluded time", in: "meet -10:30", want: Query{Words: []string{"meet"}, Exclude: []string{"10:30"}}},
	{name: "excluded quoted filter is text", in: `podman -"from:@a:b.c"`, want: Query{Words: []string{"podman"}, Exclude: []string{"from:@a:b.c"}}},
	{name: "excluded word that is a dash and a quote", in: `0 --"`, want: Query{Words: []string{"0"}, Exclude: []string{`-"`}}},
	{name: "excluded word with a quote", in: `x -don"t`, want: Query{Words: []string{"x"}, Exclude: []string{`don"t`}}},
	{name: "excluded dashes phrase", in: `x -"--"`, want: Query{Words: []string{"x"}, Exclude: []string{"--"}}},
	{name: "empty excluded phrase ignored", in: `podman -""`, want: Query{Words: []string{"podman"}}},
	{name: "excluded filter", in: "podman -from:@a:b.c", wantErr: `Filters cannot be excluded: -from:@a:b.c. To exclude the text itself, put it in quotes: -"from:@a:b.c".`},
	{name: "excluded empty filter", in: "podman -is:", wantErr: "Filters cannot be excluded: -is:"},
	{name: "excluded unknown filter", in: "podman -foo:bar", wantErr: `There is no foo: filter (in -foo:bar). To exclude the text itself, put it in quotes: -"foo:bar".`},
	{name: "unterminated excluded phrase", in: `podman -"docker comp`, wantErr: "The phrase “docker comp” has no closing quote"},
	{name: "only exclusions", in: "-docker -podman", wantErr: "-word only removes results", wantEmpty: true},
	{name: "exclusions with a filter", in: "-docker in:#podman:example.org", want: Query{Exclude: []string{"docker"}, In: []string{"#podman:example.org"}}},

	// from:
	{name: "from", in: "from:@alice:example.org", want: Query{From: []id.UserID{"@alice:example.org"}}},
	{name: "from with a port", in: "from:@alice:example.org:8448", want: Query{From: []id.UserID{"@alice:example.org:8448"}}},
	{name: "from with an ip server", in: "from:@alice:[::1]:8448", want: Query{From: []id.UserID{"@alice:[::1]:8448"}}},
	{name: "from keeps a historical localpart's case", in: "from:@Alice:example.org", want: Query{From: []id.UserID{"@Alice:example.org"}}},
	{name: "several from mean any", in: "from:@a:x.org from:@b:y.org", want: Query{From: []id.UserID{"@a:x.org", "@b:y.org"}}},
	{name: "repeated from kept once", in: "from:@a:x.org from:@a:x.org", want: Query{From: []id.UserID{"@a:x.org"}}},
	{name: "filter names are case-insensitive", in: "FROM:@a:x.org From:@b:x.org", want: Query{From: []id.UserID{"@a:x.org", "@b:x.org"}}},
	{name: "from without @", in: "from:bob", wantErr: "from:bob is not a Matrix user ID; write it in full, for example from:@alice:example.org."},
	{name: "from without server", in: "from:@bob", wantErr: "from:@bob is not a Matrix user ID"},
	{name: "from with empty server", in: "from:@bob:", wantErr: "from:@bob: is not a Matrix user ID"},
	{name: "from with empty localpart", in: "from:@:example.org", wantErr: "is not a Matrix user ID"},
	{name: "from with a bad server name", in: "from:@bob:exa_mple.org", wantErr: "is not a Matrix user ID"},
	{name: "from two users glued", in: "from:@a:x.org,@b:y.org", wantErr: "is not a Matrix user ID"},
	{name: "from a room", in: "from:!abc:example.org", wantErr: "is not a Matrix user ID"},
	{name: "from quoted", in: `from:"@a:x.org"`, wantErr: "is not a Matrix user ID"},

	// in:
	{name: "in alias", in: "in:#podman:example.org", want: Query{In: []string{"#podman:example.org"}}},
	{name: "in room id", in: "in:!abcdef", want: Query{In: []string{"!abcdef"}}},
	{name: "in room id with server", in: "in:!abc:example.org", want: Query{In: []string{"!abc:example.org"}}},
	{name: "several in mean any", in: "IN:#a:x.org in:!b", want: Query{In: []string{"#a:x.org", "!b"}}},
	{name: "repeated in kept once", in: "in:!b in:!b", want: Query{In: []string{"!b"}}},
	{name: "in bare name", in: "in:room", wantErr: "in:room is not a room; use an alias like in:#room:example.org or a room ID like in:!abc:example.org."},
	{name: "in alias without server", in: "in:#room", wantErr: "in:#room is not a room"},
	{name: "in alias without name", in: "in:#:example.org", wantErr: "is not a room"},
	{name: "in bare sigil", in: "in:!", wantErr: "in:! is not a room"},
	{name: "in room id with empty server", in: "in:!abc:", wantErr: "is not a room"},
	{name: "in a user", in: "in:@bob:example.org", wantErr: "is not a room"},

	// Dates.
	{name: "before", in: "before:2026-03-01", want: Query{Before: date(2026, 3, 1)}},
	{name: "after excludes its day", in: "after:2026-03-01", want: Query{After: date(2026, 3, 2)}},
	{name: "on", in: "on:2026-03-01", want: Query{After: date(2026, 3, 1), Before: date(2026, 3, 2)}},
	{name: "after and before", in: "after:2026-03-01 before:2026-03-05", want: Query{After: date(2026, 3, 2), Before: date(2026, 3, 5)}},
	{name: "after and before leave one day", in: "after:2026-03-01 before:2026-03-03", want: Query{After: date(2026, 3, 2), Before: date(2026, 3, 3)}},
	{name: "after across a year", in: "after:2025-12-31", want: Query{After: date(2026, 1, 1)}},
	{name: "tightest before wins", in: "before:2026-03-10 before:2026-03-05", want: Query{Before: date(2026, 3, 5)}},
	{name: "tightest after wins", in: "after:2026-03-05 after:2026-03-01", want: Query{After: date(2026, 3, 6)}},
	{name: "on narrowed by before", in: "on:2026-03-01 before:2026-03-10", want: Query{After: date(2026, 3, 1), Before: date(2026, 3, 2)}},
	{name: "date filter names are case-insensitive", in: "Before:2026-03-01 AFTER:2026-02-01", want: Query{After: date(2026, 2, 2), Before: date(2026, 3, 1)}},
	{name: "leap day in a leap year", in: "on:2024-02-29", want: Query{After: date(2024, 2, 29), Before: date(2024, 3, 1)}},
	{name: "leap day in 2000", in: "on:2000-02-29", want: Query{After: date(2000, 2, 29), Before: date(2000, 3, 1)}},
	{name: "last possible day", in: "after:9999-12-31", want: Query{After: date(10000, 1, 1)}},
	{name: "first possible day", in: "before:1970-01-01", want: Query{Before: date(1970, 1, 1)}},
	{name: "leap day in a common year", in: "on:2026-02-29", wantErr: "on:2026-02-29: there is no such day."},
	{name: "leap day in 2100", in: "before:2100-02-29", wantErr: "there is no such day"},
	{name: "february 30", in: "before:2026-02-30", wantErr: "before:2026-02-30: there is no such day."},
	{name: "april 31", in: "after:2026-04-31", wantErr: "there is no such day"},
	{name: "month 13", in: "after:2026-13-01", wantErr: "there is no such day"},
	{name: "day zero", in: "after:2026-03-00", wantErr: "there is no such day"},
	{name: "one-digit month and day", in: "before:2026-3-1", wantErr: "before:2026-3-1 is not a date; write dates as YYYY-MM-DD, for example before:2026-03-01."},
	{name: "slashes", in: "before:2026/03/01", wantErr: "is not a date"},
	{name: "date and time", in: "before:2026-03-01T10:00", wantErr: "is not a date"},
	{name: "relative date", in: "after:yesterday", wantErr: "after:yesterday is not a date"},
	{name: "signs instead of digits", in: "after:+026-03-01", wantErr: "is not a date"},
	{name: "before 1970", in: "before:1969-12-31", wantErr: "dates start in 1970"},
	{name: "after the day before before", in: "after:2026-03-01 before:2026-03-02", wantErr: "No day is both after:2026-03-01 and before:2026-03-02"},
	{name: "after later than before", in: "after:2026-03-05 before:2026-03-01", wantErr: "No day is both after:2026-03-05 and before:2026-03-01"},
	{name: "after equal to before", in: "before:2026-03-01 after:2026-03-01", wantErr: "No day is both after:2026-03-01 and before:2026-03-01"},
	{name: "two different on days", in: "on:2026-03-01 on:2026-03-02", wantErr: "No day is both on:2026-03-02 and on:2026-03-01"},
	{name: "on after before", in: "before:2026-03-01 on:2026-03-01", wantErr: "No day is both on:2026-03-01 and before:2026-03-01"},

	// Flags.
	{name: "has link", in: "has:link", want: Query{HasLink: true}},
	{name: "is thread", in: "is:thread", want: Query{IsThread: true}},
	{name: "is poll", in: "lunch IS:Poll", want: Query{Words: []string{"lunch"}, IsPoll: true}},
	{name: "flag values are case-insensitive", in: "HAS:Link is:THREAD", want: Query{HasLink: true, IsThread: true}},
	{name: "repeated flag", in: "has:link has:link", want: Query{HasLink: true}},
	{name: "unknown has", in: "has:image", wantErr: "has:image is not a filter; the only one is has:link."},
	{name: "unknown is", in: "is:pinned", wantErr: "is:pinned is not a filter; is: takes thread or poll."},

	// Empty and filter-only queries.
	{name: "empty", in: "", wantErr: "Type something to search for.", wantEmpty: true},
	{name: "blank", in: "   ", wantEmpty: true},
	{name: "tabs and newlines", in: "\t\n\r\n", wantEmpty: true},
	{name: "empty phrase only", in: `""`, wantEmpty: true},
	{name: "blank phrase only", in: `"   "`, wantEmpty: true},
	{name: "dashes only", in: "- --", wantEmpty: true},
	{name: "filter only", in: "in:#podman:example.org", want: Query{In: []string{"#podman:example.org"}}},
	{name: "filters only", in: "from:@a:x.org has:link before:2026-03-01", want: Query{From: []id.UserID{"@a:x.org"}, Before: date(2026, 3, 1), HasLink: true}},

	// Limits.
	{name: "longest query", in: word500, want: Query{Words: []string{word500}}},
	{name: "longest query with blank around it", in: " \t" + word500 + "\n ", want: Query{Words: []string{word500}}},
	{name: "501 bytes", in: word500 + "a", wantErr: "The search is too long: 501 bytes, the limit is 500."},
	{name: "501 bytes of words", in: strings.Repeat("ab ", 166) + "abc", wantErr: "too long: 501 bytes"},
	{name: "canonical form too long", in: adjacentPhrases, wantErr: "too long: " + strconv.Itoa(canonN) + " bytes"},
	{name: "16 terms", in: sixteen, want: Query{Words: sixteenWords}},
	{name: "17 terms", in: seventeen, wantErr: "Too many search terms: the limit is 16 words, phrases and -exclusions together."},
	{name: "16 words and an exclusion", in: sixteen + " -x", wantErr: "Too many search terms"},
	{name: "16 words and a phrase", in: sixteen + ` "x y"`, wantErr: "Too many search terms"},
	{name: "16 terms and filters", in: sixteen + " has:link in:!x", want: Query{Words: sixteenWords, In: []string{"!x"}, HasLink: true}},
	{name: "empty phrases and dashes do not count", in: sixteen + ` "" -"" -`, want: Query{Words: sixteenWords}},
	{name: "long text is shortened in messages", in: `"` + strings.Repeat("x", 50), wantErr: "The phrase “" + strings.Repeat("x", 40) + "…” has no closing quote"},
	{name: "bidi override is not echoed", in: "foo:\u202ebar", wantErr: "(in foo:\ufffdbar)"},
	{name: "invalid utf-8", in: "podman \xff", wantErr: "not valid UTF-8"},

	// Everything together.
	{
		name: "mixed",
		in:   `podman "exact phrase" -docker from:@alice:example.org runner -"docker compose" in:#podman:example.org after:2026-02-28 before:2026-03-10 has:link is:thread`,
		want: Query{
			Words:    []string{"podman", "runner"},
			Phrases:  []string{"exact phrase"},
			Exclude:  []string{"docker", "docker compose"},
			From:     []id.UserID{"@alice:example.org"},
			In:       []string{"#podman:example.org"},
			After:    date(2026, 3, 1),
			Before:   date(2026, 3, 10),
			HasLink:  true,
			IsThread: true,
		},
	},
	{
		name: "filters first",
		in:   "in:!abc from:@b:x.org podman",
		want: Query{Words: []string{"podman"}, From: []id.UserID{"@b:x.org"}, In: []string{"!abc"}},
	},
}

func TestParseQuery(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQuery(tc.in)
			if tc.wantErr == "" && !tc.wantEmpty {
				if err != nil {
					t.Fatalf("ParseQuery(%q): %v", tc.in, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("ParseQuery(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseQuery(%q) = %#v, want an error", tc.in, got)
			}
			checkSyntaxError(t, err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseQuery(%q) error\n %q\nwant it to contain\n %q", tc.in, err, tc.wantErr)
			}
			if got := errors.Is(err, ErrEmptyQuery); got != tc.wantEmpty {
				t.Errorf("errors.Is(%v, ErrEmptyQuery) = %v, want %v", err, got, tc.wantEmpty)
			}
			if !reflect.DeepEqual(got, Query{}) {
				t.Errorf("ParseQuery(%q) returned %#v with its error, want the zero Query", tc.in, got)
			}
		})
	}
}

// checkSyntaxError checks what every parse error promises: a *SyntaxError
// whose text is one line for the user and ends with the syntax reminder.
func checkSyntaxError(t *testing.T, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, " "+SyntaxHelp) {
		t.Errorf("error %q does not end with the syntax reminder", msg)
	}
	if strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) {
		t.Errorf("error %q is not one line of valid UTF-8", msg)
	}
}

// TestQueryRoundTrip checks that every valid query of the table survives
// String and ParseQuery, which links and pagination rely on.
func TestQueryRoundTrip(t *testing.T) {
	for _, tc := range parseCases {
		if tc.wantErr != "" || tc.wantEmpty {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			s := tc.want.String()
			got, err := ParseQuery(s)
			if err != nil {
				t.Fatalf("ParseQuery(%q) (from %q): %v", s, tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseQuery(%q)\n got %#v\nwant %#v", s, got, tc.want)
			}
		})
	}
}

func TestQueryString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "canonical order", in: `in:!r has:link "b c" -"d e" a from:@u:x.org -f is:thread`, want: `a "b c" -"d e" -f from:@u:x.org in:!r has:link is:thread`},
		{name: "poll flag", in: `is:poll a is:thread`, want: `a is:thread is:poll`},
		{name: "whitespace normalized", in: "  a\t\"b   c\"\n", want: `a "b c"`},
		{name: "names lower-cased", in: "FROM:@U:x.org HAS:LINK Is:Thread", want: "from:@U:x.org has:link is:thread"},
		{name: "one day is on", in: "after:2026-02-28 before:2026-03-02", want: "on:2026-03-01"},
		{name: "after and before", in: "before:2026-03-10 after:2026-02-28", want: "after:2026-02-28 before:2026-03-10"},
		{name: "after alone", in: "after:2026-02-28", want: "after:2026-02-28"},
		{name: "narrowed dates", in: "before:2026-03-10 before:2026-03-05 on:2026-03-01", want: "on:2026-03-01"},
		{name: "excluded one-word phrase becomes a word", in: `x -"y"`, want: "x -y"},
		{name: "excluded filter text stays quoted", in: `x -"from:@a:b.c" -"is:" -"-y" -"NB:" -"-"`, want: `x -"from:@a:b.c" -"is:" --y -NB: -"-"`},
		{name: "excluded dash word", in: "x --y", want: "x --y"},
		{name: "excluded word with a quote stays bare", in: `x -don"t --"`, want: `x -don"t --"`},
		{name: "duplicates dropped", in: "in:!r in:!r has:link has:link", want: "in:!r has:link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseQuery(tc.in)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", tc.in, err)
			}
			if got := q.String(); got != tc.want {
				t.Errorf("ParseQuery(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestQueryHasText(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want bool
	}{
		{name: "words", q: Query{Words: []string{"a"}}, want: true},
		{name: "phrases", q: Query{Phrases: []string{"a b"}}, want: true},
		{name: "exclusions and filters only", q: Query{Exclude: []string{"a"}, HasLink: true}, want: false},
		{name: "zero", q: Query{}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.HasText(); got != tc.want {
				t.Errorf("HasText() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseQuerySyntaxErrorWithoutMsg(t *testing.T) {
	if got := (&SyntaxError{}).Error(); got != SyntaxHelp {
		t.Errorf("Error() = %q, want just the reminder", got)
	}
}

// FuzzParseQuery checks that no input panics the parser, and that whatever
// it accepts is within the limits and round-trips through String.
func FuzzParseQuery(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			checkSyntaxError(t, err)
			return
		}
		if n := len(q.Words) + len(q.Phrases) + len(q.Exclude); n > MaxTerms {
			t.Fatalf("ParseQuery(%q) has %d terms", s, n)
		}
		for _, p := range append(append([]string{}, q.Phrases...), q.Exclude...) {
			if p == "" || len(p) > MaxPhraseLength {
				t.Fatalf("ParseQuery(%q) has a term of %d bytes", s, len(p))
			}
		}
		if !q.HasText() && !q.hasFilter() {
			t.Fatalf("ParseQuery(%q) accepted a query with nothing to search for", s)
		}
		if !q.After.IsZero() && !q.Before.IsZero() && !q.After.Before(q.Before) {
			t.Fatalf("ParseQuery(%q) accepted an empty date range", s)
		}
		for _, u := range q.From {
			if !strings.HasPrefix(string(u), "@") || !strings.Contains(string(u), ":") {
				t.Fatalf("ParseQuery(%q) accepted user %q", s, u)
			}
		}
		for _, r := range q.In {
			if !strings.HasPrefix(r, "#") && !strings.HasPrefix(r, "!") {
				t.Fatalf("ParseQuery(%q) accepted room %q", s, r)
			}
		}
		canon := q.String()
		if len(canon) > MaxQueryLength {
			t.Fatalf("ParseQuery(%q).String() is %d bytes", s, len(canon))
		}
		again, err := ParseQuery(canon)
		if err != nil {
			t.Fatalf("ParseQuery(%q).String() = %q does not parse: %v", s, canon, err)
		}
		if !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", s, canon, again, q)
		}
	})
}
