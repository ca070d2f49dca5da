package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// freePort returns a loopback address nothing listens on (just now).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// series returns the value of the sample named exactly line (metric name
// and labels), or -1 when the scrape has none.
func series(scrape, line string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + ` (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// metricsRunEnv configures, through the environment, an `archiver run` on
// dialect with a fresh data directory, an unreachable homeserver and its
// metrics on a listener of their own; it returns the appservice and
// metrics addresses.
func metricsRunEnv(t *testing.T, dialect string) (appAddr, metricsAddr string) {
	t.Helper()
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	t.Setenv("MXARCHIVE_DATABASE_TYPE", dialect)
	if dialect == "postgres" {
		t.Setenv("MXARCHIVE_DATABASE_URI", pgtest.NewDatabase(t))
	}
	appAddr, metricsAddr = freePort(t), freePort(t)
	t.Setenv("MXARCHIVE_HOMESERVER_ADDRESS", "http://127.0.0.1:1")
	t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
	t.Setenv("MXARCHIVE_APPSERVICE_AS_TOKEN", "as-token")
	t.Setenv("MXARCHIVE_APPSERVICE_HS_TOKEN", "hs-token")
	t.Setenv("MXARCHIVE_APPSERVICE_LISTEN", appAddr)
	t.Setenv("MXARCHIVE_METRICS_ARCHIVER_LISTEN", metricsAddr)
	return appAddr, metricsAddr
}

// `archiver run` serves its metrics on metrics.archiver_listen, not on the
// appservice port, and a transaction moves the transaction, event and
// ingest-lag series.
func TestArchiverMetrics(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			appAddr, metricsAddr := metricsRunEnv(t, dialect)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var out, errs bytes.Buffer
			go func() { done <- run(ctx, []string{"run"}, &out, &errs) }()
			defer func() { cancel(); <-done }()

			get := func(url string) (int, string) {
				resp, err := http.Get(url)
				if err != nil {
					return 0, err.Error()
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			var before string
			deadline := time.Now().Add(20 * time.Second)
			for {
				code, body := get("http://" + metricsAddr + "/metrics")
				if code == http.StatusOK {
					before = body
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no metrics on %s: %d %s\n%s", metricsAddr, code, body, errs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if v := series(before, `mxarchive_archiver_transactions_total{result="ok"}`); v > 0 {
				t.Fatalf("transactions before any: %v", v)
			}
			if code, body := get("http://" + appAddr + "/metrics"); code == http.StatusOK || strings.Contains(body, "mxarchive_") {
				t.Errorf("the appservice port serves metrics: %d", code)
			}

			now := time.Now().UnixMilli()
			ev := func(id, typ, stateKey, content string, ts int64) string {
				sk := ""
				if stateKey != "-" {
					sk = `,"state_key":"` + stateKey + `"`
				}
				return `{"event_id":"` + id + `","room_id":"!r:example.org","type":"` + typ + `","sender":"@a:example.org","origin_server_ts":` +
					strconv.FormatInt(ts, 10) + sk + `,"content":` + content + `}`
			}
			txn := `{"events":[` + strings.Join([]string{
				ev("$c", "m.room.create", "", `{"room_version":"10","creator":"@a:example.org"}`, now-3000),
				ev("$hv", "m.room.history_visibility", "", `{"history_visibility":"world_readable"}`, now-2000),
				ev("$m", "m.room.message", "-", `{"msgtype":"m.text","body":"hi"}`, now-1000),
			}, ",") + `]}`
			req, _ := http.NewRequest(http.MethodPut, "http://"+appAddr+"/_matrix/app/v1/transactions/t1", strings.NewReader(txn))
			req.Header.Set("Authorization", "Bearer hs-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("transaction: %d\n%s", resp.StatusCode, errs.String())
			}
			_, after := get("http://" + metricsAddr + "/metrics")
			for line, want := range map[string]float64{
				`mxarchive_archiver_transactions_total{result="ok"}`:       1,
				`mxarchive_archiver_transaction_events_total`:              3,
				`mxarchive_archiver_events_stored_total{source="txn"}`:     3,
				`mxarchive_archiver_transaction_duration_seconds_count`:    1,
				`mxarchive_archiver_events_stored_total{source="sweep"}`:   0,
				`mxarchive_archiver_media_fetches_total{result="fetched"}`: 0,
			} {
				if got := series(after, line); got != want {
					t.Errorf("%s = %v, want %v", line, got, want)
				}
			}
			if lag := series(after, `mxarchive_archiver_ingest_lag_seconds{path="txn"}`); lag < 0.5 || lag > 60 {
				t.Errorf("transactions' ingest lag %v s after an event sent a second ago", lag)
			}
			// The other paths brought nothing yet: no lag to speak of, and
			// not the transactions' lag passed off as theirs.
			for _, path := range []string{"sync", "sweep"} {
				if !strings.Contains(after, `mxarchive_archiver_ingest_lag_seconds{path="`+path+`"} NaN`) {
					t.Errorf("%s's ingest lag is not NaN before it stored anything:\n%s", path, after)
				}
			}
			if series(after, `mxarchive_archiver_db_open_connections`) < 1 {
				t.Errorf("no database pool stats:\n%s", after)
			}
		})
	}
}
