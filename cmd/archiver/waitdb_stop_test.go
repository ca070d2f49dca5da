package main

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// `archiver run` stopped (SIGTERM: its context ends) while it waits for
// its database returns promptly and as a stop after running does: no
// error, so main exits 0 and systemd's `systemctl stop` does not leave the
// unit failed with "archiver: open store: connect to ...".
func TestRunStoppedWhileWaitingIsAStop(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	for k, v := range map[string]string{
		"MXARCHIVE_DATA_DIR": t.TempDir(), "MXARCHIVE_DATABASE_TYPE": "postgres", "MXARCHIVE_DATABASE_URI": dsn,
		"MXARCHIVE_HOMESERVER_ADDRESS": "http://127.0.0.1:1", "MXARCHIVE_HOMESERVER_DOMAIN": "example.org",
		"MXARCHIVE_APPSERVICE_AS_TOKEN": "as-token", "MXARCHIVE_APPSERVICE_HS_TOKEN": "hs-token",
		"MXARCHIVE_APPSERVICE_LISTEN": freePort(t),
	} {
		t.Setenv(k, v)
	}
	pgtest.SetConnections(t, dsn, false)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, &out, &errs) }()
	time.Sleep(2500 * time.Millisecond)
	cancel()
	stopped := time.Now()
	select {
	case err := <-done:
		if took := time.Since(stopped); took > time.Second {
			t.Errorf("returned %v after its context ended", took)
		}
		if err != nil {
			t.Errorf("stopped while waiting for its database: run = %v; main exits 1 with it (a stop after running returns nil)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
