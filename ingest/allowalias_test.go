package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An allow list of two aliases, the first on a server that is down (the
// directory answers 502), the second naming the room: the room is allowed
// by the second, but allowedByAlias returns the first alias's error, so
// the join fails and is retried for as long as the first server is down.
// Every room on no allow list likewise is never refused, only retried,
// and each invite costs a lookup of every alias on the list.
func TestAllowByAliasPastADeadAlias(t *testing.T) {
	var lookups atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookups.Add(1)
		switch {
		case strings.Contains(r.URL.Path, "dead"):
			http.Error(w, `{"errcode":"M_UNKNOWN","error":"bad gateway"}`, http.StatusBadGateway)
		case strings.Contains(r.URL.Path, "good"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"room_id":"!good:example.org","servers":["example.org"]}`))
		default:
			http.Error(w, `{"errcode":"M_NOT_FOUND"}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	client, err := NewClient(srv.URL, "tok", "@archive:example.org")
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{bot: "@archive:example.org", client: client, cfg: ManagerConfig{AllowRooms: []string{"#x:dead.example", "#proj:good.example"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ok, err := m.allowedByAlias(ctx, "!good:example.org")
	if err != nil || !ok {
		t.Errorf("the room #proj:good.example names, with #x:dead.example's server down: allowed=%v err=%v; want allowed (lookups %d)", ok, err, lookups.Load())
	}
}
