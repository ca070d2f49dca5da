package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
			conns := holdConns(t, st, 5)
			for _, c := range conns {
				c.Close()
			}
			if got := st.PoolStats().Idle; got != 3 {
				t.Errorf("idle connections = %d, want 3", got)
			}
		})
	}
}

// archive-web's SQLite pool (a ReadMostly store) keeps every connection it
// opened: one closed for want of an idle place took its page cache and
// its compiled statements with it, and a day page, which reads beside its
// timeline, had the next one fill a new cache, a page fault for each of
// its pages. The archiver's keeps two, each with a larger cache; a
// configured bound wins in both.
func TestReadMostlyKeepsItsConnections(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		readMostly bool
		cfg        store.Config
		idle       int
	}{
		{"archive-web", true, store.Config{Type: "sqlite"}, 8},
		{"archiver", false, store.Config{Type: "sqlite"}, 2},
		{"archive-web, configured", true, store.Config{Type: "sqlite", MaxIdleConns: 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(ctx, tc.cfg, t.TempDir(), storetest.Logger(t), store.Options{ReadMostly: tc.readMostly})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			open := st.PoolStats().MaxOpenConnections
			for _, c := range holdConns(t, st, open) {
				c.Close()
			}
			if got := st.PoolStats().Idle; got != tc.idle {
				t.Errorf("%d connections held and given back: %d stay idle, want %d", open, got, tc.idle)
			}
		})
	}
}

// holdConns takes n connections of st's pool at once, so that each is a
// session of its own; the caller closes them.
func holdConns(t *testing.T, st *store.Store, n int) []*sql.Conn {
	t.Helper()
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := st.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return conns
}

// archive-web's PostgreSQL sessions (a ReadMostly store) plan each
// prepared statement once, for any arguments, unless the URI says
// otherwise: with PostgreSQL's default, a new session planned each
// statement's first five executions anew, and the first pages after a
// start or a quiet while paid for it. The archiver keeps the default.
func TestReadMostlyPlansOnce(t *testing.T) {
	uri := pgtest.NewDatabase(t)
	eachSessionShows(t, "plan_cache_mode", []sessionCase{
		{"archive-web", uri, true, "force_generic_plan"},
		{"archiver", uri, false, "auto"},
		{"archive-web, the URI's own", withParam(uri, "plan_cache_mode=force_custom_plan"), true, "force_custom_plan"},
	})
}

// sessionCase is a store opened on uri, as archive-web opens it
// (readMostly) or as the archiver does, and the value a setting should
// show on its sessions.
type sessionCase struct {
	name       string
	uri        string
	readMostly bool
	want       string
}

// eachSessionShows opens each case's store and checks that every session
// of its pool, not only the first, shows the setting's wanted value.
func eachSessionShows(t *testing.T, setting string, cases []sessionCase) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(ctx, store.Config{Type: "postgres", URI: tc.uri}, t.TempDir(), storetest.Logger(t), store.Options{ReadMostly: tc.readMostly})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i, c := range holdConns(t, st, 3) {
				var got string
				if err := c.QueryRowContext(ctx, `SHOW `+setting).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("session %d: %s %q, want %q", i, setting, got, tc.want)
				}
				c.Close()
			}
		})
	}
}

// withParam adds a parameter (name=value) to a connection URI.
func withParam(uri, param string) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + param
	}
	return uri + "?" + param
}

// A store opened ReadMostly (archive-web) maps none of the SQLite file
// into the process and keeps a small page cache per connection: mapped
// pages count in the process's resident memory, and a reindex, which reads
// the whole file, mapped all of it (212 of 551 MiB at 300k messages). The
// archiver's store keeps both (its inserts touch index pages all over the
// file). Every connection gets the pragmas, including those the counting
// wrapper reopens.
func TestReadMostlyMapsNothing(t *testing.T) {
	ctx := context.Background()
	// pragmas checks each of three connections' mmap_size (0) and
	// cache_size (wantKiB).
	pragmas := func(t *testing.T, st *store.Store, wantKiB int64) {
		t.Helper()
		conns := holdConns(t, st, 3)
		for i, c := range conns {
			var mmap, cache int64
			if err := c.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&mmap); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
				t.Fatal(err)
			}
			// A negative cache_size is in KiB.
			if mmap != 0 || cache != -wantKiB {
				t.Errorf("connection %d: mmap_size %d, cache_size %d; want 0 and %d KiB", i, mmap, cache, wantKiB)
			}
			c.Close()
		}
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{ReadMostly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pragmas(t, st, 2<<10)
	if _, err := st.CountQueries(); err != nil {
		t.Fatal(err)
	}
	pragmas(t, st, 2<<10)

	// A reindex's store (ReadsWhole) maps nothing either, and keeps the
	// 8 MiB cache serving archive-webs had.
	r, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{ReadMostly: true, ReadsWhole: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pragmas(t, r, 8<<10)

	// The writer's store keeps its mapping.
	w, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mmap int64
	if err := c.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&mmap); err != nil {
		t.Fatal(err)
	}
	if mmap < 256<<20 {
		t.Errorf("the writer's mmap_size is %d", mmap)
	}
}

