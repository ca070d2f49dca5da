package web_test

import (
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// /sitemap.xml reads every room's archive_controls once (listed), then
// again room by room (pagesNoindex → roomRobots → ArchiveControls of one
// room): its queries grow with the number of rooms.
func TestSitemapIndexQueriesDoNotGrowWithRooms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const t0 = 1767225600000
		e := newEnv(t, st, writeRoom(t, msgLine("$m", t0+1000, `{"msgtype":"m.text","body":"hello"}`)))
		queries := queryCounter(t, e, st)
		measure := func() int64 {
			e.get(t, "/sitemap.xml") // warm
			return queries("/sitemap.xml?")
		}
		few := measure()
		var lines []string
		for i := range 40 {
			lines = append(lines, roomLines(fmt.Sprintf("!r%d:example.org", i), t0+int64(i)*10))
		}
		e.addAtOnce(t, lines...)
		many := measure()
		t.Logf("1 room: %d queries; 41 rooms: %d", few, many)
		if many > few+5 {
			t.Errorf("/sitemap.xml: %d queries for 1 room, %d for 41: a query per room", few, many)
		}
	})
}
