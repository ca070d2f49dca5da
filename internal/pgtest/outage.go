package pgtest

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, registered for SetConnections
)

// SetConnections takes a test database down — it refuses new connections
// and cuts the open ones, as a crashed or unreachable server would — or, with
// allow, brings it back. It works from the cluster's maintenance database,
// so the rest of the cluster stays up.
func SetConnections(t testing.TB, dsn string, allow bool) {
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
		t.Fatalf("allow connections %v to %s: %v", allow, name, err)
	}
	if !allow {
		if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			t.Fatalf("cut connections to %s: %v", name, err)
		}
	}
}
