package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkAPIJSON compares the JSON day's hand encoder with json.Marshal
// on a day of 1,000 ordinary messages.
func BenchmarkAPIJSON(b *testing.B) {
	text := strings.Repeat("see https://example.org/docs for the apt-get install steps, then restart ", 3)
	d := apiDay{RoomID: "!x:example.org", Date: "2026-01-01", Events: make([]apiEvent, 1000)}
	for i := range d.Events {
		d.Events[i] = apiEvent{EventID: "$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", RoomID: "!x:example.org", Type: "m.room.message",
			Sender: "@someone:example.org", SenderName: "someone", OriginServerTS: 1767225601000, Time: "2026-01-01T00:00:01Z",
			Content: &apiMessageContent{MsgType: "m.text", Body: text}, Text: text, HTML: "<p>" + text + "</p>",
			Permalink: "https://archive.example/room/x:example.org/event/$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
			MatrixTo:  "https://matrix.to/#/!x:example.org/$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG?via=example.org"}
	}
	b.Run("marshal", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		for range b.N {
			l, err := buildLent(d.sizeHint(), d.appendJSON)
			if err != nil {
				b.Fatal(err)
			}
			l.done()
		}
	})
}
