package store_test

import (
	"testing"

	"github.com/mxarchive/mxarchive/store"
)

// Room.Hiding is the store's fact of why a room is not shown: the first
// reason that holds, in the order purged, operator, bot banned, bot gone,
// not public.
func TestRoomHiding(t *testing.T) {
	for _, tc := range []struct {
		room store.Room
		want store.Hiding
		name string
	}{
		{store.Room{HistoryVisibility: "world_readable", BotMembership: "join"}, store.NotHidden, "shown"},
		{store.Room{}, store.NotHidden, "shown"}, // an import: no bot, no visibility known
		{store.Room{Purged: true, Hidden: true, BotMembership: "ban"}, store.HiddenPurged, "purged"},
		{store.Room{Hidden: true, HiddenReason: "spam", BotMembership: "ban"}, store.HiddenByOperator, "operator_hidden"},
		{store.Room{BotMembership: "ban", HistoryVisibility: "shared"}, store.HiddenBotBanned, "bot_banned"},
		{store.Room{BotMembership: "leave", HistoryVisibility: "shared"}, store.HiddenBotLeft, "bot_left"},
		{store.Room{BotMembership: "invite"}, store.HiddenBotLeft, "bot_left"},
		{store.Room{BotMembership: "join", HistoryVisibility: "shared"}, store.HiddenNotPublic, "not_public"},
		{store.Room{HistoryVisibility: "joined"}, store.HiddenNotPublic, "not_public"},
	} {
		got := tc.room.Hiding()
		if got != tc.want || got.String() != tc.name || tc.room.Shown() != (tc.want == store.NotHidden) {
			t.Errorf("%+v: Hiding %v (%q) Shown %v, want %v (%q)", tc.room, got, got.String(), tc.room.Shown(), tc.want, tc.name)
		}
	}
}
