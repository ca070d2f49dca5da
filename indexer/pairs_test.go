package indexer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

// markdownBodies are the bodies of the corpus replayed as long Markdown
// messages (the bench's markdown shape).
func markdownBodies(t testing.TB, n int) []string {
	t.Helper()
	return shapeBodies(t, n, corpus.ShapeMarkdown)
}

// shapeBodies are the message bodies among the first n events of the
// corpus replayed in shape, as archive-bench replays it.
func shapeBodies(t testing.TB, n int, shape string) []string {
	t.Helper()
	logs := corpusLogs(t)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if _, err := corpus.GenerateShape(w, logs, n, shape); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	var out []string
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		var ev struct {
			Type    string `json:"type"`
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Type == "m.room.message" && ev.Content.Body != "" {
			out = append(out, ev.Content.Body)
		}
	}
	return out
}

// The run finder splits only the lines a run can be on; it must answer
// exactly as splitting the whole text does (containsRun over words), on
// long Markdown messages (runs from their own words, within and across
// lines, and from other messages') and on text built from the characters
// where word boundaries are subtle (line feeds next to combining marks,
// joiners, regional indicators, CR LF, other line breaks, full-width and
// ligature letters, final sigma).
func TestRunFinderAgreesWithWholeText(t *testing.T) {
	m, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	f := newRunFinder(m)
	if !f.byLine {
		t.Fatal("the index's own analyzer is not split line by line")
	}
	var found, crossLine, missed int
	// check compares the finder with containsRun over the text's words
	// (ws), and counts whether the run lies within a line (perLine: each
	// line's words) or across lines.
	check := func(text string, ws []string, perLine [][]string, run []string) {
		t.Helper()
		whole := containsRun(ws, run)
		if got := f.text(text).holds(run); got != whole {
			t.Errorf("%q in %q: %v, splitting the whole text says %v", run, text, got, whole)
			return
		}
		switch {
		case !whole:
			missed++
		case !slices.ContainsFunc(perLine, func(lw []string) bool { return containsRun(lw, run) }):
			crossLine++
		default:
			found++
		}
	}
	split := func(text string) ([]string, [][]string) {
		var perLine [][]string
		for _, l := range strings.Split(text, "\n") {
			perLine = append(perLine, words(m, l))
		}
		return words(m, text), perLine
	}
	bodies := markdownBodies(t, 1500)
	if len(bodies) < 100 {
		t.Fatalf("only %d Markdown messages", len(bodies))
	}
	r := rand.New(rand.NewSource(1))
	for k, body := range bodies {
		ws, perLine := split(body)
		for _, n := range []int{3, 4} {
			if len(ws) < n {
				continue
			}
			// A run of the message's own: a random one and its last.
			i := r.Intn(len(ws) - n + 1)
			check(body, ws, perLine, ws[i:i+n])
			check(body, ws, perLine, ws[len(ws)-n:])
			// The same words out of order, and another message's run.
			swapped := slices.Clone(ws[i : i+n])
			swapped[0], swapped[1] = swapped[1], swapped[0]
			check(body, ws, perLine, swapped)
			other := words(m, bodies[(k+1)%len(bodies)])
			if len(other) >= n {
				check(body, ws, perLine, other[:n])
			}
		}
		// Runs across each line break: the last word before it and the
		// two after.
		toks := f.a.Analyze([]byte(body))
		for p, c := range body {
			if c != '\n' {
				continue
			}
			k := slices.IndexFunc(toks, func(tok *analysis.Token) bool { return tok.Start > p })
			if k >= 1 && k+1 < len(toks) {
				check(body, ws, perLine, ws[k-1:k+2])
			}
		}
		check(body, ws, perLine, []string{"sudo", "apt", "get", "install"})
	}
	// Text from characters whose word boundaries depend on their
	// neighbours, with runs of its own words.
	pieces := []string{"a", "B", "1", ".", ",", "'", "\n", "\n", "\r", "\r\n", " ", "\u0301", "\u200d", "\U0001F600",
		"\U0001F1E6", "\U0001F1E8", "ア", "ー", "中", "_", ":", "\u00ad", "ｆ", "ﬁ", "Σ", "\"", "א", "\u2028", "\u0085",
		"\t", "#", "-", "@", "ǅ", "\u0345", "\u000b", "é", "e\u0301", "ß", "İ", "Ⱥ", "ㅤ", "²", "①"}
	for range 8000 {
		var b strings.Builder
		for range 1 + r.Intn(16) {
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		text := b.String()
		ws, perLine := split(text)
		for n := 1; n <= min(3, len(ws)); n++ {
			i := r.Intn(len(ws) - n + 1)
			check(text, ws, perLine, ws[i:i+n])
		}
	}
	t.Logf("runs found within a line %d, across lines %d, not found %d", found, crossLine, missed)
	if found < 1000 || crossLine < 500 || missed < 1000 {
		t.Errorf("too few cases of a kind: found within a line %d, across lines %d, not found %d", found, crossLine, missed)
	}
}

// With a language's stemmer, words need not be spelled as in the text, so
// the whole text is split; the answers are the same.
func TestRunFinderWithAStemmer(t *testing.T) {
	m, err := newMapping("en")
	if err != nil {
		t.Fatal(err)
	}
	f := newRunFinder(m)
	if f.byLine {
		t.Fatal("a stemming analyzer is split line by line")
	}
	text := "She was\nINSTALLING packages quickly"
	for _, c := range []struct {
		run  string
		want bool
	}{{"install packages quickly", true}, {"installed package", true}, {"packages installing", false}} {
		if got := f.text(text).holds(words(m, c.run)); got != c.want {
			t.Errorf("%q: %v, want %v", c.run, got, c.want)
		}
	}
}

// The cost of a phrase's check per long Markdown message: splitting the
// whole text, and the run finder.
func BenchmarkPhraseCheck(b *testing.B) {
	m, err := newMapping("")
	if err != nil {
		b.Fatal(err)
	}
	bodies := markdownBodies(b, 3000)
	run := words(m, "sudo apt-get install")
	b.Run("whole text", func(b *testing.B) {
		for i := range b.N {
			containsRun(words(m, bodies[i%len(bodies)]), run)
		}
	})
	f := newRunFinder(m)
	b.Run("run finder", func(b *testing.B) {
		for i := range b.N {
			f.text(bodies[i%len(bodies)]).holds(run)
		}
	})
}
