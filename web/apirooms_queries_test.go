package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// /api/v1/rooms looks up every alt_alias of every room (apiRoom →
// routedAliases → RoomIDByAlias, up to 20 a room), a query per alias
// where there was none: an archive of 1,000 bridged rooms answers its room
// list with up to 20,000 queries.
func TestAPIRoomsQueriesDoNotGrowWithAliases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const t0 = 1767225600000
		e := newEnv(t, st, writeRoom(t, msgLine("$m", t0+1000, `{"msgtype":"m.text","body":"hello"}`)))
		queries := queryCounter(t, e, st)
		measure := func() int64 { return queries("/api/v1/rooms?") }
		e.get(t, "/api/v1/rooms")
		few := measure()
		var lines []string
		for i := range 40 {
			room := fmt.Sprintf("!r%d:example.org", i)
			alts := fmt.Sprintf(`["#a%[1]d:irc.example","#b%[1]d:irc.example","#c%[1]d:irc.example","#d%[1]d:irc.example","#e%[1]d:irc.example"]`, i)
			ca := fmt.Sprintf(`{"event_id":"$ca-%[1]s","room_id":%[1]q,"type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":%[2]d,"state_key":"","content":{"alt_aliases":%[3]s}}`, room, t0+int64(i)*10+5, alts)
			lines = append(lines, roomLines(room, t0+int64(i)*10, ca))
		}
		e.addAtOnce(t, lines...)
		many := measure()
		t.Logf("1 room: %d queries; 41 rooms, 40 of 5 alt aliases: %d", few, many)
		// Before this change (1560de6) the list already cost 3 queries a
		// room (122 here): allowed; the alias lookups on top (200) are not.
		if many > few+3*40+10 {
			t.Errorf("/api/v1/rooms: %d queries for 1 room, %d for 41 rooms of 5 alt aliases each: a query per alias", few, many)
		}
	})
}

// queryCounter returns a func that GETs path, a query string of its own
// appended to its "?" (so that no cached answer serves it), requires 200
// and returns how many queries the store was sent meanwhile.
func queryCounter(t *testing.T, e *env, st *store.Store) func(path string) int64 {
	t.Helper()
	count, err := st.CountQueries()
	if err != nil {
		t.Fatal(err)
	}
	return func(path string) int64 {
		t.Helper()
		before := count()
		if !strings.HasSuffix(path, "?") {
			path += "&"
		}
		if rec := e.get(t, path+"n="+fmt.Sprint(before)); rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, rec.Code)
		}
		return count() - before
	}
}
