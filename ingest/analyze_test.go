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
// PostgreSQL's statistics of the events fresh (store.Analyze), so what
// follows it is planned for the events it wrote, not for the empty table
// autovacuum last saw; a smaller import leaves that to autovacuum. SQLite
// keeps no statistics: PostgreSQL only. last_analyze is set by ANALYZE
// alone, not by autovacuum (last_autoanalyze), so autovacuum running
// during the test cannot make it pass.
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
	analyzed := func() bool {
		t.Helper()
		var at sql.NullTime
		if err := db.QueryRowContext(ctx, `SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'events'`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at.Valid
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
	if analyzed() {
		t.Fatal("an import of 500 events analyzed the database")
	}
	if rep := importFile(t, in, file(10_000, 500), ingest.ImportOptions{}); rep.Stored < 10_000 {
		t.Fatalf("large import: %s", rep)
	}
	if !analyzed() {
		t.Error("an import of 10,000 events left the events without fresh statistics")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'events'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the events were analyzed %d times by one large import, want once", n)
	}
}
