package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A database that cannot be reached is named in the error, without its
// password in any form PostgreSQL takes one: url.URL.Redacted hid only
// user:pass@, and "open store: connect to postgres:///mxarchive?password=…"
// went to the log and the terminal.
func TestOpenErrorHidesThePassword(t *testing.T) {
	for _, uri := range []string{
		"postgres://mx:hunter2@127.0.0.1:1/mxarchive?connect_timeout=1",
		"postgres://mx@127.0.0.1:1/mxarchive?password=hunter2&connect_timeout=1",
		"host=127.0.0.1 port=1 user=mx password=hunter2 dbname=mxarchive connect_timeout=1",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := store.Open(ctx, store.Config{Type: "postgres", URI: uri}, filepath.Join(t.TempDir()), storetest.Logger(t), store.Options{})
		cancel()
		if err == nil {
			t.Fatalf("%s: opened", uri)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error names the password: %v", err)
		}
	}
}
