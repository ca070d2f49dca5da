package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
)

// TestStateEventsWrittenAsRead: an import's first pass (state events)
// writes its batches as it reads them, as the second writes messages,
// so its memory does not grow with the file. A channel's years in one
// file (WeeChat's default log) hold more joins and quits than messages,
// and the pass held every one of them until the file's end: 2.6 KB each.
// The heap is read as each batch is written, the most the pass holds at
// once, for a file of joins and quits and for one of as many messages.
func TestStateEventsWrittenAsRead(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 2 × 30,000 lines")
	}
	const n = 30000
	dir := t.TempDir()
	stamp := func(i int) string {
		return time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05")
	}
	write := func(name string, line func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(line(i) + "\n")
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	joins := write("joins.weechatlog", func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("%s\t-->\tuser%d (~u@host-%d.example.net) has joined #opendev", stamp(i), i, i)
		}
		return fmt.Sprintf("%s\t<--\tuser%d (~u@host-%d.example.net) has quit (Ping timeout: 252 seconds)", stamp(i), i-1, i-1)
	})
	msgs := write("msgs.weechatlog", func(i int) string {
		return fmt.Sprintf("%s\tuser%d\tsome message of about the same length as a join line, number %d", stamp(i), i%50, i)
	})
	peak := func(path string) uint64 {
		st := storetest.Open(t, "sqlite")
		room, err := irclog.RoomID("#opendev:archive.test")
		if err != nil {
			t.Fatal(err)
		}
		opts := ImportOptions{BatchSize: 1000, IRC: &IRCOptions{NewRoomAlias: "#opendev:archive.test",
			Options: irclog.Options{Network: "OFTC", Channel: "#opendev", Server: "archive.test", Room: room}}}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, most := ms.HeapAlloc, uint64(0)
		opts.batched = func(int, int) {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				most = max(most, ms.HeapAlloc-base)
			}
		}
		rep, err := New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, opts)
		if err != nil || rep.Events < n {
			t.Fatalf("import %s: %d events, %v", path, rep.Events, err)
		}
		return most
	}
	pm, pj := peak(msgs), peak(joins)
	t.Logf("the most heap at a batch: %d messages %.1f MiB, %d joins and quits %.1f MiB", n, float64(pm)/(1<<20), n, float64(pj)/(1<<20))
	if pj > 2*pm {
		t.Errorf("joins and quits held %.1f MiB at a batch, as many messages %.1f MiB", float64(pj)/(1<<20), float64(pm)/(1<<20))
	}
}
