package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// deepMessage is a message any member can send whose JSON nests levels
// deep, counting the event object and its content object.
func deepMessage(evID string, ts int64, levels int) string {
	// Put in after ev, whose json.Marshal refuses past 10,000 levels.
	inner := strings.Repeat("[", levels-2) + strings.Repeat("]", levels-2)
	e := ev(evID, "m.room.message", "@mallory:evil.org", ts, nil, `{"msgtype":"m.text","body":"deep","x":"DEEP"}`)
	return strings.Replace(e, `"DEEP"`, inner, 1)
}

// deepLevels are events too deep for the archive: just past event.MaxDepth;
// encoding/json's own bound, which the envelope (two levels for a
// transaction or a /messages page, six for /sync) then passed, so that the
// whole body was refused; and past any bound json.Decoder has, in 60 KB.
var deepLevels = []int{513, 10000, 30000}

// TestTransactionLeavesOutDeepEvent: one event nested deeper than the
// archive accepts costs only itself. It was decoded with its whole
// transaction, which encoding/json refused past 10,000 levels: the answer
// was 400, the homeserver resent the transaction for ever, and no event in
// it or after it was archived.
func TestTransactionLeavesOutDeepEvent(t *testing.T) {
	for _, levels := range deepLevels {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			srv, _ := newAppService(t, st)
			body := txnBody(append(header("world_readable"), msg("$m1", 10, "one"), deepMessage("$deep", 11, levels), msg("$m2", 12, "two"))...)
			code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/deep", hsToken, body)
			if code != http.StatusOK {
				t.Fatalf("transaction = %d %v, want 200", code, out)
			}
			if got := storedIDs(t, st, "$m1", "$deep", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) {
				t.Fatalf("stored %v, want $m1 and $m2 without $deep", got)
			}
		})
	}
}

// TestSweepLeavesOutDeepEvent: the same event on a /messages page made the
// page undecodable, so every sweep of its room failed on it and the
// room's position never moved again.
func TestSweepLeavesOutDeepEvent(t *testing.T) {
	for _, levels := range deepLevels {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			in := ingest.New(st, storetest.Logger(t), "@archive:example.org")
			if _, err := in.Ingest(ctx, parse(t, header("world_readable")...)); err != nil {
				t.Fatal(err)
			}
			if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: room, ForwardToken: "t1"}); err != nil {
				t.Fatal(err)
			}
			page := `{"start":"t1","end":"t2","chunk":[` + strings.Join([]string{msg("$m1", 10, "one"), deepMessage("$deep", 11, levels), msg("$m2", 12, "two")}, ",") + `]}`
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("from") == "t1" {
					_, _ = w.Write([]byte(page))
					return
				}
				_, _ = w.Write([]byte(`{"start":"t2","end":"t2","chunk":[]}`))
			}))
			defer srv.Close()
			client, err := ingest.NewClient(srv.URL, "as-token", "@archive:example.org")
			if err != nil {
				t.Fatal(err)
			}
			m := ingest.NewManager(ingest.ManagerConfig{SpoolDir: t.TempDir()}, client, in, st, "@archive:example.org", storetest.Logger(t))
			n, err := m.Sweep(ctx, room)
			if err != nil {
				t.Fatalf("Sweep = %d, %v", n, err)
			}
			if got := storedIDs(t, st, "$m1", "$deep", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) {
				t.Errorf("stored %v, want $m1 and $m2 without $deep", got)
			}
			if rs, err := st.RoomSync(ctx, room); err != nil || rs.ForwardToken != "t2" {
				t.Errorf("forward token %q, %v; want t2", rs.ForwardToken, err)
			}
		})
	}
}

// An Element export (one JSON document) holding one event nested as deep
// as encoding/json allows is imported without that event: decoded as one
// document, the event's depth counted from the document's top, the whole
// export was refused ("no valid events in file").
func TestElementExportLeavesOutDeepEvent(t *testing.T) {
	for _, levels := range []int{513, 10000, 30000} {
		t.Run(strconv.Itoa(levels), func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			msgs := append(header("world_readable"), msg("$m1", 10, "one"), deepMessage("$deep", 11, levels), msg("$m2", 12, "two"))
			path := filepath.Join(t.TempDir(), "export.json")
			if err := os.WriteFile(path, []byte(`{"room_name":"x","messages":[`+strings.Join(msgs, ",")+`]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, ingest.ImportOptions{})
			if err != nil {
				t.Fatalf("import of an export with one event %d levels deep: %v", levels, err)
			}
			if got := storedIDs(t, st, "$m1", "$deep", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) || len(rep.Rejected) != 1 {
				t.Errorf("stored %v, %d rejected; want $m1 and $m2, and the deep one rejected", got, len(rep.Rejected))
			}
		})
	}
}

// An Element export written on one line longer than the detector's 64 KiB
// buffer is an export: it was taken for NDJSON and its one line rejected.
func TestOneLineExportLongerThanABuffer(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	msgs := append(header("world_readable"), msg("$m1", 10, strings.Repeat("long ", 4000)), msg("$m2", 12, "two"))
	path := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(path, []byte(`{"room_name":"x","topic":"`+strings.Repeat("t", 70000)+`","messages":[`+strings.Join(msgs, ",")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, ingest.ImportOptions{})
	if err != nil || rep.Format != ingest.FormatElement {
		t.Fatalf("import of a one-line export: %v, format %q", err, rep.Format)
	}
	if got := storedIDs(t, st, "$m1", "$m2"); len(got) != 2 {
		t.Errorf("stored %v", got)
	}
}
