package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// archive-web under a read-only role (doc/deploy.md: a role with only
// SELECT, or ALTER ROLE … SET default_transaction_read_only = on) cannot
// migrate, so after an upgrade the archiver starts first. An archive-web
// restarted first said "migrate: apply 021_text_bytes.sql: ERROR: must be
// owner of table alias_claims (SQLSTATE 42501)", which reads as a broken
// grant, or, under the second kind of role, "cannot execute DELETE in a
// read-only transaction (SQLSTATE 25006)", which reads as a broken
// database: both now say the schema is older than the binary and to start
// the upgraded archiver first.
func TestReadOnlyRoleBehindTheSchemaSaysStartTheArchiver(t *testing.T) {
	for _, c := range []struct {
		name string
		// role is the statements that make the role read-only beyond
		// its grant of SELECT.
		role     []string
		sqlstate string
	}{
		{"SELECT only", nil, "42501"},
		{"default_transaction_read_only", []string{`ALTER ROLE %s SET default_transaction_read_only = on`}, "25006"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			uri := pgtest.NewDatabase(t)
			st, err := store.Open(ctx, store.Config{Type: "postgres", URI: uri}, t.TempDir(), storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			db, err := sql.Open("pgx", uri)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			u, _ := url.Parse(uri)
			dbname := strings.TrimPrefix(u.Path, "/")
			role := fmt.Sprintf("mxro_%d", time.Now().UnixNano())
			// The database as an older release left it: one migration behind.
			qs := []string{
				`UPDATE schema_version SET version = version - 1`,
				`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw'`,
				`GRANT CONNECT ON DATABASE "` + dbname + `" TO ` + role,
				`GRANT USAGE ON SCHEMA public TO ` + role,
				`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ` + role,
			}
			for _, q := range c.role {
				qs = append(qs, fmt.Sprintf(q, role))
			}
			for _, q := range qs {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			t.Cleanup(func() {
				_, _ = db.Exec(`REASSIGN OWNED BY ` + role + ` TO CURRENT_USER`)
				_, _ = db.Exec(`DROP OWNED BY ` + role)
				_, _ = db.Exec(`DROP ROLE ` + role)
			})
			u.User = url.UserPassword(role, "pw")
			_, err = store.Open(ctx, store.Config{Type: "postgres", URI: u.String()}, t.TempDir(), storetest.Logger(t),
				store.Options{ReadMostly: true})
			if err == nil {
				t.Fatal("a read-only role opened a schema one migration behind")
			}
			if msg := err.Error(); !strings.Contains(msg, "start the upgraded archiver first") || !strings.Contains(msg, c.sqlstate) {
				t.Errorf("archive-web under a read-only role (%s) meets a schema one migration behind: error %q; want it to say the schema is older than the binary "+
					"and to start the upgraded archiver first, with PostgreSQL's refusal (SQLSTATE %s)", c.name, msg, c.sqlstate)
			}
		})
	}
}
