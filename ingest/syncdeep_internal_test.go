package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestSyncLeavesOutDeepEvent: /sync is the path redactions take from
// Dendrite. One deep event (a member's redaction of their own message,
// which Dendrite accepts up to encoding/json's 10,000 levels) made the
// whole response, six levels deeper, undecodable: the loop asked from the
// same since token for ever, and a moderator's redaction in the same batch
// or after it never reached the archive.
func TestSyncLeavesOutDeepEvent(t *testing.T) {
	const roomID = "!sync:example.org"
	const bot = "@archive:example.org"
	for _, levels := range []int{513, 9998, 30000} {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st := storetest.Open(t, "sqlite")
			in := New(st, storetest.Logger(t), bot)
			evJSON := func(evID, typ, sender string, ts int64, stateKey, content string) string {
				sk := ""
				if stateKey != "-" {
					sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
				}
				return fmt.Sprintf(`{"event_id":%q,"type":%q,"sender":%q,"origin_server_ts":%d%s,"content":%s}`,
					evID, typ, sender, ts, sk, content)
			}
			var setup []*event.Event
			for _, l := range []string{
				evJSON("$create", "m.room.create", "@alice:example.org", 1, "", `{"room_version":"10"}`),
				evJSON("$hv", "m.room.history_visibility", "@alice:example.org", 2, "", `{"history_visibility":"world_readable"}`),
				evJSON("$doxx", "m.room.message", "@mallory:evil.org", 3, "-", `{"msgtype":"m.text","body":"someone's home address"}`),
				evJSON("$own", "m.room.message", "@mallory:evil.org", 4, "-", `{"msgtype":"m.text","body":"x"}`),
			} {
				e, err := event.Parse(event.InRoom([]byte(l), roomID))
				if err != nil {
					t.Fatal(err)
				}
				setup = append(setup, e)
			}
			if _, err := in.Ingest(ctx, setup); err != nil {
				t.Fatal(err)
			}
			deep := evJSON("$deep", "m.room.redaction", "@mallory:evil.org", 10, "-", `{"redacts":"$own","x":`+strings.Repeat("[", levels-2)+strings.Repeat("]", levels-2)+`}`)
			first := fmt.Sprintf(`{"next_batch":"s1","rooms":{"join":{%q:{"timeline":{"events":[%s,%s]}}}}}`, roomID,
				deep, evJSON("$modred", "m.room.redaction", "@alice:example.org", 11, "-", `{"redacts":"$doxx","reason":"doxxing"}`))
			asked := syncOnce(t, in, st, bot, first)
			if !slices.Contains(asked, "s1") {
				t.Errorf("/sync never moved past the batch: since tokens asked %q", asked)
			}
			reds, err := st.RedactionsOf(ctx, []id.EventID{"$doxx", "$own"})
			if r := reds["$doxx"]; err != nil || r.RedactionID != "$modred" || r.AppliedAt.IsZero() {
				t.Errorf("redaction of $doxx = %+v, %v; want the moderator's, applied", r, err)
			}
			if r, ok := reds["$own"]; ok {
				t.Errorf("the deep redaction was stored: %+v", r)
			}
		})
	}
}
