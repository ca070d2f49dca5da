package ingest

import (
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

// Server names are compared without case, as DNS compares host names: an
// operator's deny_servers [SPAM.example] denied nothing of spam.example,
// nor allow_servers [Friends.example] allowed its rooms (helper-115). A
// URL or a port in the lists is refused when the config loads.
func TestServerListsIgnoreCase(t *testing.T) {
	m := &Manager{cfg: ManagerConfig{DenyServers: []string{"SPAM.example"}}}
	if why := m.denied("!r:spam.example", nil, []string{"spam.example"}); why == "" {
		t.Error("deny_servers [SPAM.example]: a room of spam.example, invited by a user of spam.example, is not denied")
	}
	m = &Manager{cfg: ManagerConfig{AllowServers: []string{"Friends.example"}}}
	joined := []*event.Event{} // the room's state, read once joined
	if why := m.denied("!r:friends.example", joined, nil); why != "" {
		t.Errorf("allow_servers [Friends.example]: a room of friends.example is refused: %s", why)
	}
	if why := m.denied("!r:other.example", joined, nil); why == "" {
		t.Error("allow_servers [Friends.example]: a room of other.example is allowed")
	}
}
