package indexer

import (
	"fmt"
	"reflect"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	bdoc "github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// maxTextLength caps the text field's length as the index holds it.
//
// Bleve keeps a field's length (its norm: a hit scores 1/sqrt of it) with
// every posting of the field, as a varint: one byte up to 127, two above.
// It counted tokens, and a message of n words has n-1 pair tokens too
// (pairs.go), so every posting of a message of 64 words or more took two
// bytes: in a 1M replay of long Markdown messages, 164 postings a message
// and most of them with a two-byte length. The length now counts words, up
// to 127: the norm of a message of n words is 1/sqrt(n) rather than
// 1/sqrt(2n-1), the same order of messages by length up to 127 words, and
// longer messages are scored as if they had 127.
const maxTextLength = 127

// textField is the text field of a message's document: Bleve's text field
// but for its length (maxTextLength), its pairs' frequencies and its size
// (Analyze).
type textField struct {
	*bdoc.TextField
	length int
	freqs  index.TokenFrequencies
	// termsSize is what freqs.Size() would add up by walking freqs.
	termsSize int
}

// Analyze counts the field's terms as analysis.TokenFrequency does for a
// field without term vectors (fieldOptions: with them, the mapping's
// terms would hold locations, and TestDocBuilderAsMapping would fail),
// but for pairs (below), and sizes them as it goes: Bleve asks every
// document's size (Document.Size, for its statistics), and the walk of
// every term of a long message this took, in TokenFrequencies.Size, was
// 3.8% of the CPU of reindexing the 1M Markdown replay. The terms are
// allocated together, not one by one.
func (f *textField) Analyze() {
	tokens := f.Analyzer().Analyze(f.Value())
	f.freqs = make(index.TokenFrequencies, len(tokens))
	slab := make([]index.TokenFreq, 0, len(tokens))
	words, termBytes := 0, 0
	for _, t := range tokens {
		tf, ok := f.freqs[string(t.Term)]
		if !ok {
			slab = append(slab, index.TokenFreq{Term: t.Term})
			tf = &slab[len(slab)-1]
			f.freqs[string(t.Term)] = tf
			termBytes += len(t.Term)
		}
		// A pair's bucket is matched, never scored: a phrase is scored
		// by its words (searchTerms). Its postings hold a frequency of 0,
		// and Bleve (zapx) writes a posting's length only after a
		// frequency above 0: one varint a posting, not two, a byte less
		// for each of a message's pairs (index format 11). A pair's term
		// holds pairSep, which no word does, so no word's count is kept
		// at 0 with it.
		if t.Type != analysis.Shingle {
			words++
			tf.SetFrequency(tf.Frequency() + 1)
		}
	}
	f.length = min(words, maxTextLength)
	// TokenFrequencies.Size of terms without locations: the map, a key
	// and a pointer per term, and each term's TokenFreq with its bytes
	// twice (key and Term).
	f.termsSize = sizeOfTermsMap + len(f.freqs)*(sizeOfTermEntry+sizeOfTokenFreq) + 2*termBytes
}

// The sizes TokenFrequencies.Size adds up (bleve_index_api's sizes.go and
// freq.go), TestDocBuilderAsMapping compares.
var (
	sizeOfTermsMap  = int(reflect.TypeFor[map[string]*index.TokenFreq]().Size())
	sizeOfTermEntry = int(reflect.TypeFor[string]().Size() + reflect.TypeFor[*index.TokenFreq]().Size())
	sizeOfTokenFreq = int(reflect.TypeFor[index.TokenFreq]().Size())
)

func (f *textField) AnalyzedLength() int { return f.length }

func (f *textField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freqs }

// Size counts the terms too, which the wrapped field does not hold.
func (f *textField) Size() int { return f.TextField.Size() + f.termsSize }

// docBuilder makes a message's Bleve document as the index mapping
// (newMapping) would, field for field, but for the text field's length
// (textField), and without walking the document by reflection.
type docBuilder struct {
	text, keyword analysis.Analyzer
}

func newDocBuilder(m mapping.IndexMapping) (docBuilder, error) {
	b := docBuilder{text: m.AnalyzerNamed(textAnalyzer), keyword: m.AnalyzerNamed(keyword.Name)}
	if b.text == nil || b.keyword == nil {
		return docBuilder{}, fmt.Errorf("the index mapping lacks the analyzer %q or %q", textAnalyzer, keyword.Name)
	}
	return b, nil
}

// fieldOptions are every field's: indexed, not stored, no term vectors
// and no doc values (newMapping).
const fieldOptions = index.IndexField

// build returns doc as the document id, its fields in the order the
// mapping adds them (document's).
func (b docBuilder) build(id string, doc document) *bdoc.Document {
	d := bdoc.NewDocument(id)
	d.Fields = make([]bdoc.Field, 0, 7)
	d.AddField(&textField{TextField: bdoc.NewTextFieldCustom(fieldText, []uint64{}, []byte(doc.Text), fieldOptions, b.text)})
	b.addKeyword(d, fieldSender, doc.Sender)
	b.addKeyword(d, fieldRoom, doc.Room)
	addFlag(d, fieldHasLink, doc.HasLink)
	addFlag(d, fieldIsThread, doc.IsThread)
	addFlag(d, fieldIsPoll, doc.IsPoll)
	b.addKeyword(d, fieldMonth, doc.Month)
	b.addKeyword(d, fieldDay, doc.Day)
	return d
}

func (b docBuilder) addKeyword(d *bdoc.Document, name, value string) {
	d.AddField(bdoc.NewTextFieldCustom(name, []uint64{}, []byte(value), fieldOptions, b.keyword))
}

// addFlag adds a flag that is set; the mapping leaves out a nil one.
func addFlag(d *bdoc.Document, name string, v *bool) {
	if v != nil {
		d.AddField(bdoc.NewBooleanFieldWithIndexingOptions(name, []uint64{}, *v, fieldOptions))
	}
}
