package event

import (
	"cmp"
	"encoding/json"
	"slices"

	"maunium.net/go/mautrix/id"
)

// Related is an event together with its relation as the caller knows it.
// The relation is passed in rather than parsed here because the store reads
// it from its own columns: a redacted event has lost its m.relates_to, yet
// the store still knows (and filters by) what it related to.
type Related struct {
	Event *Event
	Rel   Relation
}

// Resolved is a message as a reader sees it, before any wording or markup:
// the one answer web pages, the JSON API and the search index all read.
// Related events are named by their index in the slice given to Resolve, so
// a caller holding richer events (the store's, with display names) reaches
// them without a second copy of the rules.
type Resolved struct {
	// Content is the displayed content: the original's, or the latest valid
	// edit's m.new_content applied to it.
	Content json.RawMessage
	// Message is Content parsed. Err is set instead when the content cannot
	// be displayed (a field of the wrong type); what to do then is the
	// caller's (the web shows a notice, the index drops the document).
	Message Message
	Err     error
	// Edited: a valid edit is applied, sent at EditedAt (ms).
	Edited   bool
	EditedAt int64
	// Edits are the valid edits, oldest first (ties by event ID), as
	// indices into related; EditsLoaded counts every m.replace among
	// related, valid or not, so a caller can tell whether a bound was hit.
	Edits       []int
	EditsLoaded int
	// Reactions are the m.reaction annotations by key, in the order each
	// key first appears, each sender counted once per key.
	// ReactionsLoaded counts the annotations among related.
	Reactions       []Reaction
	ReactionsLoaded int
	// ThreadCount is the number of thread replies among related; ThreadLast
	// the index of the latest one (-1 when none), sent at ThreadLastTS.
	ThreadCount  int
	ThreadLast   int
	ThreadLastTS int64
	// ReplyTo is the event the message replies to (not a thread's
	// fallback), or "".
	ReplyTo id.EventID
}

// Reaction is one reaction key and who reacted with it.
type Reaction struct {
	Key string
	// Senders are indices into related, one per sender, in timeline order.
	Senders []int
}

// Resolve computes how the message original (with its relation) is shown,
// from the events related to it. Events in related that relate to another
// event are ignored, so a caller may pass a shared list; edits are checked
// with ValidEdit, since anyone can send an m.replace pointing anywhere.
// Redaction and withdrawal are the caller's: Resolve sees content only.
func Resolve(original Related, related []Related) Resolved {
	orig := original.Event
	res := Resolved{Content: orig.Content, ThreadLast: -1, ReplyTo: original.Rel.ReplyTo}
	index := map[string]int{}
	seen := map[string]bool{}
	var valid []*Event
	for i, r := range related {
		if r.Event == nil || r.Rel.EventID != orig.ID {
			continue
		}
		switch r.Rel.Type {
		case RelReplace:
			res.EditsLoaded++
			if ValidEdit(orig, r.Event) {
				res.Edits = append(res.Edits, i)
				valid = append(valid, r.Event)
			}
		case RelAnnotation:
			if r.Event.Type != TypeReaction {
				continue
			}
			res.ReactionsLoaded++
			key := r.Rel.Key
			// Once per sender and key: a client (or a hostile member)
			// repeating a reaction must not inflate its count.
			if key == "" || seen[string(r.Event.Sender)+"\x00"+key] {
				continue
			}
			seen[string(r.Event.Sender)+"\x00"+key] = true
			k, ok := index[key]
			if !ok {
				k = len(res.Reactions)
				index[key] = k
				res.Reactions = append(res.Reactions, Reaction{Key: key})
			}
			res.Reactions[k].Senders = append(res.Reactions[k].Senders, i)
		case RelThread:
			// A thread reply is a message or a sticker, what a thread
			// page lists (the store keeps no other, store.relationKindCond).
			if r.Event.Type != TypeMessage && r.Event.Type != TypeSticker {
				continue
			}
			res.ThreadCount++
			if res.ThreadLast < 0 || r.Event.OriginTS > res.ThreadLastTS {
				res.ThreadLast = i
			}
			// Pages have always shown a hostile pre-1970 reply time as
			// 1970: the summary's time never goes below zero.
			res.ThreadLastTS = max(res.ThreadLastTS, r.Event.OriginTS)
		}
	}
	slices.SortFunc(res.Edits, func(a, b int) int {
		x, y := related[a].Event, related[b].Event
		return cmp.Or(cmp.Compare(x.OriginTS, y.OriginTS), cmp.Compare(x.ID, y.ID))
	})
	if latest := LatestEdit(valid); latest != nil {
		if nc, ok := NewContent(latest.Content); ok {
			res.Content = ApplyEdit(orig.Content, nc)
			res.Edited, res.EditedAt = true, latest.OriginTS
		}
	}
	res.Message, res.Err = ParseMessage(res.Content)
	return res
}

// Searchable is the displayed message as the search index holds it: its
// body without the reply fallback (the quoted text is someone else's and,
// once that is redacted, must not be findable). ok is false when the
// message cannot be displayed, and so has nothing to find.
func (r Resolved) Searchable() (msg Message, ok bool) {
	if r.Err != nil {
		return Message{}, false
	}
	msg = r.Message
	msg.Body = StripReplyFallbackText(msg.Body)
	return msg, true
}
