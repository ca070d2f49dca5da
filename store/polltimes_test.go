package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPollRuleAgrees: the poll starts the room's summary counts in Go
// (Event.PollStart, public and not redacted) are the ones events_polls holds
// (pollIndexCond): both types, in a thread too, and not an edit of a
// poll, a state event of a poll's type, or a response.
func TestPollRuleAgrees(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const bob = "@bob:example.org"
		poll := `{"m.poll.start":{"question":{"m.text":"?"},"answers":[{"id":"y","m.text":"Yes"}]}}`
		evs := append(baseRoom(t),
			mk(t, "$p", "m.poll.start", bob, 2000, nil, poll),
			mk(t, "$pu", "org.matrix.msc3381.poll.start", bob, 2001, nil, `{"body":"not a poll's content"}`),
			mk(t, "$pt", "m.poll.start", bob, 2002, nil, `{"m.relates_to":{"rel_type":"m.thread","event_id":"$p"}}`),
			mk(t, "$pe", "m.poll.start", bob, 2003, nil, editOf("$p", poll)),
			mk(t, "$ps", "m.poll.start", bob, 2004, sk(""), poll),
			mk(t, "$pr", "m.poll.response", bob, 2005, nil, `{"m.relates_to":{"rel_type":"m.reference","event_id":"$p"}}`),
			mk(t, "$pgone", "m.poll.start", bob, 2006, nil, poll),
			mk(t, "$x", "m.room.redaction", bob, 3000, nil, `{"redacts":"$pgone"}`),
			mk(t, "$m", "m.room.message", bob, 3001, nil, `{"msgtype":"m.text","body":"hi"}`),
			mk(t, "$me", "m.room.message", bob, 3002, nil, editOf("$m", `{"msgtype":"m.text","body":"hello"}`)),
			mk(t, "$s", "m.sticker", bob, 3003, nil, `{"body":"cat","url":"mxc://example.org/cat"}`),
		)
		put(t, st, evs...)
		bySQL, byGo := selectedBoth(t, st, evs, store.PollIndexCondSQL, func(e store.Event) bool {
			return e.Public && !e.Redacted && e.PollStart()
		})
		if want := []id.EventID{"$p", "$pt", "$pu"}; !slices.Equal(bySQL, want) || !slices.Equal(byGo, want) {
			t.Errorf("poll starts: SQL %v, Go %v, want %v", bySQL, byGo, want)
		}
		// What search may hold: messages and poll starts, redacted or
		// not (the indexer deletes what is not shown).
		bySQL, byGo = selectedBoth(t, st, evs, store.ReadableSQL, func(e store.Event) bool { return e.Readable() })
		if want := []id.EventID{"$m", "$p", "$pgone", "$pt", "$pu", "$s"}; !slices.Equal(bySQL, want) || !slices.Equal(byGo, want) {
			t.Errorf("searchable: SQL %v, Go %v, want %v", bySQL, byGo, want)
		}
	})
}

// scanIDs reads a one-column result of event IDs and closes rows.
func scanIDs(rows *sql.Rows, err error) ([]id.EventID, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []id.EventID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, id.EventID(s))
	}
	return out, rows.Err()
}

// TestRoomTimesCountPolls: a room's first and last times are of its
// messages and its polls, as its days are: a poll after the last message
// is the room's last time (its page opens on that day), and a room whose
// only message is a poll has one, its count of messages still 0. An
// archive of polls stored before migration 030 has them counted by it.
func TestRoomTimesCountPolls(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := store.Config{Type: d, URI: filepath.Join(dir, "mx.db")}
			driver := "sqlite"
			if d == "postgres" {
				cfg.URI, driver = pgtest.NewDatabase(t), "pgx"
			}
			st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			const day = int64(86400000)
			poll := `{"m.poll.start":{"question":{"m.text":"?"},"answers":[{"id":"y","m.text":"Yes"}]}}`
			put(t, st, append(baseRoom(t),
				mk(t, "$m1", "m.room.message", "@alice:example.org", 1*day, nil, `{"msgtype":"m.text","body":"one"}`),
				mk(t, "$p3", "m.poll.start", "@alice:example.org", 3*day, nil, poll),
				mk(t, "$pe4", "m.poll.start", "@alice:example.org", 4*day, nil, editOf("$p3", poll)),
			)...)
			other := baseRoom(t)
			for i := range other {
				other[i].RoomID = "!polls:example.org"
			}
			pollOnly := mk(t, "$p5", "m.poll.start", "@alice:example.org", 5*day, nil, poll)
			pollOnly.RoomID = "!polls:example.org"
			put(t, st, append(other, pollOnly)...)

			check := func(when string) {
				t.Helper()
				for _, c := range []struct {
					room        id.RoomID
					first, last int64
				}{{room, 1 * day, 3 * day}, {"!polls:example.org", 5 * day, 5 * day}} {
					r, err := st.Room(ctx, c.room)
					if err != nil {
						t.Fatal(err)
					}
					if r.FirstTS != c.first || r.LastTS != c.last || r.MessageCount != map[id.RoomID]int64{room: 1}[c.room] {
						t.Errorf("%s: %s: first %d, last %d, %d messages; want %d, %d", when, c.room, r.FirstTS, r.LastTS, r.MessageCount, c.first, c.last)
					}
				}
			}
			check("stored")
			st.Close()

			// As an archive left by the binary before: the times of
			// messages alone, at schema version 29.
			db, err := sql.Open(driver, cfg.URI)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`UPDATE rooms SET first_ts = 1 * 86400000, last_ts = 1 * 86400000 WHERE room_id = '` + string(room) + `'`,
				`UPDATE rooms SET first_ts = 0, last_ts = 0 WHERE room_id = '!polls:example.org'`,
				`UPDATE schema_version SET version = 29`,
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			if st, err = store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{}); err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			check("migrated")
		})
	}
}
