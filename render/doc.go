// Package render turns untrusted Matrix message content into HTML and text
// for the archive's pages, day logs and search index.
//
// It is the only package that produces template.HTML. Everything it returns
// has been sanitised here: Matrix HTML goes through a bluemonday allowlist
// (https://spec.matrix.org/v1.16/client-server-api/#mroommessage-msgtypes) and then a post-pass over the parsed tree that applies
// what bluemonday cannot express (colours as CSS, spoilers, mxc images,
// rel on links, the nesting cap); plain text is escaped and linkified. The
// common shape of formatted bodies (what Markdown clients send, well
// nested) is written in one pass with the same bytes (fastHTML).
//
// Reply fallbacks (https://spec.matrix.org/v1.16/client-server-api/#rich-replies) are stripped here rather than relied upon
// from elsewhere: quoted fallback text must never be shown, or indexed, as if
// the replier had written it.
//
// The markup uses a few classes ("spoiler", "media", "caption", "geo") whose
// rules the page stylesheet must contain; CSS holds the ones that matter for
// correctness. Colours are inline style attributes built only from validated
// #rrggbb values, so a Content-Security-Policy has to allow those
// (style-src-attr 'unsafe-inline'); no script is ever needed.
package render
