package store

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// stateTimeSQL orders current state by an expression the events_state
// index (room_id, type, state_key, origin_ts, nid) cannot give: "latest"
// is no longer one index probe (LIMIT 1 on the index's order) but a read
// of every event of that (room, type, state_key) and a sort. refreshRoom
// runs it for ten types on every summary state event stored, so a room
// that sent n topics pays O(n) per new one (O(n²) in all), against rule 10.
func TestCurrentStateIsAnIndexProbe(t *testing.T) {
	st, err := Open(context.Background(), Config{Type: "sqlite"}, t.TempDir(), slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, q := range map[string]string{"latestStateSQL": latestStateSQL, "currentStateSQL": currentStateSQL, "latestRetentionSQL": latestRetentionSQL} {
		args := []any{"!r:x", "m.room.topic", ""}
		switch name {
		case "latestStateSQL":
			args = args[:2]
		case "latestRetentionSQL":
			args = args[:1]
		}
		rows, err := st.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var a, b, c int
			var d string
			if err := rows.Scan(&a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, d)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s sorts every matching state event: %s", name, p)
		}
	}
}
