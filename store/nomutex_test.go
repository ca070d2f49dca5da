package store_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
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
	conns := holdConns(t, st, 4)
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
		// Not modernc's conn, though it looks like one: its handle is
		// never read (1 is no address).
		&struct{ db uintptr }{1},
	} {
		if err := store.DropConnMutex(c); err == nil {
			t.Errorf("%#v: no error", c)
		}
	}
}

// store/nomutex.go reaches into modernc.org/sqlite's connection and
// SQLite's handle, and was checked against one version of the module
// (how each call on a connection takes its mutex, that only
// sqlite3_interrupt is called from another goroutine): another version
// must be checked again before this test is moved to it.
func TestModerncIsTheReviewedVersion(t *testing.T) {
	const reviewed = "v1.61.1"
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*modernc\.org/sqlite (\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require modernc.org/sqlite")
	}
	if got := string(m[1]); got != reviewed {
		t.Errorf("modernc.org/sqlite is %s, store/nomutex.go was checked against %s: check it again (see its comment), then change this test", got, reviewed)
	}
}
