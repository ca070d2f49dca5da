package store_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A URI asking for TLS (sslmode=require) of a server that has none is a
// misconfiguration no wait mends: OpenWaiting fails at once, as it does
// for a wrong password or database (helper-84's review: it waited).
func TestOpenWaitingDoesNotWaitForTLSRefused(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	tls := strings.Replace(dsn, "sslmode=disable", "sslmode=require", 1)
	if tls == dsn {
		t.Fatalf("no sslmode=disable in %s", dsn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	st, err := store.OpenWaiting(ctx, store.Config{Type: "postgres", URI: tls}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err == nil {
		st.Close()
		t.Fatal("the test's server accepts TLS: this test needs one that does not")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("OpenWaiting with sslmode=require against a server without TLS waited %v (until its context ended): %v", took.Round(time.Millisecond), err)
	}
}

// Each failed try of OpenWaiting leaves nothing behind (goroutines).
// helper-84's review.
func TestOpenWaitingTriesLeakNothing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pgtest.SetConnections(t, dsn, false)
	try := func() {
		st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
		if err == nil {
			st.Close()
			t.Fatal("opened a database that refuses connections")
		}
		if !store.Unavailable(err) {
			t.Fatalf("not Unavailable: %v", err)
		}
	}
	try()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	for range 50 {
		try()
	}
	time.Sleep(200 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+3 {
		t.Errorf("goroutines %d -> %d across 50 failed opens", before, after)
	}
}
