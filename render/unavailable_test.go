package render

import (
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

// A file the archive has no copy of is a label, never an image or link,
// with the name escaped; other messages render as Message does.
func TestMessageWithMedia(t *testing.T) {
	r := New(Options{MediaURL: func(s, id string) string { return "/_media/" + s + "/" + id }})
	tests := []struct {
		name  string
		m     event.Message
		avail MediaAvailability
		want  string
	}{
		{"image not yet", event.Message{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://example.org/abc", Info: event.MediaInfo{Size: 1536}}, MediaNotYet,
			`<span class="media unavailable">Image not archived yet: cat.png <span class="size">(1.5 KiB)</span></span>`},
		{"hostile name", event.Message{MsgType: event.MsgFile, Body: `"><img src=x onerror=alert(1)>`, URL: "mxc://example.org/abc"}, MediaUnavailable,
			`<span class="media unavailable">File not available in the archive: &#34;&gt;&lt;img src=x onerror=alert(1)&gt;</span>`},
		{"sticker", event.Message{Body: "a happy cat", URL: "mxc://example.org/st1"}, MediaUnavailable,
			`<span class="media unavailable">Image not available in the archive: a happy cat</span>`},
		{"caption kept", event.Message{MsgType: event.MsgFile, FileName: "r.pdf", Body: "the report", URL: "mxc://example.org/abc"}, MediaNotYet,
			`<span class="media unavailable">File not archived yet: r.pdf</span><div class="caption">the report</div>`},
		{"encrypted audio, nameless", event.Message{MsgType: event.MsgAudio}, MediaUnavailable,
			`<span class="media unavailable">Audio not available in the archive: audio</span>`},
		{"text is text", event.Message{MsgType: event.MsgText, Body: "hi"}, MediaUnavailable, "hi"},
	}
	for _, tc := range tests {
		if got := string(r.MessageWithMedia(tc.m, tc.avail)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	m := event.Message{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://example.org/abc"}
	if got, want := r.MessageWithMedia(m, MediaAvailable), r.Message(m); got != want {
		t.Errorf("available: %s, want %s", got, want)
	}
}
