package store

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// discard removes the connection from the pool and its backend ends, with
// the locks it held; a plain Close gives it back (the control). helper-83's
// review.
func TestDiscardEndsTheBackend(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(5)
	pidOf := func(c *sql.Conn) (pid int64) {
		if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return
	}
	alive := func(pid int64) bool {
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	c1, _ := db.Conn(ctx)
	p1 := pidOf(c1)
	c1.Close() // control: back to the pool
	if !alive(p1) || db.Stats().Idle < 1 {
		t.Fatalf("control: closed conn's backend %d alive=%v idle=%d", p1, alive(p1), db.Stats().Idle)
	}
	c2, _ := db.Conn(ctx)
	p2 := pidOf(c2)
	if _, err := c2.ExecContext(ctx, `SELECT pg_advisory_lock(99)`); err != nil {
		t.Fatal(err)
	}
	open := db.Stats().OpenConnections
	discard(c2)
	if db.Stats().OpenConnections != open-1 {
		t.Errorf("open connections %d -> %d after discard", open, db.Stats().OpenConnections)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(p2); {
		if time.Now().After(deadline) {
			t.Fatalf("backend %d alive after discard", p2)
		}
		time.Sleep(time.Millisecond)
	}
	// Every pooled connection is another backend, and the lock is free.
	for i := 0; i < 5; i++ {
		c, _ := db.Conn(ctx)
		if pidOf(c) == p2 {
			t.Fatal("the discarded backend came back from the pool")
		}
		var free bool
		c.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(99)`).Scan(&free)
		if !free {
			t.Fatal("lock 99 still held after discard")
		}
		c.ExecContext(ctx, `SELECT pg_advisory_unlock(99)`)
		defer c.Close()
	}
}
