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

// Through a real homeserver, an allow list naming a room by its alias
// (archive.allow_rooms: [#proj:server]) admits the room the directory
// says the alias names, and refuses another room the bot is invited to.
// The alias is looked up, not matched against the room's own claim of it
// (TestAllowListIgnoresClaimedAliases).
func TestAllowListByAliasThroughHomeserver(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := handler.Load()
		if h == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	defer as.Close()
	reg := dendritetest.NewRegistration("allowtest", as.URL, "archivebot")
	hs := dendritetest.Start(t, dendritetest.Options{Registrations: []string{reg.Write(t)}})
	bot := id.UserID(reg.SenderID(hs.ServerName))
	log := storetest.Logger(t)
	st := storetest.Open(t, "sqlite")
	client, err := ingest.NewClient(hs.URL, reg.ASToken, bot)
	if err != nil {
		t.Fatal(err)
	}
	in := ingest.New(st, log, bot)
	cfg := ingest.ManagerConfig{SpoolDir: t.TempDir(), SyncTimeout: time.Second, AllowRooms: []string{"#proj:" + hs.ServerName}}
	m := ingest.NewManager(cfg, client, in, st, bot, log)
	h := ingest.NewAppService(in, reg.HSToken, m, log).Handler()
	handler.Store(&h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // before the store closes

	bob := hs.Register(t, "bob")
	public := []map[string]any{{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "world_readable"}}}
	proj := bob.CreateRoom(t, map[string]any{"preset": "public_chat", "room_alias_name": "proj", "initial_state": public, "invite": []string{string(bot)}})
	other := bob.CreateRoom(t, map[string]any{"preset": "public_chat", "initial_state": public, "invite": []string{string(bot)}})

	judged := func(room string) (store.RoomSync, bool) {
		rs, err := st.RoomSync(ctx, id.RoomID(room))
		if err != nil {
			return rs, false
		}
		return rs, rs.Backfill != ""
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, a := judged(proj)
		_, b := judged(other)
		if a && b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the bot to judge both rooms (proj %v, other %v)", a, b)
		}
	}
	if rs, _ := judged(proj); rs.Backfill == store.BackfillRefused {
		t.Errorf("the room #proj names in the directory was refused: %+v", rs)
	}
	if rs, _ := judged(other); rs.Backfill != store.BackfillRefused {
		t.Errorf("a room on no allow list was not refused: %+v", rs)
	}
}
