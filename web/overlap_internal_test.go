package web

import (
	"errors"
	"strings"
	"testing"
)

// TestOverlap: with overlapping reads (PostgreSQL) f runs at once on a
// goroutine of its own and its answer waits for whoever asks; a panic in
// it is its error. Without (SQLite) f runs when its answer is asked for.
func TestOverlap(t *testing.T) {
	started := make(chan struct{})
	s := &Server{overlapReads: true}
	get := overlap(s, func() (int, error) {
		close(started)
		return 7, errors.New("seven")
	})
	<-started // ran before anyone asked: the test would hang otherwise
	if v, err := get(); v != 7 || err == nil || err.Error() != "seven" {
		t.Errorf("overlapped: %d, %v; want 7, seven", v, err)
	}
	if _, err := overlap(s, func() (int, error) { panic("boom") })(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a panic in an overlapped read: %v", err)
	}

	ran := false
	get = overlap(&Server{}, func() (int, error) { ran = true; return 1, nil })
	if ran {
		t.Error("without overlapping reads f ran before its answer was asked for")
	}
	if v, err := get(); v != 1 || err != nil || !ran {
		t.Errorf("sequential: %d, %v, ran %v", v, err, ran)
	}
}
