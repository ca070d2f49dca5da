package event

import (
	"strings"
	"testing"
)

func TestStripReplyFallbackText(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"no fallback", "hello", "hello"},
		{"empty", "", ""},
		{"simple reply", "> <@a:x> original\n\nmy reply", "my reply"},
		{"multi-line quote", "> <@a:x> line one\n> line two\n> line three\n\nmy reply", "my reply"},
		{"emote fallback", "> * <@a:x> waves\n\nhi back", "hi back"},
		{"empty quoted line without its space", "> <@a:x> one\n>\n> three\n\nreply", "reply"},
		{"CRLF", "> <@a:x> one\r\n> two\r\n\r\nreply line 1\r\nline 2", "reply line 1\r\nline 2"},
		{"reply text keeps its own lines", "> <@a:x> q\n\nfirst\n\nsecond\n", "first\n\nsecond\n"},
		{
			"quoted lines later in the body are kept",
			"> <@a:x> q\n\nas they said:\n> a real quote\n\nend",
			"as they said:\n> a real quote\n\nend",
		},
		{"reply starting with its own quote after the separator", "> <@a:x> q\n\n> mine", "> mine"},
		{"several blank separator lines", "> <@a:x> q\n\n\n\nreply", "reply"},
		{"whitespace-only separator", "> <@a:x> q\n  \nreply", "reply"},
		{"indentation of the reply kept", "> <@a:x> q\n\n    code", "    code"},
		{"no separator line", "> <@a:x> q\nreply", "reply"},
		{"only fallback", "> <@a:x> original\n> more", ""},
		{"only fallback with trailing newlines", "> <@a:x> original\n\n", ""},
		{"only fallback with CRLF", "> <@a:x> original\r\n", ""},
		{"no newline: the sender's own text", "> <@a:x> original", "> <@a:x> original"},
		{"plain quote is not a fallback", "> just quoting\n\nreply", "> just quoting\n\nreply"},
		{"quote of a non-user is not a fallback", ">not a quote\n\nreply", ">not a quote\n\nreply"},
		{"leading space is not a fallback", " > <@a:x> q\n\nreply", " > <@a:x> q\n\nreply"},
		{"media fallback", "> <@a:x> sent an image.\n\nnice", "nice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripReplyFallbackText(tt.body); got != tt.want {
				t.Errorf("StripReplyFallbackText(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestStripReplyFallbackHTML(t *testing.T) {
	const fallback = `<mx-reply><blockquote><a href="https://matrix.to/#/!r:x/$e">In reply to</a> <a href="https://matrix.to/#/@a:x">@a:x</a><br/>quoted <b>text</b></blockquote></mx-reply>`
	tests := []struct {
		name string
		html string
		want string
	}{
		{"no fallback", "<b>hi</b>", "<b>hi</b>"},
		{"empty", "", ""},
		{"standard fallback", fallback + "my <i>reply</i>", "my <i>reply</i>"},
		{"leading whitespace", " \n\t" + fallback + "reply", "reply"},
		{"upper case tags", `<MX-REPLY><blockquote>q</blockquote></Mx-Reply>reply`, "reply"},
		{"whitespace in the close tag", "<mx-reply>q</mx-reply >reply", "reply"},
		{"attributes on the open tag", `<mx-reply data-x="1">q</mx-reply>reply`, "reply"},
		{
			"nested fallback from an unstripped reply",
			`<mx-reply><blockquote>outer<mx-reply><blockquote>inner</blockquote></mx-reply>quoted</blockquote></mx-reply>reply`,
			"reply",
		},
		{"only fallback", fallback, ""},
		{"text after the reply is kept as is", fallback + "\n<p>reply</p>\n", "\n<p>reply</p>\n"},
		{"not at the start", "<p>hi</p>" + fallback, "<p>hi</p>" + fallback},
		{"a later mx-reply is kept", "reply " + fallback, "reply " + fallback},
		{"missing close tag removes nothing", "<mx-reply><blockquote>q</blockquote>reply", "<mx-reply><blockquote>q</blockquote>reply"},
		{"unbalanced nesting removes nothing", "<mx-reply>a<mx-reply>b</mx-reply>reply", "<mx-reply>a<mx-reply>b</mx-reply>reply"},
		{"close tag without >", "<mx-reply>q</mx-reply", "<mx-reply>q</mx-reply"},
		{"similar tag name is not mx-reply", "<mx-replyx>q</mx-replyx>reply", "<mx-replyx>q</mx-replyx>reply"},
		{"similar close tag is not the close", "<mx-reply>q</mx-replyx>r</mx-reply>reply", "reply"},
		{"open tag alone", "<mx-reply", "<mx-reply"},
		{"non-ASCII content inside", "<mx-reply>İstanbul 😀</mx-reply>réponse", "réponse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripReplyFallbackHTML(tt.html); got != tt.want {
				t.Errorf("StripReplyFallbackHTML(%q) = %q, want %q", tt.html, got, tt.want)
			}
		})
	}
}

func FuzzStripReplyFallback(f *testing.F) {
	f.Add("> <@a:x> q\r\n>\r\n\r\nreply", "<mx-reply>a<MX-REPLY>b</mx-reply></mx-reply>c")
	f.Fuzz(func(t *testing.T, body, html string) {
		// Both only ever remove a prefix.
		if got := StripReplyFallbackText(body); !strings.HasSuffix(body, got) {
			t.Fatalf("StripReplyFallbackText(%q) = %q, not a suffix", body, got)
		}
		if got := StripReplyFallbackHTML(html); !strings.HasSuffix(html, got) {
			t.Fatalf("StripReplyFallbackHTML(%q) = %q, not a suffix", html, got)
		}
	})
}
