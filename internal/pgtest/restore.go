package pgtest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backup copies a test database, as a backup would hold it, into a new
// database of the cluster (CREATE DATABASE … TEMPLATE), and returns the
// copy's name for Restore. A template must have no sessions: the
// database's own are cut (their pools reconnect), and it takes new ones
// again once copied. The copy is dropped when t ends, unless restored.
func Backup(t testing.TB, dsn string) string {
	t.Helper()
	name, admin := nameAndAdmin(t, dsn)
	copyName := backupName(name)
	SetConnections(t, dsn, false)
	err := adminExec(admin, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, pgx.Identifier{copyName}.Sanitize(), pgx.Identifier{name}.Sanitize()))
	SetConnections(t, dsn, true)
	if err != nil {
		t.Fatalf("pgtest: back up %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(admin, copyName); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", copyName, err)
		}
	})
	return copyName
}

// Restore puts the database Backup copied in place of the test database
// under the same name (so the same URL), as restoring a backup does: its
// sessions are cut and the pools that held them reconnect to the copy.
// The database replaced is dropped when t ends.
func Restore(t testing.TB, dsn, backup string) {
	t.Helper()
	name, admin := nameAndAdmin(t, dsn)
	replaced := backupName(name)
	SetConnections(t, dsn, false)
	for _, stmt := range []string{
		fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, pgx.Identifier{name}.Sanitize(), pgx.Identifier{replaced}.Sanitize()),
		fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, pgx.Identifier{backup}.Sanitize(), pgx.Identifier{name}.Sanitize()),
	} {
		if err := adminExec(admin, stmt); err != nil {
			t.Fatalf("pgtest: restore %s from %s: %v", name, backup, err)
		}
	}
	t.Cleanup(func() {
		if err := dropDatabase(admin, replaced); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", replaced, err)
		}
	})
}

// nameAndAdmin returns the database dsn names and the URL of the
// cluster's maintenance database.
func nameAndAdmin(t testing.TB, dsn string) (name, admin string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name = strings.TrimPrefix(u.Path, "/")
	admin, err = databaseURL(dsn, "postgres")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return name, admin
}

// backupName is a new database name derived from name, at most 63 bytes.
func backupName(name string) string {
	return databaseName(strings.TrimPrefix(name, "pgtest_"))
}

// Retry runs fn until it succeeds, for at most 10 s: each session of a
// pool that Backup or Restore cut fails once before the pool reconnects.
func Retry(t testing.TB, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
