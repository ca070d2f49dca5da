package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// `archiver run` started while its PostgreSQL database does not answer (a
// boot's order, a database on another host, crash recovery) waits for it
// and then runs, rather than exit and leave the systemd unit's start limit
// (5 a minute) to give it up for good; a one-off command does not wait.
func TestRunWaitsForItsDatabase(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	listen := freePort(t)
	for k, v := range map[string]string{
		"MXARCHIVE_DATA_DIR": t.TempDir(), "MXARCHIVE_DATABASE_TYPE": "postgres", "MXARCHIVE_DATABASE_URI": dsn,
		"MXARCHIVE_HOMESERVER_ADDRESS": "http://127.0.0.1:1", "MXARCHIVE_HOMESERVER_DOMAIN": "example.org",
		"MXARCHIVE_APPSERVICE_AS_TOKEN": "as-token", "MXARCHIVE_APPSERVICE_HS_TOKEN": "hs-token",
		"MXARCHIVE_APPSERVICE_LISTEN": listen,
	} {
		t.Setenv(k, v)
	}
	pgtest.SetConnections(t, dsn, false)
	// A one-off command says so at once.
	var out, errs lockedBuffer
	if err := run(context.Background(), []string{"status"}, &out, &errs); err == nil {
		t.Fatal("status with the database away succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, &out, &errs) }()
	select {
	case err := <-done:
		t.Fatalf("the archiver stopped while its database was away: %v\n%s", err, errs.String())
	case <-time.After(3 * time.Second):
	}
	if resp, err := http.Get("http://" + listen + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("the archiver listens before its database answered")
	}
	pgtest.SetConnections(t, dsn, true)
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the archiver stopped: %v\n%s", err, errs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archiver did not start once its database answered\n%s", errs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(errs.String(), "the database does not answer; trying again") {
		t.Errorf("the log does not say it waited:\n%s", errs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the archiver after its context ended: %v", err)
	}
}
