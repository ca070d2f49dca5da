package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Every SQLite connection the store opens has no mutex (store/nomutex.go),
// and connections in use at once each answer their own queries.
func TestSQLiteConnectionsHaveNoMutex(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	var conns []*sql.Conn
	for range 4 {
		c, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		m, err := store.ConnMutex(c)
		if err != nil {
			t.Fatal(err)
		}
		if m != 0 {
			t.Errorf("connection %d has its mutex (%#x)", i, m)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				var got string
				if err := c.QueryRowContext(ctx, `SELECT ? || '-' || ?`, i, j).Scan(&got); err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("%d-%d", i, j); got != want {
					errs <- fmt.Errorf("connection %d: %q, want %q", i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range conns {
		c.Close()
	}
}

// dropConnMutex changes nothing on a connection it does not know.
func TestDropConnMutexRefusesStrangers(t *testing.T) {
	for _, c := range []any{
		nil,
		struct{ db uintptr }{1},
		&struct{ db int }{1},
		&struct{ handle uintptr }{1},
		&struct{ db uintptr }{0},
	} {
		if err := store.DropConnMutex(c); err == nil {
			t.Errorf("%#v: no error", c)
		}
	}
}
