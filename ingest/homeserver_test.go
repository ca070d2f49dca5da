package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/dendritetest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// runThroughHomeserver starts a real homeserver (Dendrite) with an
// appservice registration named name, and a Manager (configured by cfg
// for the homeserver's server name, with a spool directory and a 1 s
// /sync timeout) answering it over a SQLite store, stopped before the
// store closes. It returns the homeserver, the bot and the store.
func runThroughHomeserver(t *testing.T, name string, cfg func(serverName string) ingest.ManagerConfig) (*dendritetest.Server, id.UserID, *store.Store) {
	t.Helper()
	var handler atomic.Pointer[http.Handler]
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := handler.Load()
		if h == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(as.Close)
	reg := dendritetest.NewRegistration(name, as.URL, "archivebot")
	hs := dendritetest.Start(t, dendritetest.Options{Registrations: []string{reg.Write(t)}})
	bot := id.UserID(reg.SenderID(hs.ServerName))
	log := storetest.Logger(t)
	st := storetest.Open(t, "sqlite")
	client, err := ingest.NewClient(hs.URL, reg.ASToken, bot)
	if err != nil {
		t.Fatal(err)
	}
	in := ingest.New(st, log, bot)
	c := ingest.ManagerConfig{}
	if cfg != nil {
		c = cfg(hs.ServerName)
	}
	c.SpoolDir, c.SyncTimeout = t.TempDir(), time.Second
	m := ingest.NewManager(c, client, in, st, bot, log)
	h := ingest.NewAppService(in, reg.HSToken, m, log).Handler()
	handler.Store(&h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // before the store closes
	return hs, bot, st
}
