package ingest

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLoneCRs: a CR not followed by an LF reads as an LF, and a CR LF is
// kept, wherever the reads of the file cut it (one byte at a time, a CR
// last in a read and its LF first in the next).
func TestLoneCRs(t *testing.T) {
	for in, want := range map[string]string{
		"a\rb\r\nc\r":    "a\nb\r\nc\n",
		"\r\r\n\r":       "\n\r\n\n",
		"a\nb\r\n":       "a\nb\r\n",
		"":               "",
		"x\r\r\r\ny\r\n": "x\n\n\r\ny\r\n",
	} {
		for name, r := range map[string]io.Reader{
			"whole":    &loneCRs{r: strings.NewReader(in)},
			"one byte": &loneCRs{r: iotest.OneByteReader(strings.NewReader(in))},
			"halves":   &loneCRs{r: iotest.HalfReader(strings.NewReader(in))},
		} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != want {
				t.Errorf("%s: %q reads as %q, %v; want %q", name, in, got, err, want)
			}
		}
	}
}
