package web_test

import (
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The directory's filter (?q=) looks up each alt_alias of every room that
// matches by an alt_alias only (filterDirectory → routedAliases →
// RoomIDByAlias, up to 20 a room): an anonymous request costs up to
// 20 × 1,000 queries.
func TestDirectoryFilterQueriesDoNotGrowWithRooms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const t0 = 1767225600000
		e := newEnv(t, st, writeRoom(t, msgLine("$m", t0+1000, `{"msgtype":"m.text","body":"hello"}`)))
		queries := queryCounter(t, e, st)
		measure := func(q string) int64 { return queries("/?q=" + q) }
		e.get(t, "/")
		few := measure("bridged")
		var lines []string
		for i := range 40 {
			room := fmt.Sprintf("!r%d:example.org", i)
			alts := `["#a%[1]d-bridged:irc.example","#b%[1]d-bridged:irc.example","#c%[1]d-bridged:irc.example","#d%[1]d-bridged:irc.example","#e%[1]d-bridged:irc.example"]`
			ca := fmt.Sprintf(`{"event_id":"$ca-%[1]s","room_id":%[1]q,"type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":%[2]d,"state_key":"","content":{"alt_aliases":`+fmt.Sprintf(alts, i)+`}}`, room, t0+int64(i)*10+5)
			lines = append(lines, roomLines(room, t0+int64(i)*10, ca))
		}
		e.addAtOnce(t, lines...)
		many := measure("bridged")
		t.Logf("no alt aliases: %d queries; 40 rooms of 5 alt aliases each: %d", few, many)
		// Before this change (1560de6) the listing already cost 4 queries a
		// room (163 here): allowed; the alias lookups on top (200) are not.
		if many > few+4*40+10 {
			t.Errorf("/?q=bridged: %d queries, then %d with 40 rooms matching by alt_aliases: a query per alias of every room", few, many)
		}
	})
}
