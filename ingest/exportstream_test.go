package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// An Element export is read as a stream, a message at a time: decoded
// whole, a 400 MiB export (from a ZIP of 1 MiB) took 1.5 GiB of memory
// (helper-91). The heap an import takes does not grow with the export:
// importing 96 MiB of messages takes less than 48 MiB more of it than
// importing 24 MiB (110 and 90 MiB here; before, 243 and 116).
func TestExportIsReadAsAStream(t *testing.T) {
	grew := func(size int) int64 {
		st := storetest.Open(t, "sqlite")
		in := ingest.New(st, storetest.Logger(t), "")
		p := filepath.Join(t.TempDir(), "export.json")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		w.WriteString(`{"room_name":"big","messages":[` + "\n")
		w.WriteString(`{"type":"m.room.create","room_id":"!big:x","sender":"@a:x","event_id":"$c","origin_server_ts":1,"state_key":"","content":{"room_version":"10"}},` + "\n")
		w.WriteString(`{"type":"m.room.history_visibility","room_id":"!big:x","sender":"@a:x","event_id":"$hv","origin_server_ts":2,"state_key":"","content":{"history_visibility":"world_readable"}}`)
		body := strings.Repeat("word ", 200)
		n := 0
		for written := 0; written < size; n++ {
			line := fmt.Sprintf(",\n"+`{"type":"m.room.message","room_id":"!big:x","sender":"@a:x","event_id":"$m%d","origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`, n, 1000+n, body)
			w.WriteString(line)
			written += len(line)
		}
		w.WriteString("\n]}\n")
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		rep, err := in.ImportFile(context.Background(), p, ingest.ImportOptions{})
		close(stop)
		<-done
		if err != nil || rep.Stored != n+2 {
			t.Fatalf("import: %s, %v; want %d events stored", rep, err, n+2)
		}
		return int64(peak.Load()) - int64(base.HeapInuse)
	}
	// Garbage not yet collected counts in the heap in use: collected
	// sooner, what the import holds shows.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	small, large := grew(24<<20), grew(96<<20)
	t.Logf("heap taken: %d MiB for 24 MiB, %d MiB for 96 MiB", small>>20, large>>20)
	if large-small > 48<<20 {
		t.Errorf("importing a 96 MiB export took %d MiB more of the heap, a 24 MiB one %d MiB", large>>20, small>>20)
	}
}

// An export that breaks off is refused whole, before anything of it is
// stored, as when it was read into memory first.
func TestTruncatedExportIsRefusedWhole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := ingest.New(st, storetest.Logger(t), "")
		p := filepath.Join(t.TempDir(), "export.json")
		body := `{"room_name":"cut","messages":[
{"type":"m.room.create","room_id":"!cut:x","sender":"@a:x","event_id":"$c","origin_server_ts":1,"state_key":"","content":{"room_version":"10"}},
{"type":"m.room.history_visibility","room_id":"!cut:x","sender":"@a:x","event_id":"$hv","origin_server_ts":2,"state_key":"","content":{"history_visibility":"world_readable"}},
{"type":"m.room.message","room_id":"!cut:x","sender":"@a:x","event_id":"$m1","origin_server_ts":3,"content":{"msgtype":"m.text","body":"one"}},
{"type":"m.room.message","room_id":"!cut:x","sender":"@a:x","event_id":"$m2","origin_server_ts":4,"content":{"msgtype":"m.te`
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := in.ImportFile(context.Background(), p, ingest.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), "not an Element export") {
			t.Errorf("import of a truncated export: %s, %v; want it refused", rep, err)
		}
		if n, err := st.CountEvents(context.Background()); err != nil || n != 0 {
			t.Errorf("%d events stored, %v; want none", n, err)
		}
	})
}

// A state event whose "state_key" is written with an escape
// ("state\u005fkey", which a parser reads as the key) is state: the pass
// of state events passed it over, unparsed, and the pass of the rest
// dropped it as state, so an export's history visibility was lost and
// every message judged not public (helper-92). In an Element export and
// in NDJSON alike.
func TestEscapedStateKeyIsState(t *testing.T) {
	hv := `{"event_id":"$hv","room_id":"!ze:x","type":"m.room.history_visibility","sender":"@a:x","origin_server_ts":2,"state\u005fkey":"","content":{"history_visibility":"world_readable"}}`
	msg := `{"event_id":"$m","room_id":"!ze:x","type":"m.room.message","sender":"@a:x","origin_server_ts":10,"content":{"msgtype":"m.text","body":"hi"}}`
	for name, file := range map[string]string{
		"element": `{"room_name":"R","messages":[` + hv + `,` + msg + `]}`,
		"ndjson":  hv + "\n" + msg + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				in := ingest.New(st, storetest.Logger(t), "")
				p := filepath.Join(t.TempDir(), "export.json")
				if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
					t.Fatal(err)
				}
				rep, err := in.ImportFile(context.Background(), p, ingest.ImportOptions{})
				if err != nil || rep.Stored != 2 {
					t.Errorf("import: %s, %v; want both events stored, the message public", rep, err)
				}
			})
		})
	}
}
