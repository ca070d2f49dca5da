package browsertest

import "testing"

// unsafeDOMScript lists what a sanitized page must not contain even where
// the browser would not run it on load (a javascript: link waits for a
// click): elements that run or embed content, event handler attributes,
// script-capable URLs, and style attributes other than the validated
// colours render emits. Elements inside <template> are inert but counted
// too: they are markup that got through. The page's own feed links, its canonical link (at the configured base URL) and
// the permalink's read-only citation fields (text only) are allowed.
const unsafeDOMScript = `(() => {
  const bad = [];
  const embeds = new Set(['iframe','frame','frameset','object','embed','applet','portal','base','svg','math','template','style','noscript','form','input','textarea','select','video','audio','source','meta','link','script']);
  const urlAttrs = new Set(['href','src','action','formaction','xlink:href','data','srcdoc','poster','background','srcset','ping']);
  const safeStyle = /^\s*((background-)?color\s*:\s*#[0-9a-f]{6}\s*;?\s*)+$/i;
  const all = [...document.querySelectorAll('*')];
  for (const el of all) {
    const tag = el.localName;
    const inBody = document.body.contains(el);
    if (embeds.has(tag)) {
      const ok = (tag === 'link' && (el.rel === 'stylesheet' || el.rel === 'alternate' && el.type === 'application/atom+xml') && !inBody && new URL(el.href).origin === location.origin)
        || (tag === 'link' && el.rel === 'canonical' && !inBody && /^https?:$/.test(new URL(el.href).protocol))
        || ((tag === 'textarea' || tag === 'input' && el.type === 'text') && el.readOnly && el.closest('section.cite') && !el.closest('.body, .topic, .snippet') && !el.children.length)
        || (tag === 'meta' && !inBody && !el.httpEquiv)
        || (tag === 'script' && el.src && new URL(el.src).origin === location.origin && !el.textContent.trim())
        || (tag === 'form' && new URL(el.action).origin === location.origin && el.closest('main, header') && !el.closest('.body, .topic, .snippet'))
        || ((tag === 'input' || tag === 'select') && el.form && new URL(el.form.action).origin === location.origin && !el.closest('.body, .topic, .snippet'));
      if (!ok) bad.push('<' + tag + '> ' + el.outerHTML.slice(0, 120));
    }
    for (const a of el.attributes) {
      const n = a.name.toLowerCase();
      if (n.startsWith('on')) bad.push('<' + tag + ' ' + n + '>');
      if (urlAttrs.has(n)) {
        const v = a.value.replace(/[\u0000-\u0020\u007f-\u00a0]/g, '').toLowerCase();
        if (/^(javascript|vbscript|data|livescript|mocha):/.test(v)) bad.push('<' + tag + ' ' + n + '=' + a.value.slice(0, 80) + '>');
      }
      if (n === 'style' && !safeStyle.test(a.value)) bad.push('<' + tag + ' style="' + a.value.slice(0, 80) + '">');
    }
  }
  return bad;
})()`

// CheckDOM fails the test for each unsafe element or attribute on the page.
func (tab *Tab) CheckDOM(t testing.TB, path string) {
	t.Helper()
	for _, b := range Eval[[]string](t, tab, unsafeDOMScript) {
		t.Errorf("%s: unsafe markup on the page: %s", path, b)
	}
}

// VisibleText is the page's rendered text (innerText: what a reader sees,
// without closed <details> contents or hidden elements).
func (tab *Tab) VisibleText(t testing.TB) string {
	t.Helper()
	return Eval[string](t, tab, `document.body.innerText`)
}
