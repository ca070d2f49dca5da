package web

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// hostileStrings are strings whose JSON encoding has every special case:
// quotes, escapes, control characters, HTML characters, invalid UTF-8,
// JavaScript's line ends, and plain text in other scripts.
var hostileStrings = []string{
	"", "plain", `"quoted" \ back\slash`, "<script>alert(1)</script> & more", "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "bad \xff\xfe utf8 \xc3", "\u2028 line \u2029 para", "日本語 emoji 👍 é", "\ufffd real",
	"</html>", "a\u0085b", "\xed\xa0\x80 surrogate bytes",
}

// apiSamples are JSON days with every field of an event set and unset.
func apiSamples(s string) []apiDay {
	sk := s
	empty := ""
	state := json.RawMessage(`{"name": "a <b>", "x": [1, 2]}`)
	votes := 3
	full := apiEvent{
		EventID: s, RoomID: s, Type: s, Sender: s, SenderName: s, OriginServerTS: -1767225601000, Time: s,
		Content: &apiMessageContent{MsgType: s, Body: s, Format: s, FormattedBody: s, URL: s, FileName: s, MediaURL: s, Media: s},
		Text:    s, HTML: s, Edited: true, EditedAt: s, InReplyTo: s, ThreadRoot: s,
		Reactions:   []apiReaction{{Key: s, Count: 2, Senders: []string{s, "b"}, SenderIDs: []string{s, "@b:x"}}, {Key: "", Count: 0}},
		ThreadCount: 7, RelationsCapped: true, Redacted: true, RedactedBy: s, RedactedAt: s, AppliedAt: s, Reason: s,
		Withdrawn: s, Permalink: s, MatrixTo: s, StateKey: &sk, State: &state,
		Poll: &apiPoll{Question: s, Answers: []apiPollAnswer{{Text: s, Votes: &votes, Winner: true}}, Ended: true, EndedAt: s, Voters: &votes, Truncated: true},
	}
	bare := apiEvent{EventID: s, StateKey: &empty, Content: &apiMessageContent{}, Reactions: []apiReaction{}}
	// The text and HTML differ from the body, or equal it without being
	// the same string (appendJSON copies what it wrote for an equal one).
	differ := apiEvent{Content: &apiMessageContent{Body: s + "b"}, Text: s + "t", HTML: s + "h"}
	equal := apiEvent{Content: &apiMessageContent{Body: s}, Text: strings.Clone(s), HTML: strings.Clone(s)}
	htmlOnly := apiEvent{Content: &apiMessageContent{Body: s}, HTML: s}
	return []apiDay{
		{RoomID: s, Date: s, Previous: s, Next: s, Events: []apiEvent{full, bare, {}, differ, equal, htmlOnly}, Truncated: true, NextAfter: s},
		{RoomID: s, Events: []apiEvent{}},
		{},
	}
}

// TestAPIJSONAsMarshal: the JSON day's hand encoder writes the bytes
// json.Marshal writes, whatever the strings hold and whichever fields
// are empty.
func TestAPIJSONAsMarshal(t *testing.T) {
	for _, s := range hostileStrings {
		checkAPIJSON(t, s)
	}
}

func FuzzAPIJSONAsMarshal(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(checkAPIJSON)
}

// mustAppendJSON is a's appendJSON of nothing, or the test's end.
func mustAppendJSON(t *testing.T, a jsonAppender) []byte {
	t.Helper()
	b, err := a.appendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkAPIJSON(t *testing.T, s string) {
	for _, d := range apiSamples(s) {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustAppendJSON(t, &d); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

// TestAppendJSONStringWordAtATime: with every byte value at every place
// of strings long enough for two words and a tail, among ASCII and among
// multi-byte UTF-8, appendJSONString writes what json.Marshal writes.
func TestAppendJSONStringWordAtATime(t *testing.T) {
	fillers := []string{"abcdefghijklmnopqrst", "\xc3\xa9\xc3\xa9\xe2\x80\xa8\xe2\x82\xac\xff\xfe\x80\x7f~ !#[]{}", "x<y>z&w\"q\\r\tsabcdefghij"}
	for _, fill := range fillers {
		for pos := range len(fill) {
			for c := range 256 {
				b := []byte(fill)
				b[pos] = byte(c)
				for _, s := range []string{string(b), string(b[:pos+1]), string(b[pos:])} {
					want, err := json.Marshal(s)
					if err != nil {
						t.Fatal(err)
					}
					if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
						t.Errorf("%q: got %s, want %s", s, got, want)
					}
				}
			}
		}
	}
}

// TestJSONSpecial: the lowest byte jsonSpecial marks is the first byte
// jsonPlain does not hold as it is, and it marks none in a word without
// one.
func TestJSONSpecial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := make([]byte, 8)
	check := func() {
		first := 8
		for k, c := range word {
			if !jsonPlain[c] {
				first = k
				break
			}
		}
		m := jsonSpecial(binary.LittleEndian.Uint64(word))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != first {
			t.Fatalf("% x: first marked byte %d, want %d (mask %#x)", word, got, first, m)
		}
		if load64(string(word)) != binary.LittleEndian.Uint64(word) {
			t.Fatalf("% x: load64 %#x", word, load64(string(word)))
		}
	}
	for range 200000 {
		for k := range word {
			word[k] = byte(rng.IntN(256))
		}
		check()
	}
	for pos := range 8 {
		for c := range 256 {
			for k := range word {
				word[k] = byte(0x20 + rng.IntN(0x60)) // printable ASCII
				if !jsonPlain[word[k]] {
					word[k] = 'a'
				}
			}
			word[pos] = byte(c)
			check()
			word[(pos+3)%8] = '<' // a second one, before or after
			check()
		}
	}
}

// TestLazyEventLinksAsEager: an event whose time and links appendJSON
// writes from its room's eventLinks gives the bytes of the same event
// with the three strings made (which TestAPIJSONAsMarshal holds to
// json.Marshal), for hostile event IDs, rooms, bases and via servers, and
// times from before the year 1 to past 9999.
func TestLazyEventLinksAsEager(t *testing.T) {
	rooms := []store.Room{
		{ID: "!r:example.org"},
		{ID: "!r/1:example.org", Alias: "#a b:example.org"},
		{ID: "!r%<&>\"\\:example.org", Alias: "#!looks:example.org"},
		{ID: "!\u2028日本\xff:example.org"},
	}
	bases := []string{"", "https://archive.example", "https://ex.example/é<&>\xff\u2028"}
	vias := [][]string{nil, {"example.org", "b&c<d>", "", "é\u2029"}}
	times := []int64{0, -1767225601000, 1266098220500, -62135596800001, 253402300800000, math.MaxInt64 / 2, math.MinInt64 / 2}
	ids := append(slices.Clone(pathSegmentSeeds), hostileStrings...)
	n := 0
	for _, r := range rooms {
		for _, base := range bases {
			for _, via := range vias {
				l := newEventLinks(base, r, via)
				for i, s := range ids {
					ev, ts := id.EventID(s), times[i%len(times)]
					eager := apiEvent{EventID: s, OriginServerTS: ts, Time: time.UnixMilli(ts).UTC().Format(time.RFC3339),
						Permalink: l.permalink(ev), MatrixTo: l.matrixTo(ev)}
					lazy := apiEvent{EventID: s, OriginServerTS: ts, links: &l}
					if got, want := mustAppendJSON(t, &lazy), mustAppendJSON(t, &eager); !bytes.Equal(got, want) {
						t.Errorf("room %q, base %q, via %q, event %q:\n got %s\nwant %s", r.ID, base, via, s, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("%d events compared", n)
	}
}
