// Package corpus replays the IRC corpus in ../shared/corpus (real chat:
// text, nicks and the human-labelled reply graph) as Matrix events, for
// tests and benchmarks that need realistic data at any scale.
package corpus

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Log is one corpus file: a channel's messages over a window of time.
type Log struct {
	channel string
	lines   []Line
}

type Line struct {
	ts      time.Time
	nick    string
	text    string
	replyTo int // index in lines of the message this one answers, or -1
}

var (
	// #ubuntu and channel-two: "[HH:MM] <nick> text", date in the file name.
	rawLine = regexp.MustCompile(`^\[(\d\d):(\d\d)\] <([^>]+)> (.*)$`)
	// new-domains: "channel YYYY-MM-DD [HH:MM:SS] <nick> text".
	asciiLine = regexp.MustCompile(`^(\S+) (\d{4}-\d\d-\d\d) \[(\d\d):(\d\d):(\d\d)\] <([^>]+)> (.*)$`)
	fileDate  = regexp.MustCompile(`^(\d{4}-\d\d-\d\d)`)
)

func Read(dir string) ([]Log, error) {
	var files []string
	for _, pat := range []string{"train/*.raw.txt", "dev/*.raw.txt", "test/*.raw.txt", "channel-two/channel-two.all.raw.txt", "new-domains/*.ascii.txt"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no corpus files under %s (want train/*.raw.txt and friends)", dir)
	}
	sort.Strings(files)
	var logs []Log
	for _, f := range files {
		l, err := readLog(f)
		if err != nil {
			return nil, err
		}
		if len(l.lines) > 0 {
			logs = append(logs, l)
		}
	}
	return logs, nil
}

func readLog(path string) (Log, error) {
	base := filepath.Base(path)
	l := Log{channel: "ubuntu"}
	switch {
	case strings.HasPrefix(base, "channel-two"):
		l.channel = "linux"
	case strings.HasSuffix(base, ".ascii.txt"):
		l.channel = strings.SplitN(base, ".", 2)[0]
	}
	day := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC) // channel-two has no date
	if m := fileDate.FindStringSubmatch(base); m != nil {
		day, _ = time.Parse("2006-01-02", m[1])
	}
	f, err := os.Open(path)
	if err != nil {
		return l, err
	}
	defer f.Close()
	// Corpus line numbers (0-based, counting every line) map to our index.
	index := map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lineNo := -1
	var last time.Time
	for sc.Scan() {
		lineNo++
		s := sc.Text()
		var ts time.Time
		var nick, text string
		if m := asciiLine.FindStringSubmatch(s); m != nil {
			d, err := time.Parse("2006-01-02", m[2])
			if err != nil {
				continue
			}
			h, _ := strconv.Atoi(m[3])
			mi, _ := strconv.Atoi(m[4])
			se, _ := strconv.Atoi(m[5])
			ts = d.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(se)*time.Second)
			nick, text = m[6], m[7]
		} else if m := rawLine.FindStringSubmatch(s); m != nil {
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			ts = day.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute)
			nick, text = m[3], m[4]
		} else {
			continue // system lines ("=== x joined") and blanks
		}
		// Minute resolution: spread a minute's lines so order is strict.
		if !ts.After(last) {
			ts = last.Add(250 * time.Millisecond)
		}
		last = ts
		index[lineNo] = len(l.lines)
		l.lines = append(l.lines, Line{ts: ts, nick: nick, text: text, replyTo: -1})
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("%s: %w", path, err)
	}
	readAnnotations(path, index, l.lines)
	return l, nil
}

// readAnnotations applies the human-labelled reply graph ("A B -": line A
// answers line B) where both lines are messages.
func readAnnotations(rawPath string, index map[int]int, lines []Line) {
	ann := strings.Replace(strings.Replace(rawPath, ".raw.txt", ".annotation.txt", 1), ".ascii.txt", ".annotation.txt", 1)
	f, err := os.Open(ann)
	if err != nil {
		return // annotations are optional
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 2 {
			continue
		}
		a, errA := strconv.Atoi(parts[0])
		b, errB := strconv.Atoi(parts[1])
		if errA != nil || errB != nil || a == b {
			continue
		}
		ia, okA := index[a]
		ib, okB := index[b]
		if okA && okB && ib < ia {
			lines[ia].replyTo = ib
		}
	}
}

func CountMessages(logs []Log) int {
	n := 0
	for _, l := range logs {
		n += len(l.lines)
	}
	return n
}
