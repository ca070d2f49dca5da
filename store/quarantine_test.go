package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func poisonBatch(t *testing.T) []store.Event {
	return append(baseRoom(t),
		mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"before"}`),
		mk(t, "$poison", "m.room.message", "@alice:example.org", 2001, nil, `{"msgtype":"m.text","body":"refused"}`),
		mk(t, "$m2", "m.room.message", "@alice:example.org", 2002, nil, `{"msgtype":"m.text","body":"after"}`),
	)
}

func quarantined(t *testing.T, st *store.Store) []store.QuarantinedEvent {
	t.Helper()
	q, err := st.Quarantined(context.Background(), 100)
	if err != nil {
		t.Fatalf("Quarantined: %v", err)
	}
	return q
}

// TestRefusedEventIsQuarantined: one event the database refuses costs only
// itself. The batch is retried in parts, the offender is kept aside with
// the database's error, and the rest commits with the transaction record.
func TestRefusedEventIsQuarantined(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st, _ := storetest.Refusing(t, d, "$poison")
			batch := poisonBatch(t)
			res, err := st.PutTransaction(ctx, "txn1", batch)
			if err != nil {
				t.Fatalf("PutTransaction: %v", err)
			}
			if res.Stored != len(batch)-1 || !slices.Equal(res.Quarantined, []id.EventID{"$poison"}) {
				t.Errorf("PutTransaction = %+v, want %d stored and $poison quarantined", res, len(batch)-1)
			}
			if got := storedIDs(t, st, "$m1", "$poison", "$m2"); !slices.Equal(got, []string{"$m1", "$m2"}) {
				t.Errorf("stored = %v, want $m1 $m2", got)
			}
			if n, _, err := st.Transaction(ctx, "txn1"); err != nil || n != len(batch) {
				t.Errorf("transaction record = %d, %v", n, err)
			}
			r, err := st.Room(ctx, room)
			if err != nil || r.MessageCount != 2 || r.Name != "Test Room" {
				t.Errorf("room = %+v, %v; want 2 messages and its name", r, err)
			}
			q := quarantined(t, st)
			if len(q) != 1 {
				t.Fatalf("quarantine = %+v, want one event", q)
			}
			if q[0].EventID != "$poison" || q[0].RoomID != room || q[0].Source != store.SourceTransaction ||
				q[0].Error == "" || string(q[0].Raw) != string(batch[len(batch)-2].Raw) || q[0].Attempts != 1 {
				t.Errorf("quarantined = %+v", q[0])
			}

			// Offered again (a sweep reads it too): still refused, still
			// quarantined once, and the batch still commits.
			res, err = st.PutEventsFrom(ctx, store.SourceSweep, batch[len(batch)-2:])
			if err != nil || len(res.Quarantined) != 1 || res.Duplicates != 1 {
				t.Fatalf("again = %+v, %v", res, err)
			}
			q = quarantined(t, st)
			if len(q) != 1 || q[0].Attempts != 2 || q[0].Source != store.SourceSweep {
				t.Errorf("quarantine after a second refusal = %+v", q)
			}
		})
	}
}

func storedIDs(t *testing.T, st *store.Store, candidates ...string) []string {
	t.Helper()
	ids := make([]id.EventID, len(candidates))
	for i, c := range candidates {
		ids[i] = id.EventID(c)
	}
	evs, err := st.EventsByID(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range candidates {
		if slices.ContainsFunc(evs, func(e store.Event) bool { return e.ID == id.EventID(c) }) {
			out = append(out, c)
		}
	}
	return out
}

// TestDatabaseDownQuarantinesNothing: a database that cannot be reached
// fails the batch (the appservice answers 5xx, the homeserver retries); it
// must never be mistaken for events it refuses.
func TestDatabaseDownQuarantinesNothing(t *testing.T) {
	ctx := context.Background()
	st, uri := storetest.Refusing(t, "postgres", "$poison")
	batch := poisonBatch(t)
	pgtest.SetConnections(t, uri, false)
	_, err := st.PutTransaction(ctx, "txn1", batch)
	pgtest.SetConnections(t, uri, true)
	if err == nil {
		t.Fatal("PutTransaction with the database down succeeded")
	}
	if q := quarantined(t, st); len(q) != 0 {
		t.Fatalf("the outage quarantined %+v", q)
	}
	if got := storedIDs(t, st, "$m1", "$m2"); len(got) != 0 {
		t.Errorf("stored during the outage: %v", got)
	}
	// Back up: the retry stores everything but the refused event.
	res, err := st.PutTransaction(ctx, "txn1", batch)
	if err != nil || len(res.Quarantined) != 1 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if q := quarantined(t, st); len(q) != 1 || q[0].EventID != "$poison" {
		t.Errorf("quarantine = %+v", q)
	}
	if got := storedIDs(t, st, "$m1", "$m2"); len(got) != 2 {
		t.Errorf("stored after the outage: %v", got)
	}
}

// TestRefusedTellsDataFromOutages checks the classification behind the
// quarantine against errors the real databases return: only a refusal of
// the data may quarantine an event; a database that is down, slow or busy
// must fail the batch so that it is retried.
func TestRefusedTellsDataFromOutages(t *testing.T) {
	ctx := context.Background()
	pgURI := pgtest.NewDatabase(t)
	pg, err := sql.Open("pgx", pgURI)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	litePath := filepath.Join(t.TempDir(), "x.db")
	lite, err := sql.Open("sqlite", "file:"+litePath+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if _, err := lite.Exec(`CREATE TABLE c (x INTEGER NOT NULL CHECK (x > 0))`); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec(`CREATE TABLE c (x INTEGER NOT NULL CHECK (x > 0), s TEXT)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  func() error
		want bool
	}{
		{"postgres: NUL in text", func() error { _, err := pg.Exec(`INSERT INTO c (x, s) VALUES (1, $1)`, "a\x00b"); return err }, true},
		{"postgres: check constraint", func() error { _, err := pg.Exec(`INSERT INTO c (x) VALUES (-1)`); return err }, true},
		{"postgres: out of range", func() error { _, err := pg.Exec(`INSERT INTO c (x) VALUES (99999999999)`); return err }, true},
		{"postgres: statement timeout", func() error {
			conn, err := pg.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `SET statement_timeout = '20ms'`); err != nil {
				return err
			}
			_, err = conn.ExecContext(ctx, `SELECT pg_sleep(2)`)
			return err
		}, false},
		{"postgres: deadline", func() error {
			dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err := pg.ExecContext(dctx, `SELECT pg_sleep(2)`)
			return err
		}, false},
		{"postgres: down", func() error {
			pgtest.SetConnections(t, pgURI, false)
			defer pgtest.SetConnections(t, pgURI, true)
			_, err := pg.Exec(`INSERT INTO c (x) VALUES (1)`)
			return err
		}, false},
		{"sqlite: check constraint", func() error { _, err := lite.Exec(`INSERT INTO c (x) VALUES (-1)`); return err }, true},
		{"sqlite: not null", func() error { _, err := lite.Exec(`INSERT INTO c (x) VALUES (NULL)`); return err }, true},
		{"sqlite: busy", func() error {
			other, err := sql.Open("sqlite", "file:"+litePath)
			if err != nil {
				return err
			}
			defer other.Close()
			tx, err := other.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.Exec(`INSERT INTO c (x) VALUES (1)`); err != nil {
				return err
			}
			_, err = lite.Exec(`INSERT INTO c (x) VALUES (2)`)
			return err
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			if got := store.Refused(fmt.Errorf("put events: %w", err)); got != tc.want {
				t.Errorf("refused(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}
