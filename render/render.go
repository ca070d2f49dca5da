package render

import (
	"html"
	"html/template"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mxarchive/mxarchive/event"
)

// Options configures a Renderer.
type Options struct {
	// MediaURL maps a valid mxc URI (server a valid server name, mediaID
	// [A-Za-z0-9_-]+, both already validated) to a URL the archive serves.
	// nil means the archive serves no media: inline images become their
	// alt text in brackets and media messages show the filename unlinked.
	MediaURL func(server, mediaID string) string
	// ThumbnailURL, if set, is what an inline image's src points to (a
	// smaller copy); the image still links to MediaURL. nil: the image
	// itself.
	ThumbnailURL func(server, mediaID string) string
}

// Renderer turns message content into HTML and text. It is safe for
// concurrent use; build one at start-up with New.
type Renderer struct {
	policy   *bluemonday.Policy
	mediaURL func(server, mediaID string) string
	thumbURL func(server, mediaID string) string
	// work, when set (tests only), counts the steps of rendering's own
	// loops: bytes scanned, tree nodes visited. The linear-cost test
	// asserts that it grows in proportion to the input (design rule 10),
	// which a timing assertion could not do reliably.
	work *atomic.Int64
}

// spend counts n steps of work when a test asked for counting.
func (r *Renderer) spend(n int) {
	if r.work != nil {
		r.work.Add(int64(n))
	}
}

// New builds a Renderer. The sanitizer policy is compiled once here.
func New(opts Options) *Renderer {
	return &Renderer{policy: newPolicy(), mediaURL: opts.MediaURL, thumbURL: opts.ThumbnailURL}
}

// Message renders a message's body: the sanitized formatted_body for HTML
// messages, else the escaped and linkified body, with reply fallbacks
// removed either way. Media show their filename, linked when the archive
// serves media, and the caption if there is one; m.location shows the body
// and, for a valid geo URI, a geo: link; unknown msgtypes show the body.
// Emotes and notices get the same HTML; styling them is the caller's job.
// The result may contain block elements: put it in a div, not a p.
func (r *Renderer) Message(m event.Message) template.HTML {
	switch {
	case isMedia(m):
		return r.media(m)
	case m.MsgType == event.MsgLocation:
		return r.location(m)
	default:
		return r.body(m)
	}
}

// MediaAvailability is what the archive holds of a media message's file,
// as the caller found out (Message assumes MediaAvailable).
type MediaAvailability int

const (
	// MediaAvailable: served at MediaURL; shown inline or linked.
	MediaAvailable MediaAvailability = iota
	// MediaNotYet: the archive will fetch it but has not yet.
	MediaNotYet
	// MediaUnavailable: the archive has no copy and none is coming by
	// itself: refused (too large, the homeserver said no, failing), the
	// media store full, encrypted, or archived before media was kept.
	MediaUnavailable
)

// IsMedia reports whether m is a file-like message (an image, file, audio,
// video or sticker), whose file MessageWithMedia shows.
func IsMedia(m event.Message) bool { return isMedia(m) }

// MessageWithMedia is Message for a message whose file the archive may
// not have: unless avail is MediaAvailable, a media message shows, in
// place of the image, player or link, a short label saying so, with the
// file's name and stated size (and its caption), never a broken image.
func (r *Renderer) MessageWithMedia(m event.Message, avail MediaAvailability) template.HTML {
	if avail == MediaAvailable || !isMedia(m) {
		return r.Message(m)
	}
	var b strings.Builder
	b.WriteString(`<span class="media unavailable">` + html.EscapeString(MediaNote(m, avail)) + `: ` + html.EscapeString(mediaName(m)))
	if m.Info.Size > 0 {
		b.WriteString(` <span class="size">(` + humanSize(m.Info.Size) + `)</span>`)
	}
	b.WriteString(`</span>`)
	r.caption(&b, m)
	return template.HTML(b.String())
}

