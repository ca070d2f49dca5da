package ingest_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestLargeImportAnalyzes: an import of 10,000 events or more leaves
// PostgreSQL's statistics of the events fresh and their visibility map
// whole (store.AfterBulkWrite), so what follows it is planned for the
// events it wrote, not for the empty table autovacuum last saw, and a
// count of them reads their index alone; a smaller import leaves that to
// autovacuum. SQLite keeps no statistics and has no visibility map:
// PostgreSQL only. last_analyze and last_vacuum are set by ANALYZE and
// VACUUM alone, not by autovacuum (last_autoanalyze, last_autovacuum), so
// autovacuum running during the test cannot make it pass. The tests'
// clusters commit asynchronously (synchronous_commit off), as an operator
// may: the vacuum must wait for the import's commits to be flushed.
func TestLargeImportAnalyzes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	analyzed := func() (analyzed, vacuumed bool) {
		t.Helper()
		var a, v sql.NullTime
		if err := db.QueryRowContext(ctx, `SELECT last_analyze, last_vacuum FROM pg_stat_user_tables WHERE relname = 'events'`).Scan(&a, &v); err != nil {
			t.Fatal(err)
		}
		return a.Valid, v.Valid
	}
	file := func(n, from int) string {
		lines := header("world_readable")
		for i := range n {
			lines = append(lines, msg(fmt.Sprintf("$m%06d", from+i), int64(1000+from+i), fmt.Sprintf("message number %d", from+i)))
		}
		return writeLines(t, lines)
	}
	in := ingest.New(st, storetest.Logger(t), "")
	if rep := importFile(t, in, file(500, 0), ingest.ImportOptions{}); rep.Stored < 500 {
		t.Fatalf("small import: %s", rep)
	}
	if a, v := analyzed(); a || v {
		t.Fatalf("an import of 500 events analyzed (%v) or vacuumed (%v) the database", a, v)
	}
	if rep := importFile(t, in, file(10_000, 500), ingest.ImportOptions{}); rep.Stored < 10_000 {
		t.Fatalf("large import: %s", rep)
	}
	a, v := analyzed()
	if !a {
		t.Error("an import of 10,000 events left the events without fresh statistics")
	}
	if !v {
		t.Error("an import of 10,000 events left the events unvacuumed")
	}
	var n, nv, pages, visible int
	if err := db.QueryRowContext(ctx, `SELECT analyze_count, vacuum_count FROM pg_stat_user_tables WHERE relname = 'events'`).Scan(&n, &nv); err != nil {
		t.Fatal(err)
	}
	if n != 1 || nv != 1 {
		t.Errorf("the events were analyzed %d times and vacuumed %d times by one large import, want once each", n, nv)
	}
	// The ANALYZE after the vacuum counted the pages, and those the
	// visibility map marks all-visible.
	if err := db.QueryRowContext(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE relname = 'events'`).Scan(&pages, &visible); err != nil {
		t.Fatal(err)
	}
	if pages == 0 || visible != pages {
		t.Errorf("after the large import %d of the events' %d pages are all-visible, want all: a count of them reads the table too", visible, pages)
	}
}
