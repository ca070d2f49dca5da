package pgtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// adminURL points at the maintenance database of the server holding dbURL.
func adminURL(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	return u.String()
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestDatabasesAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a == b {
		t.Fatalf("both databases have URL %s", a)
	}
	dbA, dbB := open(t, a), open(t, b)
	if _, err := dbA.Exec(`CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dbA.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count in first database = %d, %v; want 1", n, err)
	}
	var visible bool
	if err := dbB.QueryRow(`SELECT to_regclass('public.t') IS NOT NULL`).Scan(&visible); err != nil {
		t.Fatal(err)
	}
	if visible {
		t.Error("table created in the first database is visible in the second")
	}
	var enc string
	if err := dbB.QueryRow(`SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Errorf("encoding = %q, %v; want UTF8", enc, err)
	}
}

func TestDatabaseIsDroppedAfterCleanup(t *testing.T) {
	t.Parallel()
	var dbURL string
	t.Run("sub", func(t *testing.T) {
		dbURL = pgtest.NewDatabase(t)
		// A connection the test forgets to close must not prevent the drop.
		leaked, err := sql.Open("pgx", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaked.Ping(); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() || dbURL == "" {
		return
	}
	var exists bool
	err := open(t, adminURL(t, dbURL)).QueryRow(
		`SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, dbName(t, dbURL)).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after the subtest ended", dbName(t, dbURL))
	}
}

func TestParallelTests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			dbURL := pgtest.NewDatabase(t)
			mu.Lock()
			dup := seen[dbURL]
			seen[dbURL] = true
			mu.Unlock()
			if dup {
				t.Errorf("URL %s handed out twice", dbURL)
			}
			if _, err := open(t, dbURL).Exec(`CREATE TABLE t (x int)`); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestExternalServer runs this test binary again with MXARCHIVE_TEST_POSTGRES
// pointing at the server started here, and checks there that the variable is
// honoured: databases are created on that server and none is started.
func TestExternalServer(t *testing.T) {
	if env := os.Getenv("MXARCHIVE_TEST_POSTGRES"); env != "" {
		dbURL := pgtest.NewDatabase(t)
		if pgtest.LocalServerStarted() {
			t.Error("a local server was started although MXARCHIVE_TEST_POSTGRES is set")
		}
		want, _ := url.Parse(env)
		got, _ := url.Parse(dbURL)
		if got.Host != want.Host || got.User.String() != want.User.String() {
			t.Errorf("database URL %s is not on the server of %s", dbURL, env)
		}
		if _, err := open(t, dbURL).Exec(`CREATE TABLE t (x int)`); err != nil {
			t.Error(err)
		}
		return
	}

	t.Parallel()
	// Any database of the server will do as the admin database.
	server := pgtest.NewDatabase(t)
	cmd := exec.CommandContext(context.Background(), os.Args[0], "-test.run=^TestExternalServer$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "MXARCHIVE_TEST_POSTGRES="+server)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestExternalServer") {
		t.Fatalf("child test run failed: %v\n%s", err, out)
	}
}

func TestDatabaseURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@db.example:5433/admin?sslmode=require", "postgres://u:secret@db.example:5433/new_db?sslmode=require"},
		{"postgresql://localhost", "postgresql://localhost/new_db"},
		{"postgres://u@/admin?host=/run/postgresql", "postgres://u@/new_db?host=/run/postgresql"},
	} {
		got, err := pgtest.DatabaseURL(tc.in, "new_db")
		if err != nil || got != tc.want {
			t.Errorf("DatabaseURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"host=db user=u password=secret", "mysql://u:secret@db/x", "postgres://u:secret@db/%zz"} {
		_, err := pgtest.DatabaseURL(in, "new_db")
		if err == nil {
			t.Errorf("DatabaseURL(%q) succeeded, want an error", in)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q reveals the password", err)
		}
	}
}

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	long := strings.Repeat("TestSomething/with spaces#01", 5)
	a, b := pgtest.DatabaseName(long), pgtest.DatabaseName(long)
	if a == b {
		t.Errorf("two calls gave the same name %s", a)
	}
	for _, name := range []string{a, b, pgtest.DatabaseName("")} {
		if !valid.MatchString(name) {
			t.Errorf("name %q is not a short lower-case identifier", name)
		}
	}
	if !strings.Contains(a, "testsomething_with_spaces_01") {
		t.Errorf("name %q does not mention the test", a)
	}
}
