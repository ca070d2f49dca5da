package media

import (
	"bytes"
	"net/http"
	"strings"
)

// SniffLen is how many leading bytes Sniff looks at.
const SniffLen = 512

// Sniff returns the content type of a file from its first bytes
// (net/http.DetectContentType, the WHATWG algorithm) plus the archive's own
// rules: SVG is recognised as image/svg+xml wherever it hides (the standard
// sniffer calls it text/xml, or text/plain after a long comment), so it can
// never be served as an image inline. The event's stated mimetype is never
// consulted: it is whatever the sender typed.
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	ct := http.DetectContentType(head)
	base, _, _ := strings.Cut(ct, ";")
	switch base {
	case "text/xml", "text/plain", "text/html", "application/xml":
		if bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			return "image/svg+xml"
		}
	}
	return ct
}

// inlineTypes are the only content types served inline: images browsers
// decode without running anything, and the audio and video the page's
// players need. Everything else, SVG and HTML above all, is an attachment.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"audio/mpeg": true, "audio/ogg": true, "application/ogg": true, "audio/wave": true,
	"audio/aiff": true, "video/mp4": true, "video/webm": true,
	"audio/webm": true, "audio/mp4": true,
}

// Inline reports whether contentType (as Sniff returned it) may be shown by
// the browser in place; otherwise it is served as an attachment.
func Inline(contentType string) bool {
	base, _, _ := strings.Cut(contentType, ";")
	return inlineTypes[strings.TrimSpace(base)]
}

// IsImage reports whether contentType is an inline image (what pages may
// put in an <img>).
func IsImage(contentType string) bool {
	return Inline(contentType) && strings.HasPrefix(contentType, "image/")
}
