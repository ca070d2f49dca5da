package irclog

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkConvert measures reading lines into events, without the
// database, on a day of the real corpus (skipped where it is absent).
func BenchmarkConvert(b *testing.B) {
	data, err := os.ReadFile("../../shared/corpus/ubuntu-irc/train/2004-12-25.train-c.raw.txt")
	if err != nil {
		b.Skip("corpus not found:", err)
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
