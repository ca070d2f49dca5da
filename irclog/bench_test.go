package irclog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

// BenchmarkConvert measures reading lines into events, without the
// database, on a day of the real corpus (where it is absent, on the
// bundled sample's day, which the figure names).
func BenchmarkConvert(b *testing.B) {
	dir, src, err := corpus.Dir()
	if err != nil {
		b.Fatal(err)
	}
	day := filepath.Join(dir, "train", "2004-12-25.train-c.raw.txt")
	if src == corpus.Sample {
		day = filepath.Join(dir, "dev", "2009-10-01_17.raw.txt")
	}
	b.Log("reading", day)
	data, err := os.ReadFile(day)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		c, err := NewConverter(Plain, "2004-12-25.raw.txt", testOpts)
		if err != nil {
			b.Fatal(err)
		}
		for i, l := range lines {
			c.Line(i+1, l)
		}
	}
	b.ReportMetric(float64(len(lines)*b.N)/b.Elapsed().Seconds(), "lines/s")
}
