package store

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// OpenWaiting waits for a server that does not answer, not for one that
// refuses the connection's own settings.
func TestMisconfiguredIsNotWaitedFor(t *testing.T) {
	for code, want := range map[string]bool{
		"28P01": true,  // invalid password
		"28000": true,  // no such role, or pg_hba refuses it
		"3D000": true,  // no such database
		"57P03": false, // starting up, in recovery
		"55000": false, // not accepting connections
		"53300": false, // too many connections
	} {
		err := fmt.Errorf("open store: %w", &pgconn.PgError{Severity: "FATAL", Code: code})
		if got := misconfigured(err); got != want {
			t.Errorf("misconfigured(%s) = %v, want %v", code, got, want)
		}
	}
	if misconfigured(fmt.Errorf("dial: connection refused")) {
		t.Error("a refused connection is taken for a misconfiguration")
	}
}
