package render

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// generatedStyleRe is the only style attribute HTML may emit: colours that
// passed validation, lower-cased by the post-pass.
var generatedStyleRe = regexp.MustCompile(`^(?:color:#[0-9a-f]{6}(?:;background-color:#[0-9a-f]{6})?|background-color:#[0-9a-f]{6})$`)

// safeURLRe is what a browser-followable attribute may start with.
var safeURLRe = regexp.MustCompile(`^(?:https?://|mailto:|matrix:|/_media/)`)

// checkSafeHTML is the fuzz oracle: it tokenizes out as a browser would and
// fails on anything that could run script, load a foreign resource or
// restyle the page.
func checkSafeHTML(out string) error {
	if strings.Contains(strings.ToLower(out), "<script") {
		return fmt.Errorf("contains <script")
	}
	z := xhtml.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return nil
		case xhtml.CommentToken, xhtml.DoctypeToken:
			return fmt.Errorf("comment or doctype in output")
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
		default:
			continue
		}
		tok := z.Token()
		a := atom.Lookup([]byte(tok.Data))
		if !outputTags[a] {
			return fmt.Errorf("element <%s> not allowed", tok.Data)
		}
		for _, at := range tok.Attr {
			key, val := strings.ToLower(at.Key), at.Val
			lval := strings.ToLower(strings.Join(strings.Fields(val), ""))
			switch {
			case strings.HasPrefix(key, "on"):
				return fmt.Errorf("event handler %s=%q", key, val)
			case !outputAttrs[a][key]:
				return fmt.Errorf("attribute %s on <%s> not allowed", key, tok.Data)
			case key == "style" && !generatedStyleRe.MatchString(val):
				return fmt.Errorf("style=%q not generated from a colour", val)
			case (key == "href" || key == "src") && !safeURLRe.MatchString(lval):
				return fmt.Errorf("%s=%q", key, val)
			case (key == "href" || key == "src") && strings.Contains(lval, "javascript:"):
				return fmt.Errorf("javascript: in %s=%q", key, val)
			case key == "class" && val != "spoiler" && !codeClassRe.MatchString(val):
				return fmt.Errorf("class=%q", val)
			}
		}
		if a == atom.A && tt != xhtml.EndTagToken {
			if rel := attrOf(tok, "rel"); rel != linkRel {
				return fmt.Errorf("link with rel=%q", rel)
			}
		}
	}
}

func attrOf(tok xhtml.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func FuzzHTML(f *testing.F) {
	for _, tc := range hostileHTML {
		f.Add(tc.in)
	}
	inputs, _ := filepath.Glob(filepath.Join("testdata", "sanitize", "*.html"))
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(string(b))
		}
	}
	r := newTestRenderer()
	f.Fuzz(func(t *testing.T, in string) {
		out := string(r.HTML(in))
		if err := checkSafeHTML(out); err != nil {
			t.Fatalf("HTML(%q) = %q: %v", in, out, err)
		}
		// A well-formed reply fallback never leaks, whatever follows it.
		const secret = "zqxsecretzqx"
		replied := "<mx-reply><blockquote>" + secret + "</blockquote></mx-reply>" + in
		if !strings.Contains(strings.ToLower(in), secret) {
			if out := string(r.HTML(replied)); strings.Contains(out, secret) {
				t.Fatalf("HTML(%q) = %q: reply fallback leaked", replied, out)
			}
			if text := r.htmlText(replied); strings.Contains(text, secret) {
				t.Fatalf("htmlText(%q) = %q: reply fallback leaked", replied, text)
			}
		}
	})
}

var plainLinkRe = regexp.MustCompile(`<a href="([^"]*)" rel="nofollow ugc noopener">([^<]*)</a>`)

func FuzzPlain(f *testing.F) {
	for _, tc := range plainTests {
		f.Add(tc.in)
	}
	r := newTestRenderer()
	f.Fuzz(func(t *testing.T, in string) {
		out := string(r.Plain(in))
		// The only markup is links and line breaks...
		rest := plainLinkRe.ReplaceAllStringFunc(out, func(link string) string {
			m := plainLinkRe.FindStringSubmatch(link)
			href := html.UnescapeString(m[1])
			if m[1] != m[2] {
				t.Fatalf("Plain(%q): link text %q differs from href %q", in, m[2], m[1])
			}
			if !regexp.MustCompile(`(?i)^https?://`).MatchString(href) {
				t.Fatalf("Plain(%q): href %q", in, href)
			}
			return m[2]
		})
		rest = strings.ReplaceAll(rest, "<br>", "\n")
		if strings.ContainsAny(rest, `<>"'`) {
			t.Fatalf("Plain(%q) = %q: unescaped markup", in, out)
		}
		// ...and the text survives exactly, line breaks normalised.
		want := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\r", "\n")
		if got := html.UnescapeString(rest); got != want {
			t.Fatalf("Plain(%q) = %q: text %q, want %q", in, out, got, want)
		}
		if err := checkSafeHTML(out); err != nil {
			t.Fatalf("Plain(%q) = %q: %v", in, out, err)
		}
	})
}
