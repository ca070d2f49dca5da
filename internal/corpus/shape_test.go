package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// testLogs is a small corpus: two channels over four months, a line every
// ten minutes, every fifth line answering the one before.
func testLogs() []Log {
	start := time.Date(2010, 3, 1, 0, 0, 0, 0, time.UTC)
	var logs []Log
	for c, name := range []string{"ubuntu", "linux"} {
		l := Log{channel: name}
		for i := range 6000 {
			ln := Line{ts: start.Add(time.Duration(i)*20*time.Minute + time.Duration(c)*time.Minute), nick: fmt.Sprintf("nick%d", i%37),
				text: fmt.Sprintf("line %d of %s about apt and grub", i, name), replyTo: -1}
			if i%5 == 4 {
				ln.replyTo = i - 1
			}
			l.lines = append(l.lines, ln)
		}
		logs = append(logs, l)
	}
	return logs
}

type shapedEvent struct {
	ID      string `json:"event_id"`
	Room    string `json:"room_id"`
	Type    string `json:"type"`
	Sender  string `json:"sender"`
	TS      int64  `json:"origin_server_ts"`
	Content struct {
		Body      string `json:"body"`
		Formatted string `json:"formatted_body"`
		Alias     string `json:"alias"`
		Name      string `json:"name"`
		Relates   *struct {
			InReplyTo struct {
				EventID string `json:"event_id"`
			} `json:"m.in_reply_to"`
		} `json:"m.relates_to"`
	} `json:"content"`
}

// generate runs a shape and checks what every shape must keep: exactly n
// events, a room's creation and a sender's join before its messages,
// replies to earlier messages of the same room, the same bytes every time.
func generate(t *testing.T, shape string, n int) []shapedEvent {
	t.Helper()
	var buf, again bytes.Buffer
	written, err := GenerateShape(&buf, testLogs(), n, shape)
	if err != nil || written != n {
		t.Fatalf("%s: wrote %d events, %v; want %d", shape, written, err, n)
	}
	if _, err := GenerateShape(&again, testLogs(), n, shape); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatalf("%s: two runs wrote different events (%v)", shape, err)
	}
	var evs []shapedEvent
	created, joined, msgRoom := map[string]bool{}, map[string]bool{}, map[string]string{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e shapedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case "m.room.create":
			created[e.Room] = true
		case "m.room.canonical_alias":
			// As Generate names them: the room's own localpart and server.
			if e.Content.Alias != "#"+strings.TrimPrefix(e.Room, "!") {
				t.Fatalf("%s: room %s has the alias %q", shape, e.Room, e.Content.Alias)
			}
		case "m.room.name":
			if strings.Contains(e.Content.Name, ":") {
				t.Fatalf("%s: room %s is named %q", shape, e.Room, e.Content.Name)
			}
		case "m.room.member":
			joined[e.Room+" "+e.Sender] = true
		case "m.room.message":
			if !created[e.Room] || !joined[e.Room+" "+e.Sender] {
				t.Fatalf("%s: message %s in %s before its room's creation or its sender's join", shape, e.ID, e.Room)
			}
			if r := e.Content.Relates; r != nil && msgRoom[r.InReplyTo.EventID] != e.Room {
				t.Fatalf("%s: %s answers %s, not an earlier message of its room", shape, e.ID, r.InReplyTo.EventID)
			}
			msgRoom[e.ID] = e.Room
			evs = append(evs, e)
		}
	}
	return evs
}

func TestShapeSkewed(t *testing.T) {
	evs := generate(t, ShapeSkewed, 10_000)
	rooms := map[string]int{}
	for _, e := range evs {
		rooms[e.Room]++
	}
	counts := make([]int, 0, len(rooms))
	for _, n := range rooms {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	busy := counts[0] + counts[1] + counts[2]
	if len(rooms) < 300 || float64(busy) < 0.8*float64(len(evs)) || counts[3] > len(evs)/100 {
		t.Fatalf("skewed: %d rooms, the busiest three hold %d of %d messages, the fourth %d; want many sparse rooms and three holding most",
			len(rooms), busy, len(evs), counts[3])
	}
}

func TestShapeBursty(t *testing.T) {
	evs := generate(t, ShapeBursty, 20_000) // more than one copy
	months := map[string]int{}
	years := map[int]int{} // months with messages
	for i, e := range evs {
		ts := time.UnixMilli(e.TS).UTC()
		if months[ts.Format("2006-01")]++; months[ts.Format("2006-01")] == 1 {
			years[ts.Year()]++
		}
		if i > 0 && e.TS < evs[i-1].TS {
			t.Fatalf("bursty: message %d is older than the one before", i)
		}
	}
	first := time.UnixMilli(evs[0].TS).UTC().Year()
	last := time.UnixMilli(evs[len(evs)-1].TS).UTC().Year()
	busiest := 0
	for _, n := range years {
		busiest = max(busiest, n)
	}
	if busiest > 4 || last-first+1 <= len(years) {
		t.Fatalf("bursty: months %v over years %v; want at most four months a year and empty years between", months, years)
	}
}

func TestShapeMarkdown(t *testing.T) {
	evs := generate(t, ShapeMarkdown, 3_000)
	total := 0
	for _, e := range evs {
		total += len(e.Content.Body)
		if e.Content.Formatted == "" {
			t.Fatalf("markdown: %s has no HTML", e.ID)
		}
	}
	if avg := total / len(evs); avg < 200 {
		t.Fatalf("markdown: messages average %d bytes; want long ones", avg)
	}
}

func TestShapeUnknown(t *testing.T) {
	if _, err := GenerateShape(&bytes.Buffer{}, testLogs(), 10, "nope"); err == nil {
		t.Fatal("an unknown shape was accepted")
	}
}

// TestCopiesStayInRange: however many copies a scale needs, every shape's
// timestamps stay after the corpus's start and before the year 2200. A
// corpus spanning decades, replayed to many copies, once overflowed
// time.Duration (292 years) and wrote negative timestamps, which the
// import rightly refused (the markdown shape at 1M events).
func TestCopiesStayInRange(t *testing.T) {
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	var logs []Log
	for c, name := range []string{"old", "older"} {
		l := Log{channel: name}
		for i := range 30 {
			// 30 lines over 40 years.
			l.lines = append(l.lines, Line{ts: start.AddDate(i*4/3, 0, c), nick: fmt.Sprintf("nick%d", i%3), text: fmt.Sprintf("line %d", i), replyTo: -1})
		}
		logs = append(logs, l)
	}
	limit := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, shape := range Shapes {
		var buf bytes.Buffer
		if _, err := GenerateShape(&buf, logs, 2_000, shape); err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e shapedEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if ts := time.UnixMilli(e.TS).UTC(); ts.Before(start.Add(-time.Hour)) || !ts.Before(limit) {
				t.Fatalf("%s: %s at %s; want between %s and %s", shape, e.ID, ts, start, limit)
			}
		}
	}
}
