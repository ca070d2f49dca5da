package ingest_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/store"
)

// Through a real homeserver, an allow list naming a room by its alias
// (archive.allow_rooms: [#proj:server]) admits the room the directory
// says the alias names, and refuses another room the bot is invited to.
// The alias is looked up, not matched against the room's own claim of it
// (TestAllowListIgnoresClaimedAliases).
func TestAllowListByAliasThroughHomeserver(t *testing.T) {
	ctx := context.Background()
	hs, bot, st := runThroughHomeserver(t, "allowtest", func(server string) ingest.ManagerConfig {
		return ingest.ManagerConfig{AllowRooms: []string{"#proj:" + server}}
	})
	bob := hs.Register(t, "bob")
	public := []map[string]any{{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "world_readable"}}}
	proj := bob.CreateRoom(t, map[string]any{"preset": "public_chat", "room_alias_name": "proj", "initial_state": public, "invite": []string{string(bot)}})
	other := bob.CreateRoom(t, map[string]any{"preset": "public_chat", "initial_state": public, "invite": []string{string(bot)}})

	judged := func(room string) (store.RoomSync, bool) {
		rs, err := st.RoomSync(ctx, id.RoomID(room))
		if err != nil {
			return rs, false
		}
		return rs, rs.Backfill != ""
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, a := judged(proj)
		_, b := judged(other)
		if a && b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the bot to judge both rooms (proj %v, other %v)", a, b)
		}
	}
	if rs, _ := judged(proj); rs.Backfill == store.BackfillRefused {
		t.Errorf("the room #proj names in the directory was refused: %+v", rs)
	}
	if rs, _ := judged(other); rs.Backfill != store.BackfillRefused {
		t.Errorf("a room on no allow list was not refused: %+v", rs)
	}
}
