package pgtest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// SetConnections takes a test database down — it refuses new connections
// and cuts the open ones, as a crashed or unreachable server would — or, with
// allow, brings it back. It works from the cluster's maintenance database,
// so the rest of the cluster stays up.
func SetConnections(t testing.TB, dsn string, allow bool) {
	t.Helper()
	if err := AllowConnections(dsn, allow); err != nil {
		t.Fatal(err)
	}
}

// AllowConnections is SetConnections for programs (archive-bench load
// stops the database mid-run): it returns the error instead of failing a
// test.
func AllowConnections(dsn string, allow bool) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := databaseURL(dsn, "postgres")
	if err != nil {
		return err
	}
	if err := adminExec(admin, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %v`, pgx.Identifier{name}.Sanitize(), allow)); err != nil {
		return fmt.Errorf("allow connections %v to %s: %w", allow, name, err)
	}
	if !allow {
		if err := adminExec(admin, fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s`, quoteLiteral(name))); err != nil {
			return fmt.Errorf("cut connections to %s: %w", name, err)
		}
	}
	return nil
}

// quoteLiteral quotes a string as an SQL literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
