package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
)

// A queryClass is one shape of query, written for each system: our syntax,
// PostgreSQL's websearch_to_tsquery, FTS5's MATCH, and the substrings a
// linear scan looks for. The filters apply to every system alike.
type queryClass struct {
	Name   string `json:"name"`
	Ours   string `json:"ours"`
	Web    string `json:"websearch"`
	FTS5   string `json:"fts5"`
	scan   []string
	room   string
	sender string
	from   int64 // ms, inclusive; 0 means no bound
	to     int64 // ms, exclusive; 0 means no bound
}

// Sorts every system is measured in.
const (
	sortRank   = "relevance"
	sortNewest = "newest"
	sortOldest = "oldest"
)

var sorts = []string{sortRank, sortNewest, sortOldest}

// queryMix is the fixed query mix of the issue: a rare term, a common term,
// two common terms, a phrase, and a common term under each filter. The
// filter values are read from the data: the room and sender that said the
// filter term most often, and sixty days around its median use.
func queryMix(msgs []message) []queryClass {
	t := ubuntuTerms
	if !anyContains(msgs, t.rare) || !anyContains(msgs, t.common) || !anyContains(msgs, t.phrase) {
		// Not the Ubuntu corpus: take the same shapes from the data.
		t.rare, t.common, t.pair, t.phrase = termsOf(msgs)
		t.term = t.common
	}
	rooms, senders := map[string]int{}, map[string]int{}
	var times []int64
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.body), t.term) {
			rooms[m.room]++
			senders[m.sender]++
			times = append(times, m.ts)
		}
	}
	t.room, t.sender = most(rooms), most(senders)
	if len(times) > 0 {
		t.day = time.UnixMilli(times[len(times)/2]).UTC()
	}
	return t.classes()
}

// mixTerms are what a query mix is made of: the terms of each class, and
// the filter term with the room, sender and day the filters use.
type mixTerms struct {
	rare, common, pair, phrase, term string
	room, sender                     string
	day                              time.Time
}

// ubuntuTerms are the mix's terms for the Ubuntu IRC corpus.
var ubuntuTerms = mixTerms{rare: "xorg.conf", common: "ubuntu", pair: "how install", phrase: "sudo apt-get install", term: "install"}

// classes writes the mix for every system.
func (t mixTerms) classes() []queryClass {
	day := t.day.Truncate(24 * time.Hour)
	from, to := day.AddDate(0, 0, -30), day.AddDate(0, 0, 30)
	words := func(name, q string) queryClass {
		fields := strings.Fields(q)
		fts := make([]string, len(fields))
		for i, f := range fields {
			fts[i] = `"` + f + `"`
		}
		return queryClass{Name: name, Ours: q, Web: q, FTS5: strings.Join(fts, " "), scan: fields}
	}
	filtered := func(name, ours string) queryClass {
		c := words(name, t.term)
		c.Ours = t.term + " " + ours
		return c
	}
	rc := filtered("room filter", "in:"+t.room)
	rc.room = t.room
	sc := filtered("sender filter", "from:"+t.sender)
	sc.sender = t.sender
	dc := filtered("date range", fmt.Sprintf("after:%s before:%s", from.AddDate(0, 0, -1).Format(time.DateOnly), to.Format(time.DateOnly)))
	dc.from, dc.to = from.UnixMilli(), to.UnixMilli()
	return []queryClass{
		words("rare term", t.rare),
		words("common term", t.common),
		words("two common terms", t.pair),
		{Name: "phrase", Ours: `"` + t.phrase + `"`, Web: `"` + t.phrase + `"`, FTS5: `"` + t.phrase + `"`, scan: []string{t.phrase}},
		rc, sc, dc,
	}
}

func anyContains(msgs []message, s string) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.body), s) {
			return true
		}
	}
	return false
}

// stopwords are left out of the terms picked from the data: PostgreSQL's
// english configuration drops them, so they would match nothing there.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the and for that this with you are not but have was can what all any
		your from they will one there just get how its it's don't about out would like some then them when
		which also has had more were been their than into only other could should here now did does`) {
		stopwords[w] = true
	}
}

// termsOf picks the query mix's terms from the data: the two words in most
// messages, a word in about one message in ten thousand, and the commonest
// three-word sequence of such words.
func termsOf(msgs []message) (rare, common, pair, phrase string) {
	df, trigrams := map[string]int{}, map[string]int{}
	for _, m := range msgs {
		lower := strings.ToLower(m.body)
		seen := map[string]bool{}
		for _, w := range strings.FieldsFunc(lower, notWord) {
			if len(w) >= 3 && !stopwords[w] && !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
		// Phrases of three plain words separated by spaces, so that the
		// linear scan's substring is the same phrase.
		ws := strings.Fields(lower)
		for i := 2; i < len(ws); i++ {
			a, b, c := ws[i-2], ws[i-1], ws[i]
			if len(a) >= 3 && len(c) >= 3 && !stopwords[a] && !stopwords[c] && plain(a) && plain(b) && plain(c) {
				trigrams[a+" "+b+" "+c]++
			}
		}
	}
	words := slices.SortedFunc(maps.Keys(df), func(a, b string) int {
		if df[a] != df[b] {
			return df[b] - df[a]
		}
		return strings.Compare(a, b)
	})
	if len(words) < 2 {
		return "message", "message", "message text", "a message"
	}
	target := max(2, len(msgs)/10_000)
	rare = words[len(words)-1]
	for _, w := range words {
		if max(df[w]-target, target-df[w]) < max(df[rare]-target, target-df[rare]) {
			rare = w
		}
	}
	phrase = most(trigrams)
	if phrase == "" {
		phrase = words[0] + " " + words[1]
	}
	return rare, words[0], words[0] + " " + words[1], phrase
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

func plain(w string) bool { return strings.IndexFunc(w, notWord) < 0 }

// most returns the key with the highest count, ties broken by key.
func most(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	best := ""
	for _, k := range keys {
		if best == "" || m[k] > m[best] {
			best = k
		}
	}
	return best
}

// scanFilter reports whether a message passes the class's filters.
func (c queryClass) scanFilter(m *message) bool {
	return (c.room == "" || m.room == c.room) && (c.sender == "" || m.sender == c.sender) &&
		(c.from == 0 || m.ts >= c.from) && (c.to == 0 || m.ts < c.to)
}

// linearScan is the cost of no index at all: every message's lower-cased
// body (prepared once) is searched for every substring of the class.
type linearScan struct {
	msgs  []message
	lower []string
}

func newLinearScan(msgs []message) *linearScan {
	l := &linearScan{msgs: msgs, lower: make([]string, len(msgs))}
	for i, m := range msgs {
		l.lower[i] = strings.ToLower(m.body)
	}
	return l
}

// search returns the number of matches; the newest 20 are kept as a real
// search would (the messages are in time order, so that is a walk back).
func (l *linearScan) search(c queryClass) int {
	n := 0
	for i := len(l.lower) - 1; i >= 0; i-- {
		if !c.scanFilter(&l.msgs[i]) {
			continue
		}
		ok := true
		for _, s := range c.scan {
			if !strings.Contains(l.lower[i], s) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}
