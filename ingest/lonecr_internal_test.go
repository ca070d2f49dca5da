package ingest

import (
	"bufio"
	"errors"
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
			"whole":    newLoneCRs(strings.NewReader(in)),
			"one byte": newLoneCRs(iotest.OneByteReader(strings.NewReader(in))),
			"halves":   newLoneCRs(iotest.HalfReader(strings.NewReader(in))),
		} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != want {
				t.Errorf("%s: %q reads as %q, %v; want %q", name, in, got, err, want)
			}
		}
	}
}

// TestLoneCRsToOneByteReads: a reader asked for one byte when it holds a
// CR back still gives a byte. It gave none, and bufio, asking for the
// last byte of its buffer a hundred times, gave up on the file: a line
// of 1 MiB - 1 bytes then a CR made the whole import fail.
func TestLoneCRsToOneByteReads(t *testing.T) {
	in := strings.Repeat("a", 1<<20-1) + "\rb\n"
	r := bufio.NewReaderSize(newLoneCRs(strings.NewReader(in)), 1<<20)
	var lines []int
	for {
		l, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lines = append(lines, -len(l))
			continue
		}
		if len(l) > 0 {
			lines = append(lines, len(l))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %v: %v", lines, err)
		}
	}
	if len(lines) != 2 || lines[0] != 1<<20 || lines[1] != 2 {
		t.Errorf("read %v, want a line of 1 MiB (its CR ended it) and b", lines)
	}
	// Through the reader itself, a byte at a time.
	got, err := io.ReadAll(iotest.OneByteReader(newLoneCRs(iotest.OneByteReader(strings.NewReader("x\r\r\ny\r")))))
	if err != nil || string(got) != "x\n\r\ny\n" {
		t.Errorf("one byte at a time: %q, %v", got, err)
	}
}
