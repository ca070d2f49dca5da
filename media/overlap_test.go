package media_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// pausingBlobs, on the first Put of bytes starting with prefix, calls
// before (once the bytes are downloaded, before they are stored), then
// holds the Put after storing until release is closed: the moment between
// a download finding its bytes on disk and recording them in the database.
type pausingBlobs struct {
	*media.Dir
	prefix  string
	before  func()
	once    sync.Once
	paused  chan struct{}
	release chan struct{}
}

func (p *pausingBlobs) Put(ctx context.Context, r io.Reader, max int64) (media.Blob, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return media.Blob{}, err
	}
	first := false
	if strings.HasPrefix(string(b), p.prefix) {
		p.once.Do(func() { first = true })
	}
	if first {
		p.before()
	}
	blob, err := p.Dir.Put(ctx, strings.NewReader(string(b)), max)
	if first {
		close(p.paused)
		<-p.release
	}
	return blob, err
}

// countingHomeserver counts the downloads of each media ID.
type countingHomeserver struct {
	*homeserver
	mu    sync.Mutex
	count map[string]int
}

func (h *countingHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.count[path.Base(r.URL.Path)]++
	h.mu.Unlock()
	h.homeserver.ServeHTTP(w, r)
}

func (h *countingHomeserver) downloads(mediaID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[mediaID]
}

// `archiver media fetch` beside a running `archiver run` (two fetchers on
// one database, sharing nothing in memory): the deletion pass of one must
// not delete bytes the other has just found on disk and is recording, and
// one file is downloaded by one of them, not both.
func TestTwoFetchersOnOneDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const body = "the same bytes, posted twice"
		hs := &countingHomeserver{homeserver: &homeserver{v1: true, files: map[string]string{
			"example.org/old": body, "example.org/new": body, "example.org/third": "third bytes", "example.org/other": "other bytes",
		}}, count: map[string]int{}}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		dir, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		st.PutEvents(ctx, []store.Event{
			ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			ev(t, "$old", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"a","url":"mxc://example.org/old"}`),
		})
		plain, _ := media.NewFetcher(st, dir, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		if _, err := plain.Drain(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		old, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "old"})
		if old.State != store.MediaReady {
			t.Fatalf("old: %+v", old)
		}
		// The same bytes are posted again.
		st.PutEvents(ctx, []store.Event{
			ev(t, "$new", "m.room.message", "@bob:example.org", 4000, nil, `{"msgtype":"m.file","body":"b","url":"mxc://example.org/new"}`),
		})

		// Fetcher A (`archiver media fetch`) downloads "new"; while it
		// does, $old is redacted, so the bytes on disk become an orphan
		// for the next deletion pass. A finds them on disk (the same
		// bytes) and is held before recording them.
		pa := &pausingBlobs{Dir: dir, prefix: body, paused: make(chan struct{}), release: make(chan struct{}), before: func() {
			if _, err := st.PutEvents(ctx, []store.Event{ev(t, "$r", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$old"}`)}); err != nil {
				t.Error(err)
			}
		}}
		// Fetcher B (the running archiver) shares the directory and the
		// database, nothing else.
		b, _ := media.NewFetcher(st, dir, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		b.Concurrency = 1
		overlap(t, st, pa, srv.URL, func() {
			// B's deletion pass runs in the overlap.
			if _, err := b.Collect(ctx); err != nil {
				t.Fatal(err)
			}
		})
		// Whatever order things happened in, a file the database calls
		// stored is on disk.
		ready(t, st, dir, "new")

		// While A downloads a file, B's fetch rounds leave it (and what
		// else A has claimed) alone.
		st.PutEvents(ctx, []store.Event{
			ev(t, "$third", "m.room.message", "@bob:example.org", 5000, nil, `{"msgtype":"m.file","body":"c","url":"mxc://example.org/third"}`),
			ev(t, "$other", "m.room.message", "@bob:example.org", 5001, nil, `{"msgtype":"m.file","body":"d","url":"mxc://example.org/other"}`),
		})
		pa = &pausingBlobs{Dir: dir, prefix: "third", paused: make(chan struct{}), release: make(chan struct{}), before: func() {}}
		overlap(t, st, pa, srv.URL, func() {
			if _, err := b.Drain(ctx, "", nil); err != nil {
				t.Fatal(err)
			}
		})
		for _, id := range []string{"third", "other"} {
			if n := hs.downloads(id); n != 1 {
				t.Errorf("%s downloaded %d times by two fetchers; want once", id, n)
			}
			ready(t, st, dir, id)
		}
	})
}

// overlap runs fetcher A (blobs pa) through a Drain and calls during while
// A is held in pa.
func overlap(t *testing.T, st *store.Store, pa *pausingBlobs, hs string, during func()) {
	t.Helper()
	ctx := context.Background()
	a, _ := media.NewFetcher(st, pa, hs, "as-token", "@archive:example.org", storetest.Logger(t))
	a.Concurrency = 1
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Drain(ctx, "", nil)
		aDone <- err
	}()
	<-pa.paused
	during()
	close(pa.release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
}

// ready fails unless mediaID is stored and its bytes are on disk.
func ready(t *testing.T, st *store.Store, dir *media.Dir, mediaID string) {
	t.Helper()
	m, err := st.MediaFor(context.Background(), event.MXC{Server: "example.org", MediaID: mediaID})
	if err != nil || m.State != store.MediaReady {
		t.Fatalf("%s after both fetchers: %+v, %v; want ready", mediaID, m, err)
	}
	if _, err := os.Stat(dir.Path(m.SHA256)); err != nil {
		t.Errorf("%s is recorded as stored but its bytes are gone: %v", mediaID, err)
	}
}

// The same race inside one process: the archiver's deletion pass no longer
// waits for its own downloads (a dripping one held every erasure back), so
// the database's check alone keeps a deduplicated download's bytes: the
// download that found them on disk sees them gone when it records them,
// and downloads them again.
func TestCollectBesideOwnDownload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const body = "the same bytes, posted twice"
		hs := &countingHomeserver{homeserver: &homeserver{v1: true, files: map[string]string{
			"example.org/old": body, "example.org/new": body,
		}}, count: map[string]int{}}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		dir, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		st.PutEvents(ctx, []store.Event{
			ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			ev(t, "$old", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"a","url":"mxc://example.org/old"}`),
		})
		pa := &pausingBlobs{Dir: dir, prefix: "never", paused: make(chan struct{}), release: make(chan struct{})}
		f, _ := media.NewFetcher(st, pa, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		if _, err := f.Drain(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		// "new" has the same bytes; while it downloads, $old is redacted
		// and the download is held after finding the bytes on disk.
		pa.prefix = body
		pa.before = func() {
			if _, err := st.PutEvents(ctx, []store.Event{ev(t, "$r", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$old"}`)}); err != nil {
				t.Error(err)
			}
		}
		st.PutEvents(ctx, []store.Event{
			ev(t, "$new", "m.room.message", "@bob:example.org", 4000, nil, `{"msgtype":"m.file","body":"b","url":"mxc://example.org/new"}`),
		})
		drained := make(chan error, 1)
		go func() {
			_, err := f.Drain(ctx, "", nil)
			drained <- err
		}()
		<-pa.paused
		collected := make(chan error, 1)
		go func() {
			_, err := f.Collect(ctx)
			collected <- err
		}()
		select {
		case err := <-collected:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the deletion pass waited for the fetcher's own download")
		}
		close(pa.release)
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		ready(t, st, dir, "new")
		if n := hs.downloads("new"); n != 2 {
			t.Errorf("new downloaded %d times; want twice (its bytes were deleted under it once)", n)
		}
	})
}