// MediaNote says, in a few words starting with the kind of file, why a
// media message's file is not shown: "Image not archived yet", "File not
// available in the archive". Plain text, for the label and the text log.
func MediaNote(m event.Message, avail MediaAvailability) string {
	kind := mediaLabel(m.MsgType)
	if kind == "sticker" {
		kind = "image"
	}
	kind = strings.ToUpper(kind[:1]) + kind[1:]
	if avail == MediaNotYet {
		return kind + " not archived yet"
	}
	return kind + " not available in the archive"
}

// body is the text part of a message: formatted when there is usable HTML,
// plain otherwise.
func (r *Renderer) body(m event.Message) template.HTML {
	if m.IsHTML() {
		// A formatted body that sanitizes to nothing (only a reply
		// fallback, only a script) falls back to the plain body, which then
		// shows what was sent, escaped.
		if h := r.HTML(m.FormattedBody); strings.TrimSpace(string(h)) != "" {
			return h
		}
	}
	return r.Plain(event.StripReplyFallbackText(m.Body))
}

// isMedia reports whether m is a file-like message. Stickers are m.sticker
// events whose content has no msgtype but a url.
func isMedia(m event.Message) bool {
	switch m.MsgType {
	case event.MsgImage, event.MsgFile, event.MsgAudio, event.MsgVideo:
		return true
	case "":
		return m.URL != ""
	}
	return false
}

// mediaLabel names a file-like message that has neither filename nor body.
func mediaLabel(msgtype string) string {
	switch msgtype {
	case event.MsgImage:
		return "image"
	case event.MsgAudio:
		return "audio"
	case event.MsgVideo:
		return "video"
	case "":
		return "sticker"
	}
	return "file"
}

// mediaBox bounds the size an image or video is shown at, in CSS pixels:
// the stated size scaled down to fit, never up.
const mediaBox = 400

// fitBox scales the stated w×h to fit mediaBox×mediaBox, keeping the aspect
// ratio; ok is false when no usable size was stated (the browser then sizes
// the element, bounded by the stylesheet).
func fitBox(info event.MediaInfo) (w, h int64, ok bool) {
	w, h = info.W, info.H
	if w <= 0 || h <= 0 {
		return 0, 0, false
	}
	if w > mediaBox {
		// Scale in floating point: stated sizes are untrusted and may be
		// large enough to overflow an integer product.
		h, w = max(1, int64(float64(h)*mediaBox/float64(w))), mediaBox
	}
	if h > mediaBox {
		w, h = max(1, int64(float64(w)*mediaBox/float64(h))), mediaBox
	}
	return w, h, true
}

// humanSize formats a stated file size.
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	f, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}

// media renders a file-like message: images and stickers inline at their
// stated size (bounded, lazy, the name as alt text), video and audio in
// native players that load nothing until asked, files as download links
// with their stated size. Without a media URL (invalid or encrypted mxc,
// or an archive that serves no media) only the name shows.
func (r *Renderer) media(m event.Message) template.HTML {
	name := mediaName(m)
	var b strings.Builder
	if server, mediaID, ok := parseMXC(m.URL); ok && r.mediaURL != nil {
		u := html.EscapeString(r.mediaURL(server, mediaID))
		size := func() {
			if w, h, ok := fitBox(m.Info); ok {
				b.WriteString(` width="` + strconv.FormatInt(w, 10) + `" height="` + strconv.FormatInt(h, 10) + `"`)
			}
		}
		link := func(download bool) {
			b.WriteString(`<a class="media" href="` + u + `" rel="` + linkRel + `"`)
			if download {
				b.WriteString(` download`)
				if dl := downloadName(fileName(m)); dl != "" {
					b.WriteString(`="` + html.EscapeString(dl) + `"`)
				}
			}
			b.WriteString(`>` + html.EscapeString(name) + `</a>`)
		}
		switch m.MsgType {
		case event.MsgImage, "":
			src := u
			if r.thumbURL != nil {
				src = html.EscapeString(r.thumbURL(server, mediaID))
			}
			b.WriteString(`<a class="media" href="` + u + `" rel="` + linkRel + `"><img class="media" src="` + src + `" alt="` + html.EscapeString(name) + `"`)
			size()
			b.WriteString(` loading="lazy"></a>`)
		case event.MsgVideo, event.MsgAudio:
			tag := "audio"
			if m.MsgType == event.MsgVideo {
				tag = "video"
			}
			b.WriteString(`<` + tag + ` class="media" src="` + u + `" controls preload="none"`)
			if tag == "video" {
				size()
			}
			b.WriteString(`></` + tag + `> `)
			link(true)
		default:
			link(true)
		}
		if m.MsgType != event.MsgImage && m.MsgType != "" && m.Info.Size > 0 {
			b.WriteString(` <span class="size">(` + humanSize(m.Info.Size) + `)</span>`)
		}
	} else {
		b.WriteString(`<span class="media">`)
		b.WriteString(html.EscapeString(name))
		b.WriteString(`</span>`)
	}
	r.caption(&b, m)
	return template.HTML(b.String())
}

