package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// quarantinedIDs lists the quarantine with each event's source.
func quarantinedIDs(t *testing.T, st *store.Store) []string {
	t.Helper()
	q, err := st.Quarantined(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range q {
		if e.Error == "" || len(e.Raw) == 0 {
			t.Errorf("quarantined %s without its error or JSON: %+v", e.EventID, e)
		}
		out = append(out, string(e.EventID)+" "+string(e.Source))
	}
	return out
}

// The database refuses $poison (storetest.Refusing: a real constraint on
// PostgreSQL, a trigger on SQLite), as it would a value it cannot hold.

// TestTransactionWithRefusedEvent: one refused event does not make the
// transaction fail (which the homeserver would resend for ever, queueing
// everything behind it): it is answered 200, the rest is stored and acted
// on, the offender is quarantined and not acted on.
func TestTransactionWithRefusedEvent(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st, _ := storetest.Refusing(t, d, "$poison")
			srv, rec := newAppService(t, st)
			body := txnBody(append(header("world_readable"), msg("$m1", 10, "one"), msg("$poison", 11, "refused"), msg("$m2", 12, "two"))...)
			if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/9", hsToken, body); code != 200 {
				t.Fatalf("= %d %v, want 200", code, out)
			}
			if got := storedIDs(t, st, "$m1", "$poison", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) {
				t.Errorf("stored %v, want $m1 $m2", got)
			}
			if q := quarantinedIDs(t, st); !slices.Equal(q, []string{"$poison txn"}) {
				t.Errorf("quarantine = %v", q)
			}
			if n, _, err := st.Transaction(context.Background(), "9"); err != nil || n != 6 {
				t.Errorf("transaction record = %d, %v", n, err)
			}
			var told []string
			for _, e := range rec.evs {
				told = append(told, string(e.ID))
			}
			if slices.Contains(told, "$poison") || !slices.Contains(told, "$m2") {
				t.Errorf("notifier told of %v: the quarantined event must not be acted on", told)
			}
		})
	}
}

// TestImportQuarantinesRefusedEvent: an import keeps its batch when one
// event is refused, and the report names the line.
func TestImportQuarantinesRefusedEvent(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st, _ := storetest.Refusing(t, d, "$poison")
			lines := append(header("world_readable"), msg("$m1", 10, "one"), msg("$poison", 11, "refused"), msg("$m2", 12, "two"))
			rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), writeLines(t, lines), ingest.ImportOptions{})
			if err != nil {
				t.Fatalf("ImportFile: %v", err)
			}
			if len(rep.QuarantinedLines) != 1 || rep.QuarantinedLines[0].Line != 5 || !strings.Contains(rep.QuarantinedLines[0].Error(), "$poison") {
				t.Errorf("report quarantined = %v, want line 5 ($poison)", rep.QuarantinedLines)
			}
			if !strings.Contains(rep.String(), "1 quarantined") {
				t.Errorf("report %q does not count the quarantined event", rep)
			}
			if got := storedIDs(t, st, "$m1", "$poison", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) {
				t.Errorf("stored %v, want $m1 $m2", got)
			}
			if q := quarantinedIDs(t, st); !slices.Equal(q, []string{"$poison import"}) {
				t.Errorf("quarantine = %v", q)
			}
		})
	}
}

// fakeHomeserver serves /messages pages keyed by their from token, and
// /sync responses keyed by their since token, recording the tokens asked.
type fakeHomeserver struct {
	mu       sync.Mutex
	messages map[string]ingest.MessagesPage
	syncs    map[string]string // since → response body
	asked    []string
}

func (f *fakeHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	switch {
	case strings.HasSuffix(r.URL.Path, "/messages"):
		f.asked = append(f.asked, "messages from="+q.Get("from"))
		page, ok := f.messages[q.Get("from")]
		if !ok {
			http.Error(w, `{"errcode":"M_UNKNOWN"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(page)
	case r.URL.Path == "/_matrix/client/v3/sync":
		f.asked = append(f.asked, "sync since="+q.Get("since"))
		body, ok := f.syncs[q.Get("since")]
		if !ok {
			body = `{"next_batch":"` + q.Get("since") + `"}`
		}
		_, _ = w.Write([]byte(body))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeHomeserver) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

func parse(t *testing.T, lines ...string) []*event.Event {
	t.Helper()
	out := make([]*event.Event, len(lines))
	for i, l := range lines {
		e, err := event.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func raws(lines ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(lines))
	for i, l := range lines {
		out[i] = json.RawMessage(l)
	}
	return out
}

// TestSweepAdvancesPastRefusedEvent: a sweep that meets a refused event
// stores the rest of the page and moves its position on, instead of
// failing on the same page every round.
func TestSweepAdvancesPastRefusedEvent(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st, _ := storetest.Refusing(t, d, "$poison")
			in := ingest.New(st, storetest.Logger(t), "@archive:example.org")
			if _, err := in.Ingest(ctx, parse(t, header("world_readable")...)); err != nil {
				t.Fatal(err)
			}
			if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: room, ForwardToken: "t1"}); err != nil {
				t.Fatal(err)
			}
			hs := &fakeHomeserver{messages: map[string]ingest.MessagesPage{
				"t1": {Start: "t1", End: "t2", Chunk: raws(msg("$m1", 10, "one"), msg("$poison", 11, "refused"),
					ev("$react", "m.reaction", "@alice:example.org", 12, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"\u0000"}}`),
					msg("$m2", 13, "two"))},
				"t2": {Start: "t2", End: "t2"},
			}}
			srv := httptest.NewServer(hs)
			defer srv.Close()
			client, err := ingest.NewClient(srv.URL, "as-token", "@archive:example.org")
			if err != nil {
				t.Fatal(err)
			}
			m := ingest.NewManager(ingest.ManagerConfig{SpoolDir: t.TempDir()}, client, in, st, "@archive:example.org", storetest.Logger(t))
			n, err := m.Sweep(ctx, room)
			if err != nil || n != 3 {
				t.Fatalf("Sweep = %d, %v; want 3 stored; requests %v", n, err, hs.requests())
			}
			if got := storedIDs(t, st, "$m1", "$poison", "$react", "$m2"); !slices.Equal(got, []string{"$m1", "$m2", "$react"}) {
				t.Errorf("stored %v", got)
			}
			if q := quarantinedIDs(t, st); !slices.Equal(q, []string{"$poison sweep"}) {
				t.Errorf("quarantine = %v", q)
			}
			rs, err := st.RoomSync(ctx, room)
			if err != nil || rs.ForwardToken != "t2" {
				t.Errorf("forward token = %q, %v; want t2", rs.ForwardToken, err)
			}
		})
	}
}
