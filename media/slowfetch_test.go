package media_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// dripper serves the media IDs in slow one byte every interval until the
// client goes away (a hostile or stalled remote server behind the
// homeserver), and everything else from next.
type dripper struct {
	next     http.Handler
	slow     string
	interval time.Duration
	started  chan struct{} // gets a value when a slow download starts
	ended    atomic.Bool   // a slow download ended (the client gave up)
}

func (d *dripper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/"+d.slow) {
		d.next.ServeHTTP(w, r)
		return
	}
	defer d.ended.Store(true)
	w.WriteHeader(http.StatusOK)
	select {
	case d.started <- struct{}{}:
	default:
	}
	for {
		if _, err := w.Write([]byte("x")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(d.interval):
		}
	}
}

func newDripper(files map[string]string, slow string, interval time.Duration) *dripper {
	return &dripper{next: &homeserver{v1: true, files: files}, slow: slow, interval: interval, started: make(chan struct{}, 1)}
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// One dripping download holds one download slot, not the queue: the
// fetcher claims new files as slots free, where it used to claim a batch
// of 32 and wait for all of them, so every file queued after a slow one
// waited for its timeout (15 minutes), on each of its retries. The rate
// floor is off here: it is not what keeps the queue moving.
func TestFetcherSlowDownloadHoldsOnlyItsSlot(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	files := map[string]string{}
	evs := []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$slow", "m.room.message", "@mallory:evil.org", 2000, nil, `{"msgtype":"m.file","body":"s","url":"mxc://evil.org/a-slow"}`),
	}
	for i := range 40 {
		files[fmt.Sprintf("example.org/b%02d", i)] = fmt.Sprintf("file %d", i)
		evs = append(evs, ev(t, fmt.Sprintf("$f%02d", i), "m.room.message", "@bob:example.org", 2001+int64(i), nil,
			fmt.Sprintf(`{"msgtype":"m.file","body":"f","url":"mxc://example.org/b%02d"}`, i)))
	}
	if _, err := st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	hs := newDripper(files, "a-slow", 100*time.Millisecond)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	blobs, _ := media.OpenDir(t.TempDir())
	f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	f.SetDownloadLimits(10*time.Second, 0, 0)
	f.Poll = 50 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ready := 0
	waitFor(5*time.Second, func() bool {
		ready = 0
		for i := range 40 {
			m, err := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: fmt.Sprintf("b%02d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if m.State == store.MediaReady {
				ready++
			}
		}
		return ready == 40
	})
	if ready != 40 {
		t.Fatalf("after 5 s only %d of 40 files are fetched: the rest wait for one dripping download (still running: %v)", ready, !hs.ended.Load())
	}
	if hs.ended.Load() {
		t.Fatal("the dripping download ended before the others were fetched: the test proves nothing")
	}
}

// The bytes of a redacted file are deleted within seconds while the
// archiver runs (README, Media), even while a download drips: deletion no
// longer waits for every download in flight (it ran only between batches,
// and took a lock each download held to its end).
func TestFetcherDeletesWhileDownloading(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := newDripper(map[string]string{"example.org/doxx": "a secret file"}, "a-slow", 100*time.Millisecond)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	if _, err := st.PutEvents(ctx, []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$doxx", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"d","url":"mxc://example.org/doxx"}`),
	}); err != nil {
		t.Fatal(err)
	}
	blobs, _ := media.OpenDir(t.TempDir())
	f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	f.SetDownloadLimits(10*time.Second, 0, 0)
	f.Poll = 50 * time.Millisecond
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "doxx"})
	if m.State != store.MediaReady {
		t.Fatalf("doxx: state %v, error %q", m.State, m.Error)
	}
	path := blobs.Path(m.SHA256)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// A hostile member posts a file from a dripping server; a moderator
	// then redacts the doxxing file.
	if _, err := st.PutEvents(ctx, []store.Event{
		ev(t, "$slow", "m.room.message", "@mallory:evil.org", 3000, nil, `{"msgtype":"m.file","body":"s","url":"mxc://evil.org/a-slow"}`),
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hs.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow download never started")
	}
	if _, err := st.PutEvents(ctx, []store.Event{
		ev(t, "$red", "m.room.redaction", "@bob:example.org", 3001, nil, `{"redacts":"$doxx"}`),
	}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { _, err := os.Stat(path); return os.IsNotExist(err) }) {
		t.Fatalf("5 s after the redaction the redacted file's bytes are still on disk, behind a dripping download (still running: %v)", !hs.ended.Load())
	}
	if hs.ended.Load() {
		t.Fatal("the dripping download ended before the deletion: the test proves nothing")
	}
}

