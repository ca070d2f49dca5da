package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// The retention purge is counted on the archiver's metrics: its rounds by
// result and the events it deleted, so an operator sees it run (issue 19).
func TestArchiverPurgeMetrics(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			appAddr, metricsAddr := metricsRunEnv(t, dialect)
			t.Setenv("MXARCHIVE_RETENTION_ENABLED", "true")
			t.Setenv("MXARCHIVE_RETENTION_DEFAULT_MAX_LIFETIME", "1d")
			t.Setenv("MXARCHIVE_RETENTION_PURGE_INTERVAL", "100ms")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var out, errs bytes.Buffer
			go func() { done <- run(ctx, []string{"run"}, &out, &errs) }()
			defer func() { cancel(); <-done }()

			scrape := func() string {
				resp, err := http.Get("http://" + metricsAddr + "/metrics")
				if err != nil {
					return ""
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					return ""
				}
				return string(b)
			}
			// waitFor scrapes until ok holds of the scrape.
			waitFor := func(what string, ok func(string) bool) string {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for {
					s := scrape()
					if s != "" && ok(s) {
						return s
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within 20 s:\n%s\n%s", what, s, errs.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			// The first round runs at start, on an empty database.
			before := waitFor("a first purge round", func(s string) bool {
				return series(s, `mxarchive_archiver_purge_runs_total{result="ok"}`) >= 1
			})
			if v := series(before, `mxarchive_archiver_purged_events_total`); v != 0 {
				t.Fatalf("events purged before any were stored: %v", v)
			}
			if v := series(before, `mxarchive_archiver_purge_runs_total{result="failed"}`); v != 0 {
				t.Fatalf("failed purge rounds: %v\n%s", v, errs.String())
			}

			// Two messages older than the one-day lifetime, one newer.
			now := time.Now().UnixMilli()
			ev := func(id, typ, stateKey, content string, ts int64) string {
				sk := ""
				if stateKey != "-" {
					sk = `,"state_key":"` + stateKey + `"`
				}
				return `{"event_id":"` + id + `","room_id":"!r:example.org","type":"` + typ + `","sender":"@a:example.org","origin_server_ts":` +
					strconv.FormatInt(ts, 10) + sk + `,"content":` + content + `}`
			}
			day := int64(24 * time.Hour / time.Millisecond)
			txn := `{"events":[` + strings.Join([]string{
				ev("$c", "m.room.create", "", `{"room_version":"10","creator":"@a:example.org"}`, now-3*day),
				ev("$hv", "m.room.history_visibility", "", `{"history_visibility":"world_readable"}`, now-3*day+1),
				ev("$old1", "m.room.message", "-", `{"msgtype":"m.text","body":"old"}`, now-2*day),
				ev("$old2", "m.room.message", "-", `{"msgtype":"m.text","body":"old"}`, now-2*day+1),
				ev("$new", "m.room.message", "-", `{"msgtype":"m.text","body":"new"}`, now-1000),
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
			// A round counts its batches' deletions as it goes and itself when
			// it ends, and the round running when the transaction came may end
			// having deleted nothing: wait for the deletions and two rounds
			// more, or a scrape between them sees events purged by a round not
			// yet counted (CI saw that once).
			rounds := series(before, `mxarchive_archiver_purge_runs_total{result="ok"}`)
			after := waitFor("the expired messages purged, and a round after", func(s string) bool {
				return series(s, `mxarchive_archiver_purged_events_total`) >= 2 &&
					series(s, `mxarchive_archiver_purge_runs_total{result="ok"}`) > rounds+1
			})
			if v := series(after, `mxarchive_archiver_purged_events_total`); v != 2 {
				t.Errorf("purged events = %v, want 2 (the new message and the state stay)", v)
			}
			if v := series(after, `mxarchive_archiver_purge_runs_total{result="failed"}`); v != 0 {
				t.Errorf("failed purge rounds: %v\n%s", v, errs.String())
			}
		})
	}
}
