package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A homeserver that accepts a request and never answers must not hold the
// archiver: every call gives up after the client's timeout, and /sync after
// its long-poll plus a margin.
func TestClientCallsTimeOut(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	c, err := NewClient(srv.URL, "as", "@bot:example.org")
	if err != nil {
		t.Fatal(err)
	}
	c.timeout = 300 * time.Millisecond
	c.syncMargin = 300 * time.Millisecond
	for name, call := range map[string]func() error{
		"state": func() error { _, err := c.State(context.Background(), "!r:example.org"); return err },
		"join":  func() error { _, err := c.Join(context.Background(), "!r:example.org", nil, ""); return err },
		"sync": func() error {
			_, err := c.Sync(context.Background(), "", "{}", 100*time.Millisecond)
			return err
		},
	} {
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- call() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: no error from a homeserver that never answered", name)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: gave up after %s", name, d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still waiting after 10 s for a homeserver that never answers", name)
		}
	}
}

// A join the homeserver is slow to answer does not hold the bot's answers
// to commands (nor the other way round): they run on separate queues.
func TestAnswersAreNotHeldByASlowJoin(t *testing.T) {
	stop := make(chan struct{})
	sent := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/_matrix/client/versions":
			w.Write([]byte(`{}`))
		case strings.HasPrefix(r.URL.Path, "/_matrix/client/v3/join/"):
			select { // a join that takes its time
			case <-stop:
			case <-r.Context().Done():
			}
		case strings.Contains(r.URL.Path, "/send/"):
			sent <- r.URL.Path
			w.Write([]byte(`{"event_id":"$answer"}`))
		case r.URL.Path == "/_matrix/client/v3/sync":
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
			}
			w.Write([]byte(`{"next_batch":"s"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(stop)
	c, err := NewClient(srv.URL, "as", "@bot:example.org")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, "sqlite")
	m := NewManager(ManagerConfig{SpoolDir: t.TempDir(), SweepInterval: time.Hour}, c, New(st, storetest.Logger(t), "@bot:example.org"), st, "@bot:example.org", storetest.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.enqueue(job{target: "!slow:example.org", kind: joinByOperator})
	time.Sleep(200 * time.Millisecond) // the join is under way
	m.answers <- answer{room: "!dm:example.org", command: "$cmd", text: "hello"}
	select {
	case p := <-sent:
		if !strings.Contains(p, "answer-") {
			t.Errorf("sent %s", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer waited for a slow join")
	}
	cancel()
	<-done
}