// TestWritesOnAPoolOfOne: with one connection allowed, a batch still
// writes. A write transaction holds that connection, so nothing it runs
// may wait for another one: the statements a batch keeps prepared are
// prepared when the store opens, not inside the transaction. A batch of
// 100 events uses each of the multi-row statements (64, 16, 4, 1 rows),
// and a second one the statements the first prepared on the connection.
func TestWritesOnAPoolOfOne(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			cfg := store.Config{Type: dialect, MaxOpenConns: 1, MaxIdleConns: 1, WriteTimeout: 10 * time.Second}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
			}
			st, err := store.Open(context.Background(), cfg, t.TempDir(), storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			evs := baseRoom(t)
			for i := range 100 - len(evs) {
				evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"hello"}`))
			}
			start := time.Now()
			if res := put(t, st, evs...); res.Stored != 100 {
				t.Fatalf("stored %d of 100", res.Stored)
			}
			evs = evs[:0]
			for i := range 21 {
				evs = append(evs, mk(t, fmt.Sprintf("$n%d", i), "m.room.message", "@alice:example.org", int64(5000+i), nil, `{"msgtype":"m.text","body":"again"}`))
			}
			if res := put(t, st, evs...); res.Stored != 21 {
				t.Fatalf("stored %d of 21", res.Stored)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("two batches took %v", d)
			}
		})
	}
}

// Neither the archiver's nor archive-web's PostgreSQL sessions compile
// statements (jit off) unless the URI says otherwise: on a fresh archive
// whose events autovacuum had not yet analyzed, the writer's probe of a
// batch was costed past jit_above_cost and compiled, 1.5 s a statement
// against 20 ms without, while an import waited.
func TestSessionsCompileNothing(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	eachSessionShows(t, "jit", []sessionCase{
		{"archiver", uri, false, "off"},
		{"archive-web", uri, true, "off"},
		{"archiver, the URI's own", withParam(uri, "jit=on"), false, "on"},
	})

	// The case that cost: a batch's probe over 10,000 events PostgreSQL
	// has no statistics of. A session with PostgreSQL's defaults compiles
	// it (where the server can); the archiver's does not.
	t.Run("probe before statistics", func(t *testing.T) {
		st, err := store.Open(ctx, store.Config{Type: "postgres", URI: pgtest.NewDatabase(t)}, t.TempDir(), storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c := holdConns(t, st, 1)[0]
		defer c.Close()
		if _, err := c.ExecContext(ctx, `ALTER TABLE events SET (autovacuum_enabled = off)`); err != nil {
			t.Fatal(err)
		}
		evs := baseRoom(t)
		for i := range 10_000 {
			evs = append(evs, mk(t, fmt.Sprintf("$m%05d", i), "m.room.message", "@alice:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"hi"}`))
		}
		put(t, st, evs...)
		ids := make([]string, 2000)
		for i := range ids {
			ids[i] = fmt.Sprintf("$new%04d", i)
		}
		compiled := func(c *sql.Conn) bool {
			t.Helper()
			plan, err := store.ScanStrings(c.QueryContext(ctx, "EXPLAIN "+store.PostgresProbeSQL, ids))
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(plan, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "JIT:") })
		}
		if compiled(c) {
			t.Error("the archiver's session compiles the probe of a batch")
		}
		// The same statement on a session with PostgreSQL's defaults
		// (pg_jit_available says whether jit is on too).
		if _, err := c.ExecContext(ctx, `RESET jit`); err != nil {
			t.Fatal(err)
		}
		var available bool
		if err := c.QueryRowContext(ctx, `SELECT pg_jit_available()`).Scan(&available); err != nil {
			t.Fatal(err)
		}
		if !available {
			t.Log("this server cannot compile; only the setting is checked")
			return
		}
		if !compiled(c) {
			t.Error("with PostgreSQL's default jit the probe is not compiled: this test no longer shows the case")
		}
	})
}
