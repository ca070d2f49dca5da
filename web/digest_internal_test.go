package web

import (
	"context"
	"reflect"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/render"
)

// TestDigestCoversEveryField holds a render job's digest (the render
// cache's key and part of every ETag) to everything rendering reads: each
// field of event.Message, its MediaInfo, the job's kind, excerpt length
// and media state. A field added to Message and not hashed would let two
// different messages share one cached rendering.
func TestDigestCoversEveryField(t *testing.T) {
	var scratch []byte
	key := func(j renderJob) string {
		j.digest(&scratch)
		return j.key
	}
	noText := func(string) {}
	html := func(m event.Message) renderJob { return renderJob{msg: m, html: true} }
	seen := map[string]string{key(html(event.Message{})): "zero message"}
	add := func(what string, j renderJob) {
		t.Helper()
		k := key(j)
		if other, ok := seen[k]; ok {
			t.Errorf("%s has the digest of %s", what, other)
		}
		seen[k] = what
	}
	var walk func(prefix string, v reflect.Value, set func(string))
	walk = func(prefix string, v reflect.Value, set func(string)) {
		for i := range v.NumField() {
			f := v.Field(i)
			name := prefix + v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.String:
				f.SetString("x")
				set(name)
				f.SetString("")
			case reflect.Int64, reflect.Int:
				f.SetInt(7)
				set(name)
				f.SetInt(0)
			case reflect.Struct:
				walk(name+".", f, set)
				continue
			default:
				t.Fatalf("Message field %s of kind %s: teach digest and this test about it", name, f.Kind())
			}
		}
	}
	var m event.Message
	mv := reflect.ValueOf(&m).Elem()
	n := 0
	walk("", mv, func(field string) { n++; add("a message with only "+field, html(m)) })
	if n < 10 {
		t.Fatalf("walked %d fields of Message, want every one", n)
	}
	// Bytes moved from one field to the next must change it too.
	add("body ab", html(event.Message{Body: "ab"}))
	add("body a, format b", html(event.Message{Body: "a", Format: "b"}))
	add("text job", renderJob{setText: noText})
	add("excerpt job", renderJob{setText: noText, excerpt: 100})
	add("media not yet", renderJob{html: true, media: render.MediaNotYet})
	add("media unavailable", renderJob{html: true, media: render.MediaUnavailable})
}

// TestPlainHTML: a short message without formatting or media is rendered
// on each request, not kept in the render cache (plainHTML); anything
// else is kept. Its ETag share is its fields, which begin with the job's
// kind, so its HTML and its text, or two bodies, never hash alike.
func TestPlainHTML(t *testing.T) {
	long := string(make([]byte, plainHTMLBytes+1))
	for _, c := range []struct {
		what string
		m    event.Message
		want bool
	}{
		{"an IRC line", event.Message{MsgType: event.MsgText, Body: "see https://example.org"}, true},
		{"an emote", event.Message{MsgType: event.MsgEmote, Body: "waves"}, true},
		{"a notice", event.Message{MsgType: event.MsgNotice, Body: "build passed"}, true},
		{"a body of the bound", event.Message{MsgType: event.MsgText, Body: long[:plainHTMLBytes]}, true},
		{"a format without a formatted body", event.Message{MsgType: event.MsgText, Body: "x", Format: event.FormatHTML}, true},
		{"a longer body", event.Message{MsgType: event.MsgText, Body: long}, false},
		{"formatted", event.Message{MsgType: event.MsgText, Body: "*x*", Format: event.FormatHTML, FormattedBody: "<em>x</em>"}, false},
		{"an image", event.Message{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://example.org/cat"}, false},
		{"a file", event.Message{MsgType: event.MsgFile, Body: "notes.txt", URL: "mxc://example.org/notes"}, false},
	} {
		if got := plainHTML(c.m); got != c.want {
			t.Errorf("plainHTML(%s) = %v, want %v", c.what, got, c.want)
		}
	}

	noText := func(string) {}
	a, b := event.Message{MsgType: event.MsgText, Body: "ab"}, event.Message{MsgType: event.MsgText, Body: "ac"}
	distinctETags(t, map[string]string{
		"html of a":       etagOf(t, renderJob{msg: a, html: true}),
		"html of b":       etagOf(t, renderJob{msg: b, html: true}),
		"text of a":       etagOf(t, renderJob{msg: a, setText: noText}),
		"html of a and b": etagOf(t, renderJob{msg: a, html: true}, renderJob{msg: b, html: true}),
		"html of b and a": etagOf(t, renderJob{msg: b, html: true}, renderJob{msg: a, html: true}),
	})
}

// TestETagOfTextAndHTMLPairs: a text job right before the HTML job of the
// same message (a JSON event's pair) is hashed as its excerpt length alone,
// the message by the HTML job; any other text job is hashed whole. Every
// list of jobs below that renders differently has an ETag of its own.
func TestETagOfTextAndHTMLPairs(t *testing.T) {
	noText := func(string) {}
	text := func(m event.Message, excerpt int) renderJob {
		return renderJob{msg: m, excerpt: excerpt, setText: noText}
	}
	html := func(m event.Message) renderJob { return renderJob{msg: m, html: true} }
	a, b := event.Message{MsgType: event.MsgText, Body: "ab"}, event.Message{MsgType: event.MsgText, Body: "ac"}
	f := event.Message{MsgType: event.MsgText, Body: "*x*", Format: event.FormatHTML, FormattedBody: "<em>x</em>"}
	distinctETags(t, map[string]string{
		"text a, html a":            etagOf(t, text(a, 0), html(a)),
		"text b, html b":            etagOf(t, text(b, 0), html(b)),
		"text a, html b":            etagOf(t, text(a, 0), html(b)),
		"text b, html a":            etagOf(t, text(b, 0), html(a)),
		"excerpt of a, html a":      etagOf(t, text(a, 100), html(a)),
		"html a":                    etagOf(t, html(a)),
		"html a, text a":            etagOf(t, html(a), text(a, 0)),
		"text f, html f":            etagOf(t, text(f, 0), html(f)),
		"text a, html f":            etagOf(t, text(a, 0), html(f)),
		"text a, html a, html b":    etagOf(t, text(a, 0), html(a), html(b)),
		"text a, html a, text b, b": etagOf(t, text(a, 0), html(a), text(b, 0), html(b)),
		"text b, html b, text a, a": etagOf(t, text(b, 0), html(b), text(a, 0), html(a)),
	})
}

// etagOf is the ETag a server gives a page (any page key) rendering jobs.
func etagOf(t *testing.T, jobs ...renderJob) string {
	t.Helper()
	tag, err := (&Server{}).validator(context.Background(), "page", nil, &renderQueue{jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// distinctETags fails for each two of tags (what was rendered: its ETag)
// that share an ETag.
func distinctETags(t *testing.T, tags map[string]string) {
	t.Helper()
	seen := map[string]string{}
	for what, tag := range tags {
		if other, ok := seen[tag]; ok {
			t.Errorf("%s has the ETag of %s", what, other)
		}
		seen[tag] = what
	}
}
