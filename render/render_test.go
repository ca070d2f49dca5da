package render

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

const (
	replyBody = "> <@bob:example.org> the secret quoted text\n\nmy answer"
	replyHTML = `<mx-reply><blockquote><a href="https://matrix.to/#/!r:example.org/$e">In reply to</a> ` +
		`<a href="https://matrix.to/#/@bob:example.org">@bob:example.org</a><br>the secret quoted text</blockquote></mx-reply>my <b>answer</b>`
)

func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		m    event.Message
		want string
	}{
		{"plain text", event.Message{MsgType: event.MsgText, Body: "a <b> https://example.org"},
			"a &lt;b&gt; " + link("https://example.org")},
		{"plain reply", event.Message{MsgType: event.MsgText, Body: replyBody}, "my answer"},
		{"html reply", event.Message{MsgType: event.MsgText, Body: replyBody, Format: event.FormatHTML, FormattedBody: replyHTML},
			"my <b>answer</b>"},
		{"html emote", event.Message{MsgType: event.MsgEmote, Body: "waves", Format: event.FormatHTML, FormattedBody: "<i>waves</i>"},
			"<i>waves</i>"},
		{"notice", event.Message{MsgType: event.MsgNotice, Body: "build ok"}, "build ok"},
		{"unknown format is plain", event.Message{MsgType: event.MsgText, Body: "<b>x</b>", Format: "text/markdown", FormattedBody: "<b>x</b>"},
			"&lt;b&gt;x&lt;/b&gt;"},
		{"html that sanitizes to nothing falls back to body", event.Message{MsgType: event.MsgText, Body: "<script>x</script>",
			Format: event.FormatHTML, FormattedBody: "<script>x</script>"}, "&lt;script&gt;x&lt;/script&gt;"},
		{"unknown msgtype", event.Message{MsgType: "org.example.custom", Body: "hi & bye"}, "hi &amp; bye"},
		{"image", event.Message{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://example.org/abc"},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="cat.png" loading="lazy"></a>`},
		{"image at its stated size, bounded", event.Message{MsgType: event.MsgImage, Body: "wide.png", URL: "mxc://example.org/abc", Info: event.MediaInfo{W: 1600, H: 1200}},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="wide.png" width="400" height="300" loading="lazy"></a>`},
		{"small image keeps its size", event.Message{MsgType: event.MsgImage, Body: "icon.png", URL: "mxc://example.org/abc", Info: event.MediaInfo{W: 32, H: 16}},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="icon.png" width="32" height="16" loading="lazy"></a>`},
		{"absurd stated size", event.Message{MsgType: event.MsgImage, Body: "x.png", URL: "mxc://example.org/abc", Info: event.MediaInfo{W: 1, H: 1 << 40}},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="x.png" width="1" height="400" loading="lazy"></a>`},
		{"image with caption", event.Message{MsgType: event.MsgImage, Body: "look https://example.org", FileName: "cat.png", URL: "mxc://example.org/abc"},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="cat.png" loading="lazy"></a>` +
				`<div class="caption">look ` + link("https://example.org") + `</div>`},
		{"file with html caption", event.Message{MsgType: event.MsgFile, Body: "the *report*", FileName: "r.pdf", URL: "mxc://example.org/abc",
			Format: event.FormatHTML, FormattedBody: `the <em>report</em><script>x</script>`},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener" download="r.pdf">r.pdf</a><div class="caption">the <em>report</em></div>`},
		{"file with size", event.Message{MsgType: event.MsgFile, Body: "build.log", URL: "mxc://example.org/abc", Info: event.MediaInfo{Size: 1536}},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener" download="build.log">build.log</a> <span class="size">(1.5 KiB)</span>`},
		{"video player", event.Message{MsgType: event.MsgVideo, Body: "clip.mp4", URL: "mxc://example.org/abc", Info: event.MediaInfo{W: 1920, H: 1080, Size: 5 << 20}},
			`<video class="media" src="/_media/example.org/abc" controls preload="none" width="400" height="225"></video> ` +
				`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener" download="clip.mp4">clip.mp4</a> <span class="size">(5.0 MiB)</span>`},
		{"file with invalid mxc", event.Message{MsgType: event.MsgFile, Body: "x.txt", URL: "mxc://example.org/../x"},
			`<span class="media">x.txt</span>`},
		{"file name escaped", event.Message{MsgType: event.MsgFile, Body: `<img src=x>.txt`, URL: "https://evil.example/"},
			`<span class="media">&lt;img src=x&gt;.txt</span>`},
		{"audio without name", event.Message{MsgType: event.MsgAudio, URL: "mxc://example.org/abc"},
			`<audio class="media" src="/_media/example.org/abc" controls preload="none"></audio> <a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener" download>audio</a>`},
		{"encrypted video", event.Message{MsgType: event.MsgVideo, Body: "clip.mp4"}, `<span class="media">clip.mp4</span>`},
		// The name a download is saved under: a file's own, without
		// what would turn or hide it (downloadName).
		{"download named without bidi controls or path", event.Message{MsgType: event.MsgFile, Body: "../q3 \u202Efdp.exe\x01\"", URL: "mxc://example.org/abc"},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener" download="_q3 fdp.exe&#34;">../q3 ` + "\u202Efdp.exe\x01" + `&#34;</a>`},
		{"sticker", event.Message{Body: "a happy cat", URL: "mxc://example.org/st1"},
			`<a class="media" href="/_media/example.org/st1" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/st1" alt="a happy cat" loading="lazy"></a>`},
		{"alt text escaped", event.Message{MsgType: event.MsgImage, Body: `"><script>x</script>`, URL: "mxc://example.org/abc"},
			`<a class="media" href="/_media/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/_media/example.org/abc" alt="&#34;&gt;&lt;script&gt;x&lt;/script&gt;" loading="lazy"></a>`},
		{"location", event.Message{MsgType: event.MsgLocation, Body: "Big Ben", GeoURI: "geo:51.5007,-0.1246;u=35"},
			`Big Ben <a class="geo" href="geo:51.5007,-0.1246;u=35" rel="nofollow ugc noopener">geo:51.5007,-0.1246;u=35</a>`},
		{"location invalid geo", event.Message{MsgType: event.MsgLocation, Body: "somewhere", GeoURI: `geo:1,2"><script>`},
			`somewhere`},
		{"location out of range", event.Message{MsgType: event.MsgLocation, Body: "nowhere", GeoURI: "geo:91,0"}, `nowhere`},
	}
	r := newTestRenderer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(r.Message(tc.m))
			if got != tc.want {
				t.Errorf("Message(%+v)\n got %q\nwant %q", tc.m, got, tc.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("reply fallback leaked: %q", got)
			}
		})
	}
}

func TestMessageWithoutMedia(t *testing.T) {
	r := New(Options{})
	m := event.Message{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://example.org/abc"}
	if got, want := string(r.Message(m)), `<span class="media">cat.png</span>`; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name string
		m    event.Message
		want string
	}{
		{"plain", event.Message{MsgType: event.MsgText, Body: "hello <world>"}, "hello <world>"},
		{"plain reply", event.Message{MsgType: event.MsgText, Body: replyBody}, "my answer"},
		{"html reply uses stripped body", event.Message{MsgType: event.MsgText, Body: replyBody,
			Format: event.FormatHTML, FormattedBody: replyHTML}, "my answer"},
		{"html reply with empty body", event.Message{MsgType: event.MsgText,
			Format: event.FormatHTML, FormattedBody: replyHTML}, "my answer"},
		{"html with empty body", event.Message{MsgType: event.MsgText, Format: event.FormatHTML,
			FormattedBody: "<p>para  one</p><p>two<br>three</p><ul><li>a</li><li>b</li></ul><ol start=\"4\"><li>c</li></ol>" +
				"<pre>x\n  y</pre><span data-mx-spoiler>hidden</span> <img src=\"mxc://example.org/a\" alt=\"cat\">"},
			"para one\ntwo\nthree\n- a\n- b\n4. c\nx\n  y\n[spoiler] cat"},
		{"image with filename only", event.Message{MsgType: event.MsgImage, FileName: "cat.png", URL: "mxc://example.org/a"}, "cat.png"},
		{"image caption", event.Message{MsgType: event.MsgImage, Body: "my cat", FileName: "cat.png"}, "my cat"},
	}
	r := newTestRenderer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Text(tc.m); got != tc.want {
				t.Errorf("Text(%+v)\n got %q\nwant %q", tc.m, got, tc.want)
			}
		})
	}
}

