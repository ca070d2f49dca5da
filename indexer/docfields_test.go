package indexer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"
	bdoc "github.com/blevesearch/bleve/v2/document"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

// The documents the indexer builds are the mapping's, field for field (the
// same names, types, options, values and terms, in the same order), but for
// the text field's length, which counts its words (not their pairs) up to
// maxTextLength, and its pairs' buckets, which hold a frequency of 0: on
// IRC lines, long Markdown messages and short, empty, non-ASCII and
// flagged documents, with the default and a language's mapping.
func TestDocBuilderAsMapping(t *testing.T) {
	on := true
	docs := []document{
		{Text: "", Sender: "@a:x", Room: "!r:x", Month: "2026-03", Day: "2026-03-14"},
		{Text: "one", Sender: "@a:x", Room: "!r:x", Month: "2026-03", Day: "2026-03-14", HasLink: &on},
		{Text: "apt-get install the kernel, again and again", Sender: "@b:x", Room: "!r:x", Month: "2026-03", Day: "2026-03-14", IsThread: &on},
		{Text: "Ｆｕｌｌ-width ﬁles: Straße ΣΊΣΥΦΟΣ 日本語のテキスト\nand a second line", Sender: "@ü:x", Room: "!r:x", Month: "1970-01", Day: "1970-01-01", HasLink: &on, IsThread: &on},
		{Text: strings.Repeat("word ", 300), Sender: "@a:x", Room: "!r:x", Month: "2026-03", Day: "2026-03-14"},
	}
	for i, body := range shapeBodies(t, 400, corpus.ShapeUbuntu) {
		docs = append(docs, document{Text: body, Sender: fmt.Sprintf("@u%d:x", i%7), Room: "!r:x", Month: "2026-03", Day: "2026-03-14"})
	}
	for i, body := range markdownBodies(t, 400) {
		docs = append(docs, document{Text: body, Sender: fmt.Sprintf("@u%d:x", i%7), Room: "!r:x", Month: "2026-03", Day: "2026-03-14"})
	}
	long := 0
	for _, lang := range []string{"", "en"} {
		m, err := newMapping(lang)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newDocBuilder(m)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docs {
			id := fmt.Sprintf("d%d", i)
			want := bdoc.NewDocument(id)
			if err := m.MapDocument(want, doc); err != nil {
				t.Fatal(err)
			}
			got := b.build(id, doc)
			if got.ID() != id || len(got.Fields) != len(want.Fields) || len(got.CompositeFields) != len(want.CompositeFields) {
				t.Fatalf("%q document %d: ID %q, %d fields and %d composite, want %d and %d", lang, i, got.ID(), len(got.Fields), len(got.CompositeFields), len(want.Fields), len(want.CompositeFields))
			}
			for k, g := range got.Fields {
				w := want.Fields[k]
				if g.Name() != w.Name() || g.EncodedFieldType() != w.EncodedFieldType() || g.Options() != w.Options() ||
					string(g.Value()) != string(w.Value()) || !reflect.DeepEqual(g.ArrayPositions(), w.ArrayPositions()) {
					t.Fatalf("%q document %d field %d: %s %c %v %q, want %s %c %v %q", lang, i, k,
						g.Name(), g.EncodedFieldType(), g.Options(), g.Value(), w.Name(), w.EncodedFieldType(), w.Options(), w.Value())
				}
				g.Analyze()
				w.Analyze()
				wantFreqs := w.AnalyzedTokenFrequencies()
				if g.Name() == fieldText {
					// A pair's bucket holds no frequency (textField).
					for _, tok := range m.AnalyzerNamed(textAnalyzer).Analyze(w.Value()) {
						if tok.Type == analysis.Shingle {
							wantFreqs[string(tok.Term)].SetFrequency(0)
						}
					}
				}
				if !reflect.DeepEqual(g.AnalyzedTokenFrequencies(), wantFreqs) {
					t.Fatalf("%q document %d field %s: terms differ from the mapping's", lang, i, g.Name())
				}
				// The text field's size is counted as it is analyzed:
				// what walking its terms adds up.
				if tf, ok := g.(*textField); ok {
					if want := tf.TextField.Size() + wantFreqs.Size(); tf.Size() != want {
						t.Fatalf("%q document %d: the text field's size %d, want %d", lang, i, tf.Size(), want)
					}
				}
				wantLen := w.AnalyzedLength()
				if g.Name() == fieldText {
					words := 0
					for _, tok := range m.AnalyzerNamed(textAnalyzer).Analyze(w.Value()) {
						if tok.Type != analysis.Shingle {
							words++
						}
					}
					// A text of n words holds n-1 pairs.
					if n := max(words+words-1, 0); w.AnalyzedLength() != n {
						t.Fatalf("%q document %d: the mapping's length %d, not %d tokens for %d words", lang, i, w.AnalyzedLength(), n, words)
					}
					wantLen = min(words, maxTextLength)
					if words > maxTextLength {
						long++
					}
				}
				if g.AnalyzedLength() != wantLen {
					t.Fatalf("%q document %d field %s: length %d, want %d", lang, i, g.Name(), g.AnalyzedLength(), wantLen)
				}
			}
		}
	}
	if long == 0 {
		t.Fatal("no document was longer than the cap")
	}
}
