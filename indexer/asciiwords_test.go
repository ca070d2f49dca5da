package indexer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

// baseWords is the analyzer asciiWords stands in for: the index's base
// analyzer (Bleve's Unicode tokenizer, NFKC and lower-casing).
func baseWords(t testing.TB) analysis.Analyzer {
	t.Helper()
	m, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	a := m.AnalyzerNamed(analyzerName)
	if a == nil {
		t.Fatalf("no analyzer %q", analyzerName)
	}
	return a
}

// sameTokens says how two token streams differ, or "" if they do not.
func sameTokens(got, want analysis.TokenStream) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		if i >= len(got) {
			return fmt.Sprintf("token %d missing, want %v", i, want[i])
		}
		if i >= len(want) {
			return fmt.Sprintf("token %d extra: %v", i, got[i])
		}
		g, w := got[i], want[i]
		if string(g.Term) != string(w.Term) || g.Start != w.Start || g.End != w.End || g.Position != w.Position || g.Type != w.Type || g.KeyWord != w.KeyWord {
			return fmt.Sprintf("token %d is %v (type %d), want %v (type %d)", i, g, g.Type, w, w.Type)
		}
	}
	return ""
}

// checkASCIIWords compares asciiWords with the base analyzer on text.
func checkASCIIWords(t testing.TB, base analysis.Analyzer, text string) {
	t.Helper()
	got, ok := asciiWords([]byte(text))
	if !ok {
		t.Fatalf("asciiWords(%q) declined ASCII text", text)
	}
	// The base analyzer lower-cases its terms in place: give it a copy.
	if diff := sameTokens(got, base.Analyze([]byte(text))); diff != "" {
		t.Fatalf("asciiWords(%q): %s", text, diff)
	}
}

// TestASCIIWordsAsBleve: asciiWords splits every ASCII text as the index's
// base analyzer does, token for token (term, offsets, position, type): all
// texts of up to five bytes over one byte of each class the word
// boundaries tell apart, random texts of every ASCII byte and of word-like
// bytes, and the corpus's messages, as IRC lines and as Markdown.
func TestASCIIWordsAsBleve(t *testing.T) {
	base := baseWords(t)
	// One byte of each class, and more where the tables could tell
	// bytes of one class apart (upper and lower case, the mid
	// characters, each kind of line end).
	classes := []byte("aZ0_:.',; -\"@\n\r\v\t\x00")
	var all func(prefix []byte, n int)
	all = func(prefix []byte, n int) {
		checkASCIIWords(t, base, string(prefix))
		if n == 0 {
			return
		}
		for _, c := range classes {
			all(append(prefix, c), n-1)
		}
	}
	exhaustive := 5 // about two million texts
	if raceEnabled {
		exhaustive = 4
	}
	all(nil, exhaustive)

	r := rand.New(rand.NewPCG(1, 2))
	wordy := []byte("abcXYZ019_:.',;  -/\n")
	for range 20000 {
		b := make([]byte, r.IntN(60))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = byte(r.IntN(128))
			} else {
				b[i] = wordy[r.IntN(len(wordy))]
			}
		}
		checkASCIIWords(t, base, string(b))
	}

	// The corpus's messages as the bench replays them: every IRC line
	// (300,000 events hold all 230,676), and long Markdown messages.
	lines, skipped := 0, 0
	for _, c := range []struct {
		shape  string
		events int
	}{{corpus.ShapeUbuntu, 300_000}, {corpus.ShapeMarkdown, 100_000}} {
		if raceEnabled {
			c.events = 20_000
		}
		for _, body := range shapeBodies(t, c.events, c.shape) {
			if !isASCII(body) {
				skipped++
				continue
			}
			checkASCIIWords(t, base, body)
			lines++
		}
	}
	if lines < 1000 {
		t.Fatalf("only %d ASCII messages of the corpus compared (%d not ASCII)", lines, skipped)
	}
	t.Logf("%d corpus messages compared, %d not ASCII left to the base analyzer", lines, skipped)
}

// FuzzASCIIWords: asciiWords agrees with the base analyzer on any ASCII
// text, and declines any other.
func FuzzASCIIWords(f *testing.F) {
	for _, s := range []string{"", "sudo apt-get install", "e.g. 1,000.5 can't a:b", "__init__.py", "_1_ 1_a a_1", "x\r\n y", "café"} {
		f.Add(s)
	}
	base := baseWords(f)
	f.Fuzz(func(t *testing.T, s string) {
		if !isASCII(s) {
			if _, ok := asciiWords([]byte(s)); ok {
				t.Fatalf("asciiWords(%q) took non-ASCII text", s)
			}
			return
		}
		checkASCIIWords(t, base, s)
	})
}

// TestPairsAnalyzerASCIIFast: the text field's analyzer takes the fast
// path only over the base analyzer it stands in for, and gives the same
// tokens, pairs included, either way; text that is not all ASCII goes
// through the base analyzer.
func TestPairsAnalyzerASCIIFast(t *testing.T) {
	m, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := m.AnalyzerNamed(textAnalyzer).(pairsAnalyzer)
	if !ok || !a.ascii {
		t.Fatalf("the text analyzer (%T) does not take the ASCII path", m.AnalyzerNamed(textAnalyzer))
	}
	slow := a
	slow.ascii = false
	for _, text := range []string{"How do I install X.Org 7.1 on Dapper? it's at ftp://example.org:21/pub, v1.2.3_rc",
		"Ünïcödé words, ﬁle ligature and ＦＵＬＬ width", ""} {
		if diff := sameTokens(a.Analyze([]byte(text)), slow.Analyze([]byte(text))); diff != "" {
			t.Errorf("%q: %s", text, diff)
		}
	}
	en, err := newMapping("en")
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := en.AnalyzerNamed(textAnalyzer).(pairsAnalyzer); !ok || a.ascii {
		t.Errorf("the English text analyzer (%T) takes the ASCII path, which does not stem", en.AnalyzerNamed(textAnalyzer))
	}
}

// BenchmarkTextAnalyzer is the text field's analysis (words and pairs) of
// an IRC line and of a long Markdown message, with the ASCII path and
// without it:
//
//	go test -run '^$' -bench TextAnalyzer ./indexer
func BenchmarkTextAnalyzer(b *testing.B) {
	m, err := newMapping("")
	if err != nil {
		b.Fatal(err)
	}
	fast, ok := m.AnalyzerNamed(textAnalyzer).(pairsAnalyzer)
	if !ok {
		b.Fatal("no pairs analyzer")
	}
	slow := fast
	slow.ascii = false
	texts := map[string]string{
		"irc": "ubottu: how do I install the nvidia drivers on 7.10? apt-get says it can't find nvidia-glx-new",
		"markdown": "## Upgrading from 6.06\n\nRun `sudo apt-get update && sudo apt-get dist-upgrade`, then:\n\n" +
			"1. check `/etc/apt/sources.list` for the *old* mirrors;\n2. reboot, and see https://help.ubuntu.com/community/UpgradeNotes\n\n" +
			"```\n$ lsb_release -a\nDescription:\tUbuntu 7.10\n```\n\nIf X fails to start, `sudo dpkg-reconfigure xserver-xorg` and pick the vesa driver.",
	}
	for _, name := range []string{"irc", "markdown"} {
		text := []byte(texts[name])
		for _, c := range []struct {
			name string
			a    pairsAnalyzer
		}{{"ascii", fast}, {"base", slow}} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for range b.N {
					in := append([]byte(nil), text...) // the base analyzer lower-cases in place
					c.a.Analyze(in)
				}
			})
		}
	}
}