func TestParseMXC(t *testing.T) {
	tests := []struct {
		in              string
		server, mediaID string
		ok              bool
	}{
		{"mxc://example.org/abc", "example.org", "abc", true},
		{"mxc://example.org:8448/A_b-1", "example.org:8448", "A_b-1", true},
		{"mxc://1.2.3.4/abc", "1.2.3.4", "abc", true},
		{"mxc://[::1]:8448/abc", "[::1]:8448", "abc", true},
		{"mxc://example.org/../etc", "", "", false},
		{"mxc://example.org/a/b", "", "", false},
		{"mxc://example.org/", "", "", false},
		{"mxc:///abc", "", "", false},
		{"mxc://exa_mple.org/abc", "", "", false},
		{"mxc://example.org:/abc", "", "", false},
		{"mxc://example.org:123456/abc", "", "", false},
		{"mxc://example.org:80a/abc", "", "", false},
		{"mxc://[::g]/abc", "", "", false},
		{"mxc://[::1/abc", "", "", false},
		{"mxc://example.org/abc%2F", "", "", false},
		{"MXC://example.org/abc", "", "", false},
		{"https://example.org/abc", "", "", false},
	}
	for _, tc := range tests {
		server, mediaID, ok := parseMXC(tc.in)
		if server != tc.server || mediaID != tc.mediaID || ok != tc.ok {
			t.Errorf("parseMXC(%q) = %q, %q, %v; want %q, %q, %v", tc.in, server, mediaID, ok, tc.server, tc.mediaID, tc.ok)
		}
	}
}

