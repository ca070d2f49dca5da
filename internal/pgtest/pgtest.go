// Package pgtest gives tests real, throwaway PostgreSQL databases.
//
// A package that needs a database calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test calls NewDatabase to get the URL of a fresh, empty database
// of its own, dropped when the test ends. The server is either the one named
// by MXARCHIVE_TEST_POSTGRES or a private cluster started from the system's
// PostgreSQL binaries the first time a test asks for a database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// envURL names the environment variable that points tests at an existing
// server instead of starting one: a postgres:// URL whose user may CREATE
// DATABASE. Databases are created next to the one it names.
const envURL = "MXARCHIVE_TEST_POSTGRES"

// Set by Main before any test runs, read-only afterwards.
var (
	mainCalled  bool
	externalURL string
)

// The local cluster is started at most once per test binary, by the first
// NewDatabase call; later callers wait on mu and reuse the result, including
// a failure, so a broken installation costs one attempt rather than one per
// test.
var (
	mu      sync.Mutex
	tried   bool
	local   *server
	failure error
)

// Main runs the tests of a package with a PostgreSQL server available, stops
// the server if one was started, and exits with m.Run's code.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit: it runs the tests, stops the server it
// started and returns the exit code, so a TestMain can clean up its own
// files before exiting.
func Run(m *testing.M) int {
	mainCalled = true
	externalURL = os.Getenv(envURL)

	code := m.Run()

	mu.Lock()
	if local != nil {
		if err := local.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n", err)
		}
		local = nil
	}
	mu.Unlock()
	return code
}

// NewDatabase creates an empty database for t, drops it (even if it is still
// in use) when t ends, and returns its postgres:// URL.
//
// If no server is configured and none can be started, the test is skipped,
// or failed when CI=true, so CI cannot silently skip the database tests.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return NewDatabaseWith(t, "")
}

// NewDatabaseWith is NewDatabase with more of CREATE DATABASE's options
// (CreateDatabaseWith): a database whose default collation is a
// language's, as a cluster made with that locale has.
func NewDatabaseWith(t testing.TB, options string) string {
	t.Helper()
	if !mainCalled {
		// Without Main nobody would stop the server or remove its directory.
		t.Fatal("pgtest: NewDatabase needs pgtest.Main(m) to be called from TestMain")
	}

	adminURL := externalURL
	if adminURL == "" {
		s, err := localServer(t)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("pgtest: PostgreSQL is unavailable: %v", err)
			}
			t.Skipf("pgtest: PostgreSQL is unavailable (install the server or set %s): %v", envURL, err)
		}
		adminURL = s.url
	}

	name := databaseName(t.Name())
	dbURL, err := CreateDatabaseWith(adminURL, name, options)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(adminURL, name); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return dbURL
}

// localServer returns the local cluster, starting it on first use.
func localServer(t testing.TB) (*server, error) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !tried {
		tried = true
		start := time.Now()
		local, failure = startServer()
		if failure == nil {
			t.Logf("pgtest: started PostgreSQL at %s in %v", local.dir, time.Since(start).Round(time.Millisecond))
		}
	}
	return local, failure
}

// adminExec runs one statement on a fresh connection to the admin URL. A
// connection per call keeps parallel tests independent (a pgx.Conn is not
// safe for concurrent use) and costs a few milliseconds on loopback.
func adminExec(adminURL, sql string) error {
	// Not t.Context(): it is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName makes a unique, valid, at most 63-byte identifier. The random
// part keeps names unique across test binaries sharing one server (go test
// runs packages in parallel); the test name helps whoever finds a leftover.
func databaseName(testName string) string {
	var b [6]byte
	rand.Read(b[:])
	name := "pgtest_" + hex.EncodeToString(b[:]) + "_"
	for _, r := range strings.ToLower(testName) {
		if len(name) == 63 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			name += string(r)
		} else {
			name += "_"
		}
	}
	return name
}

// databaseURL returns adminURL with its database replaced by name, keeping
// the user, password, host, port and parameters such as sslmode.
func databaseURL(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not %v of err: it would echo the URL, password included.
		return "", fmt.Errorf("%s is not a postgres:// URL", envURL)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
