package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

func openSQLite(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), Config{Type: "sqlite"}, t.TempDir(), slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestEventInsertNeedsNoStatementJournal: SQLite keeps a statement journal
// for a statement that writes several rows when it may abort midway
// (usesStmtJournal = isMultiWrite && mayAbort): when it calls a function
// (an index on idh(event_id), a partial index on LOWER(raw) LIKE ...: any
// function may fail) or halts on a constraint (a plain INSERT's NOT
// NULL). The program of every events insert on the migrated schema
// (EXPLAIN) has neither, so SQLite copies no page before changing it.
func TestEventInsertNeedsNoStatementJournal(t *testing.T) {
	st := openSQLite(t)
	for i, text := range insertEventsSQLite.texts {
		rows, err := st.db.QueryContext(context.Background(), "EXPLAIN "+text, make([]any, insertEventsSQLite.width*sqliteRowsPerInsert[i])...)
		if err != nil {
			t.Fatal(err)
		}
		var aborts []string
		n := 0
		for rows.Next() {
			var addr, p1, p2, p3 int64
			var op string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			n++
			switch {
			case op == "Function" || op == "PureFunc" || op == "HaltIfNull",
				op == "Halt" && p1 != 0:
				aborts = append(aborts, fmt.Sprintf("%d %s %d %d %d %v", addr, op, p1, p2, p3, p4))
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("%d rows: EXPLAIN gave no program", sqliteRowsPerInsert[i])
		}
		if len(aborts) > 0 {
			t.Errorf("the insert of %d rows may abort midway (a statement journal):\n%s", sqliteRowsPerInsert[i], strings.Join(aborts, "\n"))
		}
	}
}

// TestMentionsMeetingAsSQLite: the column meeting holds what events_meeting's
// condition was, type = 'm.room.message' AND LOWER(raw) LIKE
// '%startmeeting%', as SQLite computes it.
func TestMentionsMeetingAsSQLite(t *testing.T) {
	st := openSQLite(t)
	raws := []string{
		`{"body":"#startmeeting infra"}`, `{"body":"#STARTMEETING"}`, `{"body":"#StartMeeting x"}`,
		`startmeeting`, `xstartmeetingx`, `startmeetin`, `tartmeeting`, `start meeting`, `sstartmeeting`,
		`{"body":"#startmeetinG"}`, `{"body":"#startmeet"}`, `ſtartmeeting`, `ＳTARTMEETING`, `start\u006deeting`,
		`STARTMEETINGSTARTMEETING`, `stArTmEeTiNg`, "s\x00tartmeeting", `{"body":"#endmeeting"}`, ``, `s`,
		"\u00dftartmeeting", `{"body":"ÉstartmeetingÉ"}`, `{"body":"#startmeeting` + strings.Repeat("é", 50) + `"}`,
	}
	for _, typ := range []string{event.TypeMessage, "m.room.topic", "m.reaction"} {
		for _, raw := range raws {
			var want bool
			if err := st.db.QueryRow(`SELECT $1 = 'm.room.message' AND LOWER($2) LIKE '%startmeeting%'`, typ, raw).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if got := mentionsMeeting(typ, []byte(raw)); got != want {
				t.Errorf("mentionsMeeting(%s, %q) = %v, SQLite says %v", typ, raw, got, want)
			}
		}
	}
}

// TestSQLiteForm: idh of an events row's ID becomes its column eh, and
// meetingMention its column meeting; idh of anything else stays.
func TestSQLiteForm(t *testing.T) {
	for in, want := range map[string]string{
		`WHERE idh(event_id) = idh($1) AND event_id = $1`:                        `WHERE eh = idh($1) AND event_id = $1`,
		`JOIN events e ON idh(e.event_id) = idh(r.target_id)`:                    `JOIN events e ON e.eh = idh(r.target_id)`,
		`FROM events t WHERE idh(t.event_id) = idh(events.rel_target)`:           `FROM events t WHERE t.eh = idh(events.rel_target)`,
		`JOIN events e ON idh(e.event_id) = idh(m.event_id)`:                     `JOIN events e ON e.eh = idh(m.event_id)`,
		`WHERE idh(events.event_id) IN (SELECT idh(value) FROM json_each($1))`:   `WHERE events.eh IN (SELECT idh(value) FROM json_each($1))`,
		`WHERE room_id = $1 AND ` + meetingMention("events") + ` AND public`:     `WHERE room_id = $1 AND events.meeting AND public`,
		`WHERE x.room_id = $1 AND ` + meetingMention("x") + ` AND x.public`:      `WHERE x.room_id = $1 AND x.meeting AND x.public`,
		`WHERE x.type = 'm.room.message' AND LOWER(e.raw) LIKE '%startmeeting%'`: `WHERE x.type = 'm.room.message' AND LOWER(e.raw) LIKE '%startmeeting%'`,
		`SELECT event_id FROM events WHERE nid = $1`:                             `SELECT event_id FROM events WHERE nid = $1`,
	} {
		if got := sqliteForm(in); got != want {
			t.Errorf("sqliteForm(%s)\n = %s\nwant %s", in, got, want)
		}
	}
}
