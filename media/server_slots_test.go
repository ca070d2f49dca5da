package media_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// serverDripper drips every file of one server (the mxc URI's server
// part), a byte every interval until the client goes away, as a hostile
// server behind the homeserver may for the client's whole timeout, and
// serves everything else from next. It counts that server's downloads in
// flight.
type serverDripper struct {
	next     http.Handler
	server   string
	interval time.Duration
	mu       sync.Mutex
	inflight int
	most     int // the most in flight at once
	ended    int // downloads that ended (the client gave up)
}

func (d *serverDripper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/download/"+d.server+"/") {
		d.next.ServeHTTP(w, r)
		return
	}
	d.mu.Lock()
	d.inflight++
	d.most = max(d.most, d.inflight)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inflight--
		d.ended++
		d.mu.Unlock()
	}()
	w.WriteHeader(http.StatusOK)
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

func (d *serverDripper) counts() (inflight, most, ended int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inflight, d.most, d.ended
}

// One hostile server cannot hold every download slot: its ten files,
// queued before good.org's three and dripping for as long as the client
// waits, hold at most store.MediaClaimsPerSite slots of the two fetchers
// sharing the queue (`archiver run` and `archiver media fetch`, four each),
// and good.org's files are fetched meanwhile. Before, the first fetcher
// claimed four of evil.org's files and the second the next four, and no
// other file was fetched until they timed out (15 minutes), on each of
// their retries.
func TestFetchersLeaveSlotsToOtherServers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		evs := []store.Event{ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`)}
		for i := range 10 {
			evs = append(evs, ev(t, fmt.Sprintf("$e%d", i), "m.room.message", "@mallory:evil.org", 2000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.file","body":"e","url":"mxc://evil.org/e%d"}`, i)))
		}
		files := map[string]string{}
		for i := range 3 {
			files[fmt.Sprintf("good.org/g%d", i)] = fmt.Sprintf("good file %d", i)
			evs = append(evs, ev(t, fmt.Sprintf("$g%d", i), "m.room.message", "@bob:good.org", 3000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.file","body":"g","url":"mxc://good.org/g%d"}`, i)))
		}
		if _, err := st.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Every file is due at once; evil.org's come first in the queue.
		if jobs, err := st.DueMedia(ctx, "", time.Now(), 100); err != nil || len(jobs) != 13 || jobs[0].Server != "evil.org" || jobs[9].Server != "evil.org" {
			t.Fatalf("the queue before the fetchers run: %v, %v; want evil.org's ten files first", jobs, err)
		}
		hs := &serverDripper{next: &homeserver{v1: true, files: files}, server: "evil.org", interval: 100 * time.Millisecond}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		blobs, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		for range 2 {
			f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			// No rate floor: the drip is fast enough to pass it, as a
			// hostile server's would be (1 KiB/s per 30 s).
			f.SetDownloadLimits(time.Minute, 0, 0)
			f.Poll = 50 * time.Millisecond
			if f.Concurrency != 4 {
				t.Fatalf("a fetcher has %d slots; the test is written for the default 4", f.Concurrency)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.Run(ctx)
			}()
		}

		fetched := 0
		waitFor(10*time.Second, func() bool {
			fetched = 0
			for i := range 3 {
				m, err := st.MediaFor(ctx, event.MXC{Server: "good.org", MediaID: fmt.Sprintf("g%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if m.State == store.MediaReady {
					fetched++
				}
			}
			return fetched == 3
		})
		inflight, most, ended := hs.counts()
		if fetched != 3 {
			t.Fatalf("after 10 s %d of good.org's 3 files are fetched, with %d of evil.org's dripping (at most %d at once)", fetched, inflight, most)
		}
		if most > store.MediaClaimsPerSite {
			t.Errorf("evil.org had %d downloads in flight at once over the two fetchers; want at most %d", most, store.MediaClaimsPerSite)
		}
		if inflight == 0 || ended > 0 {
			t.Fatalf("evil.org: %d downloads dripping, %d ended; want them dripping still, or the test proves nothing", inflight, ended)
		}
	})
}
