package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// citeMemberLine is user joining room !x with a display name.
func citeMemberLine(evID, user, name string, ts int64) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.member","sender":%q,"state_key":%q,"origin_server_ts":%d,"content":{"membership":"join","displayname":%q}}`, evID, user, user, ts, name)
}

// citeSaidLine is user's text message body in room !x.
func citeSaidLine(evID, user, body string, ts int64) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`, evID, user, ts, body)
}

// TestCitationsQuoteEntitiesLiterally: a message about HTML ("write &nbsp;
// or &lt;br&gt;") pasted as {{cite web}} or Markdown must show those
// words, not a no-break space, "<br>" and "|": the "&" is escaped
// (&amp; in wikitext, as "<" is &lt;, and in Markdown).
func TestCitationsQuoteEntitiesLiterally(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$h", 1767225601000, `{"msgtype":"m.text","body":"write &nbsp; or &lt;br&gt; and &#124; literally"}`),
	))
	doc := e.page(t, "/room/!x:example.org/event/$h", http.StatusOK)
	wiki := doc.Find("#cite-wiki").Text()
	md := doc.Find("#cite-markdown").Text()
	if want := "|quote=write &amp;nbsp; or &amp;lt;br&amp;gt; and &amp;#124; literally}}"; !strings.HasSuffix(wiki, want) {
		t.Errorf("cite web = %q, want it to end %q (MediaWiki would show the entities as other characters)", wiki, want)
	}
	if want := `> write &amp;nbsp; or &amp;lt;br&amp;gt; and &amp;\#124; literally` + "\n"; !strings.HasPrefix(md, want) {
		t.Errorf("markdown = %q, want it to start %q (a renderer would show the entities as other characters)", md, want)
	}
}

// TestMarkdownCitationQuoteStaysText: the Markdown citation's quote starts
// a block-quote line; a message "---" must not become a horizontal rule
// (the quote vanishing), nor "+ 1 from me" or "2. is the answer" a list.
func TestMarkdownCitationQuoteStaysText(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$hr", 1767225601000, `{"msgtype":"m.text","body":"---"}`),
		msgLine("$li", 1767225602000, `{"msgtype":"m.text","body":"+ 1 from me"}`),
		msgLine("$ol", 1767225603000, `{"msgtype":"m.text","body":"2. is the answer"}`),
	))
	for ev, want := range map[string]string{
		"$hr": `> \---`,
		"$li": `> \+ 1 from me`,
		"$ol": `> 2\. is the answer`,
	} {
		md := e.page(t, "/room/!x:example.org/event/"+ev, http.StatusOK).Find("#cite-markdown").Text()
		if first, _, _ := strings.Cut(md, "\n"); first != want {
			t.Errorf("%s: the quote line is %q, want %q (else Markdown block syntax: a rule or a list)", ev, first, want)
		}
	}
}

// TestCitationsIsolateNames: a display name with U+202E (right-to-left
// override) must not turn the rest of a pasted citation around (the user
// ID, the date, the quote, the URL shown reversed). Each citation holds
// the name isolated (U+2068 … U+2069), the override closed (U+202C)
// inside the isolate, for renderers that predate isolates.
func TestCitationsIsolateNames(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		citeMemberLine("$je", "@eve:example.org", "Eve\u202e", 1767225600500),
		citeSaidLine("$m", "@eve:example.org", "the vote passed 5 to 2", 1767225601000),
	))
	doc := e.page(t, "/room/!x:example.org/event/$m", http.StatusOK)
	const name = "\u2068Eve\u202e\u202c\u2069"
	for _, sel := range []string{"#cite-plain", "#cite-markdown", "#cite-wiki"} {
		c := doc.Find(sel).Text()
		if !strings.Contains(c, name) || strings.Count(c, "\u202e") != strings.Count(c, name) {
			t.Errorf("%s leaves a right-to-left override open over the rest of the citation: %q, want the name as %q", sel, c, name)
		}
	}
}

// TestCitationsEscapeWikiBehaviourSwitches: a quoted "__NOTOC__" or
// "__NOINDEX__" in {{cite web}} would act on the citing page (its table
// of contents gone, the page kept out of search engines), and "~~~~"
// would sign it: the wiki editor would see neither in the quote.
func TestCitationsEscapeWikiBehaviourSwitches(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$w", 1767225601000, `{"msgtype":"m.text","body":"add __NOTOC__ or ___NOINDEX___ and sign ~~~~"}`),
	))
	wiki := e.page(t, "/room/!x:example.org/event/$w", http.StatusOK).Find("#cite-wiki").Text()
	if want := "|quote=add &#95;&#95;NOTOC&#95;&#95; or &#95;&#95;_NOINDEX&#95;&#95;_ and sign &#126;&#126;&#126;&#126;}}"; !strings.HasSuffix(wiki, want) {
		t.Errorf("cite web = %q, want it to end %q", wiki, want)
	}
	if strings.Contains(wiki, "__") || strings.Contains(wiki, "~") {
		t.Errorf("cite web keeps a behaviour switch or signature live: %q", wiki)
	}
}
