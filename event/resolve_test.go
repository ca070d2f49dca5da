package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"
)

// rel builds a related event the way the store hands it over: the event
// and the relation parsed from its content.
func rel(evID, sender, typ string, ts int64, content string) Related {
	e := &Event{ID: id.EventID(evID), RoomID: "!r:x", Sender: id.UserID(sender), Type: typ, OriginTS: ts, Content: json.RawMessage(content)}
	return Related{Event: e, Rel: ParseRelation(e.Content)}
}

func editOf(target, evID, sender string, ts int64, body string) Related {
	return rel(evID, sender, TypeMessage, ts, fmt.Sprintf(
		`{"msgtype":"m.text","body":"* edit","m.new_content":{"msgtype":"m.text","body":%q},"m.relates_to":{"rel_type":"m.replace","event_id":%q}}`,
		body, target))
}

func reactionOf(target, evID, sender, key string) Related {
	return rel(evID, sender, TypeReaction, 1, fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":%q}}`, target, key))
}

func replyIn(root, evID string, ts int64) Related {
	return rel(evID, "@b:x", TypeMessage, ts, fmt.Sprintf(`{"msgtype":"m.text","body":"r","m.relates_to":{"rel_type":"m.thread","event_id":%q}}`, root))
}

func TestResolve(t *testing.T) {
	orig := rel("$o", "@a:x", TypeMessage, 100, `{"msgtype":"m.text","body":"> <@c:x> quoted\n\nmine","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`)
	plain := rel("$o", "@a:x", TypeMessage, 100, `{"msgtype":"m.text","body":"hello"}`)
	type reaction struct {
		key     string
		senders []string // event IDs of the senders' reactions
	}
	tests := []struct {
		name      string
		original  Related
		related   []Related
		body      string // displayed body
		search    string // body as indexed; "-" when not indexable
		edited    int64  // EditedAt, 0 when not edited
		edits     []string
		loaded    int
		reactions []reaction
		thread    int
		lastTS    int64
		replyTo   id.EventID
	}{
		{name: "plain", original: plain, body: "hello", search: "hello"},
		{name: "reply keeps fallback shown, strips it for search", original: orig,
			body: "> <@c:x> quoted\n\nmine", search: "mine", replyTo: "$p"},
		{name: "latest valid edit wins, edits oldest first", original: plain,
			related: []Related{editOf("$o", "$e2", "@a:x", 300, "two"), editOf("$o", "$e1", "@a:x", 200, "one")},
			body:    "two", search: "two", edited: 300, edits: []string{"$e1", "$e2"}, loaded: 2},
		{name: "tie on time: larger event ID", original: plain,
			related: []Related{editOf("$o", "$eb", "@a:x", 200, "b"), editOf("$o", "$ea", "@a:x", 200, "a")},
			body:    "b", search: "b", edited: 200, edits: []string{"$ea", "$eb"}, loaded: 2},
		{name: "edit by another sender ignored but counted as loaded", original: plain,
			related: []Related{editOf("$o", "$e", "@mallory:x", 200, "forged")},
			body:    "hello", search: "hello", loaded: 1},
		{name: "edit of another event ignored", original: plain,
			related: []Related{editOf("$other", "$e", "@a:x", 200, "elsewhere")},
			body:    "hello", search: "hello"},
		{name: "edit keeps the original's reply", original: orig,
			related: []Related{editOf("$o", "$e", "@a:x", 200, "> <@c:x> q\n\nnew")},
			body:    "> <@c:x> q\n\nnew", search: "new", edited: 200, edits: []string{"$e"}, loaded: 1, replyTo: "$p"},
		{name: "reactions once per sender and key, in first-seen order", original: plain,
			related: []Related{
				reactionOf("$o", "$r1", "@b:x", "👍"), reactionOf("$o", "$r2", "@c:x", "🎉"),
				reactionOf("$o", "$r3", "@b:x", "👍"), reactionOf("$o", "$r4", "@c:x", "👍"),
				// An annotation that is not a reaction, and one on another message.
				rel("$n", "@d:x", TypeMessage, 1, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$o","key":"👍"}}`),
				reactionOf("$x", "$r5", "@d:x", "👍"),
			},
			body: "hello", search: "hello",
			reactions: []reaction{{"👍", []string{"$r1", "$r4"}}, {"🎉", []string{"$r2"}}}},
		{name: "thread count and last reply", original: plain,
			related: []Related{replyIn("$o", "$t1", 500), replyIn("$o", "$t2", 400), replyIn("$x", "$t3", 900)},
			body:    "hello", search: "hello", thread: 2, lastTS: 500},
		// Only a message or sticker replies in a thread: a reaction or a
		// custom event that says it does is not counted, nor its time.
		{name: "thread replies that are not messages", original: plain,
			related: []Related{replyIn("$o", "$t1", 500),
				rel("$t2", "@b:x", TypeReaction, 600, `{"m.relates_to":{"rel_type":"m.thread","event_id":"$o"}}`),
				rel("$t3", "@b:x", "com.example.custom", 700, `{"m.relates_to":{"rel_type":"m.thread","event_id":"$o"}}`),
				rel("$t4", "@b:x", TypeSticker, 450, `{"body":"s","url":"mxc://x/s","m.relates_to":{"rel_type":"m.thread","event_id":"$o"}}`)},
			body: "hello", search: "hello", thread: 2, lastTS: 500},
		{name: "undisplayable content", original: rel("$o", "@a:x", TypeMessage, 1, `{"msgtype":"m.text","body":5}`), search: "-"},
		{name: "edit into undisplayable content", original: plain,
			related: []Related{rel("$e", "@a:x", TypeMessage, 200, `{"m.new_content":{"body":["x"]},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`)},
			search:  "-", edited: 200, edits: []string{"$e"}, loaded: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.original, tt.related)
			if tt.search == "-" {
				if got.Err == nil {
					t.Fatalf("Err = nil, want an undisplayable message (got %+v)", got.Message)
				}
			} else if got.Err != nil || got.Message.Body != tt.body {
				t.Errorf("body = %q (err %v), want %q", got.Message.Body, got.Err, tt.body)
			}
			msg, ok := got.Searchable()
			if ok != (tt.search != "-") || (ok && msg.Body != tt.search) {
				t.Errorf("Searchable() = %q, %v; want %q", msg.Body, ok, tt.search)
			}
			if got.Edited != (tt.edited != 0) || got.EditedAt != tt.edited {
				t.Errorf("edited = %v at %d, want at %d", got.Edited, got.EditedAt, tt.edited)
			}
			var edits []string
			for _, i := range got.Edits {
				edits = append(edits, string(tt.related[i].Event.ID))
			}
			if !slices.Equal(edits, tt.edits) || got.EditsLoaded != tt.loaded {
				t.Errorf("edits = %v (loaded %d), want %v (%d)", edits, got.EditsLoaded, tt.edits, tt.loaded)
			}
			var reactions []reaction
			for _, r := range got.Reactions {
				rv := reaction{key: r.Key}
				for _, i := range r.Senders {
					rv.senders = append(rv.senders, string(tt.related[i].Event.ID))
				}
				reactions = append(reactions, rv)
			}
			if fmt.Sprint(reactions) != fmt.Sprint(tt.reactions) {
				t.Errorf("reactions = %v, want %v", reactions, tt.reactions)
			}
			if got.ThreadCount != tt.thread || got.ThreadLastTS != tt.lastTS {
				t.Errorf("thread = %d, last %d; want %d, %d", got.ThreadCount, got.ThreadLastTS, tt.thread, tt.lastTS)
			}
			if tt.thread > 0 && tt.related[got.ThreadLast].Event.OriginTS != tt.lastTS {
				t.Errorf("ThreadLast names %s, not the latest reply", tt.related[got.ThreadLast].Event.ID)
			}
			if got.ReplyTo != tt.replyTo {
				t.Errorf("ReplyTo = %q, want %q", got.ReplyTo, tt.replyTo)
			}
		})
	}
}

