package store_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The pool follows the configuration: an operator whose PostgreSQL allows
// few connections (or a pooler in front) must be able to lower it, and a
// busy web must be able to keep connections idle instead of reconnecting.
func TestPoolFollowsConfig(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			cfg := store.Config{Type: dialect, MaxOpenConns: 5, MaxIdleConns: 3}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
			}
			st, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := st.PoolStats().MaxOpenConnections; got != 5 {
				t.Errorf("max open connections = %d, want 5", got)
			}
			// Hold five connections, give them back: three stay idle.
			var conns []*sql.Conn
			for range 5 {
				c, err := st.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				c.Close()
			}
			if got := st.PoolStats().Idle; got != 3 {
				t.Errorf("idle connections = %d, want 3", got)
			}
		})
	}
}
