package web

import (
	"html/template"
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
	noHTML, noText := func(template.HTML) {}, func(string) {}
	html := func(m event.Message) renderJob { return renderJob{msg: m, setHTML: noHTML} }
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
	add("media not yet", renderJob{setHTML: noHTML, media: render.MediaNotYet})
	add("media unavailable", renderJob{setHTML: noHTML, media: render.MediaUnavailable})
}