// mediaName is what a media message's file is called.
func mediaName(m event.Message) string {
	name := fileName(m)
	if name == "" {
		name = mediaLabel(m.MsgType)
	}
	return name
}

// fileName is the name a media message gives its file, "" for none.
func fileName(m event.Message) string {
	name := m.FileName
	if name == "" {
		// Before Matrix 1.10 the body is the filename; for a sticker it is
		// the description.
		name = event.StripReplyFallbackText(m.Body)
	}
	return strings.TrimSpace(name)
}

// downloadName is name as a download link suggests it to the browser
// (the download attribute's value; the file is served as an attachment
// with no name of its own, as one file may be sent under many): without
// control characters, bidi controls, which turn what the name shows
// ("report\u202Efdp.exe" read as "reportexe.pdf"), or path separators,
// at most 200 bytes, whole characters. Without it a file was saved under
// its media ID, with no extension, whatever it was called (helper-123).
func downloadName(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c == utf8.RuneError || unicode.IsControl(c) || isBidiControl(c):
			continue
		case c == '/' || c == '\\':
			c = '_'
		}
		if b.Len()+utf8.RuneLen(c) > 200 {
			break
		}
		b.WriteRune(c)
	}
	return strings.Trim(b.String(), " .")
}

// isBidiControl reports whether c is one of Unicode's explicit
// directional formatting characters or marks.
func isBidiControl(c rune) bool {
	return c == '\u061C' || c == '\u200E' || c == '\u200F' || c >= '\u202A' && c <= '\u202E' || c >= '\u2066' && c <= '\u2069'
}

// caption appends a media message's caption, if it has one.
func (r *Renderer) caption(b *strings.Builder, m event.Message) {
	if m.Caption() != "" {
		if caption := r.body(m); caption != "" {
			b.WriteString(`<div class="caption">`)
			b.WriteString(string(caption))
			b.WriteString(`</div>`)
		}
	}
}

func (r *Renderer) location(m event.Message) template.HTML {
	body := r.Plain(event.StripReplyFallbackText(m.Body))
	if !validGeoURI(m.GeoURI) {
		return body
	}
	geo := html.EscapeString(m.GeoURI)
	var b strings.Builder
	b.WriteString(string(body))
	if body != "" {
		b.WriteByte(' ')
	}
	b.WriteString(`<a class="geo" href="` + geo + `" rel="` + linkRel + `">` + geo + `</a>`)
	return template.HTML(b.String())
}

// Text returns the message's readable plain text, for plain-text day logs
// and the search index. The reply fallback is stripped so quoted text is
// never attributed to the replier. HTML messages use their plain body, and
// the HTML converted to text only when that body is empty. A media message
// with neither falls back to its filename.
func (r *Renderer) Text(m event.Message) string {
	text := event.StripReplyFallbackText(m.Body)
	if strings.TrimSpace(text) == "" && m.IsHTML() {
		text = r.htmlText(m.FormattedBody)
	}
	if strings.TrimSpace(text) == "" && isMedia(m) {
		text = m.FileName
	}
	return text
}