func TestValidGeoURI(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"geo:51.5,-0.1", true},
		{"geo:51.5,-0.1;u=35", true},
		{"GEO:-90,180,12.5;crs=wgs84;u=10", true},
		{"geo:90.1,0", false},
		{"geo:0,-180.5", false},
		{"geo:1,2;u=<x>", false},
		{"geo:1", false},
		{"javascript:alert(1)//geo:1,2", false},
		{"geo:1,2 ", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := validGeoURI(tc.in); got != tc.ok {
			t.Errorf("validGeoURI(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestMediaNameWithoutReplyFallback(t *testing.T) {
	r := New(Options{})
	got := string(r.Message(event.Message{MsgType: event.MsgImage, Body: "> <@a:x> secret words\n\nimg.png", URL: "mxc://x.org/abc"}))
	if strings.Contains(got, "secret") || !strings.Contains(got, "img.png") {
		t.Errorf("media message = %q", got)
	}
}

func TestImageThumbnailURL(t *testing.T) {
	r := New(Options{
		MediaURL:     func(server, id string) string { return "/m/" + server + "/" + id },
		ThumbnailURL: func(server, id string) string { return "/m/" + server + "/" + id + "/thumbnail" },
	})
	got := string(r.Message(event.Message{MsgType: event.MsgImage, Body: "big.png", URL: "mxc://example.org/abc"}))
	want := `<a class="media" href="/m/example.org/abc" rel="nofollow ugc noopener"><img class="media" src="/m/example.org/abc/thumbnail" alt="big.png" loading="lazy"></a>`
	if got != want {
		t.Errorf("image with thumbnails\n got %q\nwant %q", got, want)
	}
	// Files are never shown through the thumbnail route.
	if got := string(r.Message(event.Message{MsgType: event.MsgFile, Body: "a.pdf", URL: "mxc://example.org/abc"})); strings.Contains(got, "thumbnail") {
		t.Errorf("file: %q", got)
	}
}
