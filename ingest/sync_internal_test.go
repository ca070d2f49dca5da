package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestSyncAdvancesPastRefusedEvent: /sync is the only path redactions take
// from Dendrite. A batch with one event the database refuses ($poison, a
// real constraint or trigger from storetest.Refusing) must not keep the
// loop on the same since token: the rest (a redaction whose reason holds
// U+0000) is stored, the offender quarantined, and the next /sync asks
// from next_batch.
func TestSyncAdvancesPastRefusedEvent(t *testing.T) {
	const roomID = "!sync:example.org"
	const bot = "@archive:example.org"
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st, _ := storetest.Refusing(t, d, "$poison")
			in := New(st, storetest.Logger(t), bot)
			evJSON := func(evID, typ string, ts int64, stateKey, content string) string {
				sk := ""
				if stateKey != "-" {
					sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
				}
				return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":"@alice:example.org","origin_server_ts":%d%s,"content":%s}`,
					evID, roomID, typ, ts, sk, content)
			}
			var setup []*event.Event
			for _, l := range []string{
				evJSON("$create", "m.room.create", 1, "", `{"room_version":"10"}`),
				evJSON("$hv", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`),
				evJSON("$m1", "m.room.message", 3, "-", `{"msgtype":"m.text","body":"to be redacted"}`),
			} {
				e, err := event.Parse([]byte(l))
				if err != nil {
					t.Fatal(err)
				}
				setup = append(setup, e)
			}
			if _, err := in.Ingest(ctx, setup); err != nil {
				t.Fatal(err)
			}
			// /sync serves events without room_id, keyed by room.
			strip := func(s string) string { return strings.Replace(s, `"room_id":"`+roomID+`",`, "", 1) }
			first := fmt.Sprintf(`{"next_batch":"s1","rooms":{"join":{%q:{"timeline":{"events":[%s,%s]}}}}}`, roomID,
				strip(evJSON("$red", "m.room.redaction", 10, "-", `{"redacts":"$m1","reason":"sp\u0000am"}`)),
				strip(evJSON("$poison", "m.room.redaction", 11, "-", `{"redacts":"$m1"}`)))
			asked := syncOnce(t, in, st, bot, first)
			if !slices.Contains(asked, "s1") {
				t.Fatalf("/sync never moved past the batch: since tokens asked %q", asked)
			}
			reds, err := st.RedactionsOf(ctx, []id.EventID{"$m1"})
			if r := reds["$m1"]; err != nil || r.RedactionID != "$red" || r.Reason != "sp\uFFFDam" || r.AppliedAt.IsZero() {
				t.Errorf("redaction of $m1 = %+v, %v", r, err)
			}
			q, err := st.Quarantined(ctx, 10)
			if err != nil || len(q) != 1 || q[0].EventID != "$poison" || q[0].Source != store.SourceSync {
				t.Errorf("quarantine = %+v, %v", q, err)
			}
		})
	}
}

// syncOnce runs the manager's /sync loop against a homeserver whose first
// answer (since="") is first and whose later ones move nowhere, until the
// loop asks again or 5 s pass, and returns the since tokens it asked with.
func syncOnce(t *testing.T, in *Ingester, st *store.Store, bot id.UserID, first string) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		since []string
		next  = make(chan struct{})
		once  sync.Once
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := r.URL.Query().Get("since")
		mu.Lock()
		since = append(since, s)
		mu.Unlock()
		if s == "" {
			_, _ = w.Write([]byte(first))
			return
		}
		once.Do(func() { close(next) })
		_, _ = w.Write([]byte(`{"next_batch":"` + s + `"}`))
	}))
	defer srv.Close()
	client, err := NewClient(srv.URL, "as-token", bot)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(ManagerConfig{SpoolDir: t.TempDir(), SyncTimeout: time.Millisecond}, client, in, st, bot, storetest.Logger(t))
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	done := make(chan struct{})
	go func() { defer close(done); m.syncLoop(ctx) }()
	select {
	case <-next:
	case <-ctx.Done():
	}
	stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(since)
}
