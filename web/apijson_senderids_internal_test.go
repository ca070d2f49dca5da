package web

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAPIJSONReactionSenderIDsAsMarshal: a reaction's sender_ids (the
// user IDs of who reacted, beside their names) are written by the hand
// encoder as json.Marshal writes them, whatever they hold, and as null
// where there are none. (apiSamples, of TestAPIJSONAsMarshal, leaves
// them unset.)
func TestAPIJSONReactionSenderIDsAsMarshal(t *testing.T) {
	for _, s := range hostileStrings {
		d := apiDay{Events: []apiEvent{{EventID: s, Reactions: []apiReaction{
			{Key: s, Count: 2, Senders: []string{s, "b"}, SenderIDs: []string{"@a:example.org", s}},
			{Key: s, Count: 0, Senders: []string{}, SenderIDs: []string{}},
			{Key: s},
		}}}}
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustAppendJSON(t, &d); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}