// FuzzResolve builds a message and related events from fuzzed content and
// checks what must hold whatever a hostile room sends: no panic, the result
// does not depend on the order related events arrive in, indices stay in
// range, a sender counts once per key, and what is shown is the latest
// valid edit applied to the original.
func FuzzResolve(f *testing.F) {
	f.Add(`{"msgtype":"m.text","body":"hi"}`, `{"m.new_content":{"body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$o","key":"k"}}`, int64(5), uint8(7))
	f.Add(`{"body":"> <@a:x> q\n\nme","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`, `{"m.new_content":{"body":5},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`, `{"m.relates_to":{"rel_type":"m.thread","event_id":"$o"}}`, int64(-3), uint8(0))
	f.Add(`{"body":1}`, `{"m.new_content":[],"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`, `{"m.relates_to":{"rel_type":"io.element.thread","event_id":"$o","is_falling_back":true,"m.in_reply_to":{"event_id":"$o"}}}`, int64(0), uint8(255))
	f.Add(`not json`, `{"m.relates_to":{"rel_type":"m.replace","event_id":"$o"},"m.new_content":{"m.relates_to":{"rel_type":"m.thread","event_id":"$z"}}}`, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$o","key":""}}`, int64(1)<<62, uint8(0x55))
	f.Fuzz(func(t *testing.T, origContent, c1, c2 string, ts int64, shape uint8) {
		senders := []id.UserID{"@a:x", "@b:x"}
		types := []string{TypeMessage, TypeReaction, TypeSticker}
		orig := Related{Event: &Event{ID: "$o", RoomID: "!r:x", Sender: "@a:x", Type: TypeMessage, OriginTS: 1, Content: json.RawMessage(origContent)}}
		orig.Rel = ParseRelation(orig.Event.Content)
		var related []Related
		for i := range 8 {
			content := c1
			if shape>>i&1 == 1 {
				content = c2
			}
			e := &Event{
				ID: id.EventID(fmt.Sprintf("$r%d", i)), RoomID: "!r:x", Sender: senders[i%2],
				Type: types[i%3], OriginTS: ts + int64(i%3), Content: json.RawMessage(content),
			}
			related = append(related, Related{Event: e, Rel: ParseRelation(e.Content)})
		}
		got := Resolve(orig, related)
		reversed := slices.Clone(related)
		slices.Reverse(reversed)
		back := Resolve(orig, reversed)
		if !bytes.Equal(got.Content, back.Content) || got.Edited != back.Edited || got.EditedAt != back.EditedAt ||
			got.ThreadCount != back.ThreadCount || got.ThreadLastTS != back.ThreadLastTS || len(got.Edits) != len(back.Edits) ||
			len(got.Reactions) != len(back.Reactions) {
			t.Fatalf("order changes the result:\n%+v\n%+v", got, back)
		}
		for k := range got.Edits {
			a, b := related[got.Edits[k]].Event, reversed[back.Edits[k]].Event
			if a.ID != b.ID {
				t.Fatalf("edit %d is %s one way, %s the other", k, a.ID, b.ID)
			}
			if k > 0 && related[got.Edits[k-1]].Event.OriginTS > a.OriginTS {
				t.Fatalf("edits not oldest first")
			}
			if !ValidEdit(orig.Event, a) {
				t.Fatalf("invalid edit %s listed", a.ID)
			}
		}
		if got.Edited {
			latest := related[got.Edits[len(got.Edits)-1]].Event
			nc, _ := NewContent(latest.Content)
			if want := ApplyEdit(orig.Event.Content, nc); !bytes.Equal(got.Content, want) || got.EditedAt != latest.OriginTS {
				t.Fatalf("shown content %s, want the latest edit's %s", got.Content, want)
			}
		} else if !bytes.Equal(got.Content, orig.Event.Content) || len(got.Edits) > 0 {
			t.Fatalf("not edited, yet content %s differs from the original or edits %v are listed", got.Content, got.Edits)
		}
		for _, r := range got.Reactions {
			seen := map[id.UserID]bool{}
			for _, i := range r.Senders {
				ev := related[i]
				if ev.Rel.Key != r.Key || ev.Event.Type != TypeReaction || seen[ev.Event.Sender] {
					t.Fatalf("reaction %q lists %s (key %q, type %s) or a sender twice", r.Key, ev.Event.ID, ev.Rel.Key, ev.Event.Type)
				}
				seen[ev.Event.Sender] = true
			}
		}
		if got.ThreadCount > 0 && related[got.ThreadLast].Rel.Type != RelThread {
			t.Fatalf("ThreadLast %d is not a thread reply", got.ThreadLast)
		}
		if _, ok := got.Searchable(); ok != (got.Err == nil) {
			t.Fatalf("Searchable ok = %v with Err %v", ok, got.Err)
		}
	})
}