// A download whose body brings less than the minimum rate in a window is
// cut off at the end of that window, not at the client's timeout, and
// retried later like any failure; a slow but steady one is not.
func TestFetcherAbortsDownloadBelowMinimumRate(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	steady := strings.Repeat("s", 8<<10)
	hs := newDripper(map[string]string{"example.org/steady": steady}, "a-slow", 20*time.Millisecond)
	// The steady file comes in 512-byte pieces every 20 ms (25 KiB/s).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/steady") {
			hs.ServeHTTP(w, r)
			return
		}
		for i := 0; i < len(steady); i += 512 {
			w.Write([]byte(steady[i : i+512]))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}))
	defer srv.Close()
	if _, err := st.PutEvents(ctx, []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$slow", "m.room.message", "@mallory:evil.org", 2000, nil, `{"msgtype":"m.file","body":"s","url":"mxc://evil.org/a-slow"}`),
		ev(t, "$steady", "m.room.message", "@bob:example.org", 2001, nil, `{"msgtype":"m.file","body":"s","url":"mxc://example.org/steady"}`),
	}); err != nil {
		t.Fatal(err)
	}
	blobs, _ := media.OpenDir(t.TempDir())
	f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	// 1 KiB/s over 200 ms windows: the drip (50 bytes/s) is cut off
	// after one window, long before the 5 s timeout.
	f.SetDownloadLimits(5*time.Second, 1<<10, 200*time.Millisecond)
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	m, _ := st.MediaFor(ctx, event.MXC{Server: "evil.org", MediaID: "a-slow"})
	if m.State != store.MediaPending || !strings.Contains(m.Error, "minimum rate") {
		t.Fatalf("the dripping file: state %v, error %q; want it pending, failed for its rate (to be retried)", m.State, m.Error)
	}
	if !hs.ended.Load() {
		t.Fatal("the dripping download is still running")
	}
	m, _ = st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "steady"})
	if m.State != store.MediaReady || m.Size != int64(len(steady)) {
		t.Fatalf("the steady file: state %v, %d bytes, error %q; want it fetched", m.State, m.Size, m.Error)
	}
}

// slowUpload stores like a bucket on a slow link: the whole body is read
// first, then the upload takes a while and fails if its context ends.
type slowUpload struct {
	*media.Dir
	upload time.Duration
}

func (s slowUpload) Put(ctx context.Context, r io.Reader, max int64) (media.Blob, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return media.Blob{}, err
	}
	select {
	case <-ctx.Done():
		return media.Blob{}, context.Cause(ctx)
	case <-time.After(s.upload):
	}
	return s.Dir.Put(ctx, bytes.NewReader(b), max)
}

// The minimum rate is the sender's: once the body has come in, storing it
// (an upload to a bucket) may take several windows.
func TestFetcherRateEndsWithTheBody(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	srv := httptest.NewServer(&homeserver{v1: true, files: map[string]string{"example.org/a": "quick to send, slow to store"}})
	defer srv.Close()
	st.PutEvents(ctx, []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$a", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"a","url":"mxc://example.org/a"}`),
	})
	dir, _ := media.OpenDir(t.TempDir())
	f, _ := media.NewFetcher(st, slowUpload{dir, 500 * time.Millisecond}, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	f.SetDownloadLimits(5*time.Second, 1<<10, 100*time.Millisecond)
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	if m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "a"}); m.State != store.MediaReady {
		t.Fatalf("state %v, error %q; want the file stored", m.State, m.Error)
	}
}
