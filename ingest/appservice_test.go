package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

const hsToken = "hs-secret"

type recorder struct{ evs []*event.Event }

func (r *recorder) Committed(_ context.Context, evs []*event.Event) error {
	r.evs = append(r.evs, evs...)
	return nil
}

func newAppService(t *testing.T, st *store.Store) (*httptest.Server, *recorder) {
	rec := &recorder{}
	as := ingest.NewAppService(ingest.New(st, storetest.Logger(t), "@archive:example.org"), hsToken, rec, storetest.Logger(t))
	return newAppServiceWith(t, as), rec
}

func newAppServiceWith(t *testing.T, as *ingest.AppService) *httptest.Server {
	srv := httptest.NewServer(as.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func putTxn(t *testing.T, srv *httptest.Server, path, token string, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func txnBody(lines ...string) string {
	return `{"events":[` + strings.Join(lines, ",") + `]}`
}

func TestAppServiceAuth(t *testing.T) {
	srv, _ := newAppService(t, storetest.Open(t, "sqlite"))
	body := txnBody(header("world_readable")...)
	for _, tc := range []struct {
		name, path, token string
		want              int
		errcode           string
	}{
		{"no token", "/_matrix/app/v1/transactions/1", "", 401, "M_UNAUTHORIZED"},
		{"wrong token", "/_matrix/app/v1/transactions/1", "nope", 403, "M_FORBIDDEN"},
		{"right token", "/_matrix/app/v1/transactions/1", hsToken, 200, ""},
		{"legacy path", "/transactions/2", hsToken, 200, ""},
		{"legacy query token", "/_matrix/app/v1/transactions/3?access_token=" + hsToken, "", 200, ""},
		{"unknown endpoint", "/_matrix/app/v1/nothing", hsToken, 404, "M_UNRECOGNIZED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := putTxn(t, srv, tc.path, tc.token, body)
			if code != tc.want || (tc.errcode != "" && out["errcode"] != tc.errcode) {
				t.Errorf("= %d %v, want %d %s", code, out, tc.want, tc.errcode)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_matrix/app/v1/users/@x:example.org", nil)
	req.Header.Set("Authorization", "Bearer "+hsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("user query = %v %v, want 404", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/_matrix/app/v1/ping", strings.NewReader(`{"transaction_id":"x"}`))
	req.Header.Set("Authorization", "Bearer "+hsToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("ping = %v %v", resp, err)
	}
}

// A homeserver may resend a transaction ID with more events than before
// (Dendrite does); every event must be stored, none twice.
func TestAppServiceIdempotentPerEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv, rec := newAppService(t, st)
		ctx := context.Background()
		h := header("world_readable")
		a, b, c := msg("$a", 10, "a"), msg("$b", 11, "b"), msg("$c", 12, "c")
		for i, body := range []string{txnBody(append(h, a)...), txnBody(append(h, a)...), txnBody(append(h, a, b, c)...)} {
			if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/42", hsToken, body); code != 200 {
				t.Fatalf("delivery %d: %d %v", i, code, out)
			}
		}
		n, _ := st.CountEvents(ctx)
		if n != int64(len(h)+3) {
			t.Errorf("stored %d events, want %d", n, len(h)+3)
		}
		events, deliveries, err := st.Transaction(ctx, "42")
		if err != nil || events != len(h)+3 || deliveries != 3 {
			t.Errorf("transaction record = %d events, %d deliveries, %v", events, deliveries, err)
		}
		if len(rec.evs) == 0 {
			t.Error("notifier not told of committed events")
		}
	})
}

func TestAppServiceSkipsMalformedEvents(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	srv, _ := newAppService(t, st)
	body := txnBody(append(header("world_readable"), `{"event_id":"$bad","type":"m.room.message"}`, `"not an object"`, msg("$good", 10, "ok"))...)
	if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/1", hsToken, body); code != 200 {
		t.Fatalf("= %d %v: a malformed event must not block the transaction", code, out)
	}
	if _, err := st.EventByID(context.Background(), "$good"); err != nil {
		t.Errorf("good event not stored: %v", err)
	}
	if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/2", hsToken, "{not json"); code != 400 || out["errcode"] != "M_NOT_JSON" {
		t.Errorf("broken body = %d %v", code, out)
	}
	big := `{"events":[` + strings.Repeat(" ", ingest.MaxTransactionBytes) + `]}`
	if code, _ := putTxn(t, srv, "/_matrix/app/v1/transactions/3", hsToken, big); code != 413 {
		t.Errorf("oversized body = %d, want 413", code)
	}
}

// With the database down the transaction is answered 5xx (the homeserver
// will retry) and nothing is half-stored; once it is back, the retry stores
// everything.
func TestAppServiceDatabaseDown(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, _ := newAppService(t, st)
	body := txnBody(append(header("world_readable"), msg("$m", 10, "hello"))...)

	pgtest.SetConnections(t, dsn, false)
	code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/7", hsToken, body)
	if code < 500 || out["errcode"] != "M_UNKNOWN" {
		t.Fatalf("with the database down: %d %v, want 5xx", code, out)
	}
	pgtest.SetConnections(t, dsn, true)
	if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/7", hsToken, body); code != 200 {
		t.Fatalf("after recovery: %d %v", code, out)
	}
	if n, err := st.CountEvents(context.Background()); err != nil || n != 4 {
		t.Errorf("after recovery: %d events, %v", n, err)
	}
}

type failingNotifier struct{}

func (failingNotifier) Committed(context.Context, []*event.Event) error {
	return errors.New("the opt-out could not be saved")
}

// A transaction whose events the notifier could not act on (a command it
// could not carry out) is not acknowledged: the homeserver sends it again.
func TestTransactionFailsWhenActingOnItFails(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	as := ingest.NewAppService(ingest.New(st, storetest.Logger(t), "@archive:example.org"), hsToken, failingNotifier{}, storetest.Logger(t))
	srv := httptest.NewServer(as.Handler())
	defer srv.Close()
	if code, _ := putTxn(t, srv, "/_matrix/app/v1/transactions/1", hsToken, txnBody(header("world_readable")...)); code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", code)
	}
}
