package e2e_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// setConnections takes a test database down (refusing and cutting every
// connection) or brings it back, from the cluster's maintenance database.
func setConnections(t *testing.T, dsn string, allow bool) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS %v`, name, allow)); err != nil {
		t.Fatal(err)
	}
	if !allow {
		if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			t.Fatal(err)
		}
	}
}
