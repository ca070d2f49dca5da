package web_test

import (
	"net/http"
	"testing"
)

// TestMeetingLinksFollowARoomUpgrade: a meeting's minutes are named by
// the event that started it, as a permalink is, under the room's alias
// (/room/proj:example.org/meeting/$start and its .txt, which meetbot users
// paste into wikis), and an upgrade moves the alias to the new room: a
// link made before finds its start in another room and answers 404 "No
// meeting of … starts at …", while the start's permalink goes on to the
// old room. Expected: the old room's minutes (200, or a redirect to them),
// as thread links have (TestThreadLinksFollowARoomUpgrade).
func TestMeetingLinksFollowARoomUpgrade(t *testing.T) {
	e := upgradedProject(t)
	for _, l := range threadAndMeetingLinks[1:] {
		if at, rec := followed(t, e, l); rec.Code != http.StatusOK {
			t.Errorf("after the upgrade moved the alias, %s = %d (at %s): %.200s; want the old room's minutes, as its permalink leads to its message",
				l, rec.Code, at, rec.Body)
		}
	}
}
