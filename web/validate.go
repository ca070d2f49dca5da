package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"html/template"
	"io/fs"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

// Pages of messages are built in two steps: first everything is loaded and
// the view assembled with the message bodies still to render (a
// renderQueue), then, unless the client's copy is current, the bodies are
// rendered and the page executed. The ETag is computed in between, from
// the view and the messages to render, so a conditional request that ends
// in 304 costs the queries but no rendering (design rule 10), and
// rendering checks the request's deadline between messages.

// renderQueue is the rendering a view still needs, in the order the view
// was built.
type renderQueue struct {
	jobs []renderJob
	// mediaSets are told what the archive holds of their message's file;
	// resolveMedia answers them and the HTML jobs' media in one query,
	// before the ETag is computed, so that a file arriving changes it.
	mediaSets []mediaSet
	resolved  bool
	// mediaLooked: what the archive holds of a file was looked up, which
	// the change feed does not follow (no page key remembers this).
	mediaLooked bool
	// mediaStates are what resolveMedia told mediaSets, in their order:
	// the view shows them, so an ETag made from a page key hashes them.
	mediaStates []render.MediaAvailability
	// rooms are the other rooms the page shows, each with its roomFact
	// (pageEntry.rooms).
	rooms map[id.RoomID]string
	// quotes are the excerpts of the messages replied to, one job each
	// however many replies quote it (quote).
	quotes map[id.EventID]*[]func(string)
}

type renderJob struct {
	msg     event.Message
	key     string       // its digest, once computed: the render cache's key
	excerpt int          // for plain text: 0 for the whole text, else a one-line excerpt of that many runes
	html    bool         // the message rendered as HTML, else its plain text
	setText func(string) // where a text goes when a view derives more from it
	// Or where the result goes: into[0], and into[1] too if set
	// (textInto, htmlInto); or toHTML (htmlTo). A callback, a closure of
	// its own, was an allocation for every message of a page.
	into   [2]*string
	toHTML *template.HTML
	media  render.MediaAvailability
}

// deliver hands the job's result to its taker.
func (j *renderJob) deliver(s string) {
	switch {
	case j.setText != nil:
		j.setText(s)
	case j.toHTML != nil:
		*j.toHTML = template.HTML(s)
	default:
		*j.into[0] = s
		if j.into[1] != nil {
			*j.into[1] = s
		}
	}
}

type mediaSet struct {
	msg event.Message
	set func(render.MediaAvailability)
}

// media queues telling set what the archive holds of media message m's
// file (never called for other messages, or when the archive keeps no
// media). A caller may skip others itself (render.IsMedia), sparing the
// closure.
func (q *renderQueue) media(m event.Message, set func(render.MediaAvailability)) {
	if render.IsMedia(m) {
		q.mediaSets = append(q.mediaSets, mediaSet{msg: m, set: set})
	}
}

// resolveMedia finds out, in one query, what the archive holds of the
// files of the media messages q renders as HTML or was asked about (once).
func (s *Server) resolveMedia(ctx context.Context, q *renderQueue) error {
	if q.resolved {
		return nil
	}
	q.resolved = true
	if s.opts.Media == nil {
		return nil // no media served: names only, nothing to say
	}
	var uris []event.MXC
	want := func(m event.Message) bool {
		if !render.IsMedia(m) {
			return false
		}
		if u, ok := event.ParseMXC(m.URL); ok {
			uris = append(uris, u)
		}
		return true
	}
	var sets []mediaSet
	for _, ms := range q.mediaSets {
		if want(ms.msg) {
			sets = append(sets, ms)
		}
	}
	var jobs []*renderJob
	for i := range q.jobs {
		if j := &q.jobs[i]; j.html && want(j.msg) {
			jobs = append(jobs, j)
		}
	}
	if len(sets) == 0 && len(jobs) == 0 {
		return nil
	}
	q.mediaLooked = true
	copies, err := s.store.MediaCopies(ctx, uris)
	if err != nil {
		return err
	}
	for _, ms := range sets {
		a := availability(ms.msg, copies)
		q.mediaStates = append(q.mediaStates, a)
		ms.set(a)
	}
	for _, j := range jobs {
		j.media = availability(j.msg, copies)
	}
	return nil
}

// availability is what the archive holds of media message m's file.
func availability(m event.Message, copies map[event.MXC]store.MediaCopy) render.MediaAvailability {
	u, ok := event.ParseMXC(m.URL)
	if !ok {
		return render.MediaUnavailable // encrypted, or no valid mxc URI
	}
	switch c := copies[u]; {
	case c.Stored:
		return render.MediaAvailable
	case c.Queued && !c.GaveUp && !c.Quota:
		return render.MediaNotYet
	default:
		return render.MediaUnavailable
	}
}

// text queues m's plain text (render.Text) for set; excerpt > 0 asks for a
// one-line excerpt of that many runes instead.
func (q *renderQueue) text(m event.Message, excerpt int, set func(string)) {
	q.jobs = append(q.jobs, renderJob{msg: m, excerpt: excerpt, setText: set})
}

// quote queues the excerpt of excerpt runes of the message ev replied
// to (m) for set: once a page, however many of its replies quote it. A
// message of 60 KB of HTML replied to 400 times was rendered 400 times,
// 3.1 s a page (helper-95).
func (q *renderQueue) quote(ev id.EventID, m event.Message, excerpt int, set func(string)) {
	if sets := q.quotes[ev]; sets != nil {
		*sets = append(*sets, set)
		return
	}
	if q.quotes == nil {
		q.quotes = map[id.EventID]*[]func(string){}
	}
	sets := &[]func(string){set}
	q.quotes[ev] = sets
	q.text(m, excerpt, func(t string) {
		for _, set := range *sets {
			set(t)
		}
	})
}

// htmlInto queues m's HTML rendering (render.Message) for *to and, if
// also is set, *also.
func (q *renderQueue) htmlInto(m event.Message, to, also *string) {
	q.jobs = append(q.jobs, renderJob{msg: m, html: true, into: [2]*string{to, also}})
}

// htmlTo is htmlInto for a view's HTML field.
func (q *renderQueue) htmlTo(m event.Message, to *template.HTML) {
	q.jobs = append(q.jobs, renderJob{msg: m, html: true, toHTML: to})
}

// textInto is text (the whole text) writing it to *to and, if also is
// set, *also.
func (q *renderQueue) textInto(m event.Message, to, also *string) {
	q.jobs = append(q.jobs, renderJob{msg: m, into: [2]*string{to, also}})
}

// run renders every queued message, stopping with the context's error as
// soon as the request is cancelled or its deadline has passed. A message
// rendered as HTML before with the same content is taken from the render
// cache. Plain text is not cached: rendering it costs less than the
// digest, lookup and entry that would keep it, and the response itself is
// cached whole; nor is the HTML of a short message without formatting or
// media (plainHTML), for the same reason.
func (s *Server) run(ctx context.Context, q *renderQueue) error {
	if err := s.resolveMedia(ctx, q); err != nil {
		return err
	}
	var scratch []byte
	for i := range q.jobs {
		j := &q.jobs[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rendering stopped: %w", err)
		}
		if !j.html {
			s.texts.Add(1)
			text := s.render.Text(j.msg)
			if j.excerpt > 0 {
				text = excerpt(text, j.excerpt)
			}
			j.deliver(text)
			continue
		}
		if plainHTML(j.msg) {
			j.deliver(string(s.render.MessageWithMedia(j.msg, j.media)))
			continue
		}
		if s.cache != nil && j.key == "" {
			j.digest(&scratch)
		}
		c, ok := s.cache.get(j.key)
		if s.cache != nil && j.key != "" {
			s.opts.Metrics.cacheLookup("message", ok)
		}
		if ok && j.key != "" {
			j.deliver(string(c.html))
			continue
		}
		h := s.render.MessageWithMedia(j.msg, j.media)
		s.cache.put(j.key, cached{html: h})
		j.deliver(string(h))
	}
	return nil
}

// plainHTMLBytes bounds the messages plainHTML lets through: an IRC line
// is at most 512 bytes.
const plainHTMLBytes = 1024

// plainHTML reports whether m's HTML is rendered on each request rather
// than kept in the render cache: a short message without formatting or
// media, as IRC lines are. Escaping its body and finding its links cost
// less than the digest, lookup and entry that would keep it (on a first
// JSON day of 1,000 IRC lines, the cache's get and put took twice the
// rendering's CPU), and its entries crowded out the cached pages.
func plainHTML(m event.Message) bool {
	return !m.IsHTML() && len(m.Body) <= plainHTMLBytes && !render.IsMedia(m)
}

// digest sets j.key to a hash of everything rendering j reads
// (appendFields): the render cache's key for its HTML.
func (j *renderJob) digest(scratch *[]byte) {
	b := j.appendFields((*scratch)[:0])
	*scratch = b
	sum := sha256.Sum256(b)
	j.key = "m" + string(sum[:])
}

// appendFields appends everything rendering j reads: its kind, excerpt
// length, what the archive holds of its file (resolveMedia runs first)
// and every field of its message, Info too (it sizes the media shown).
// The renderer's own settings are the server's and never change while it
// runs; should rendering ever read anything else, it must be written here
// too (TestDigestCoversEveryField walks Message's fields). Each field is
// written with its length, so no two jobs write the same bytes; written
// by hand, not as JSON: encoding every message of a JSON day twice cost
// its first request 7% of its CPU.
func (j *renderJob) appendFields(b []byte) []byte {
	kind := "html"
	if !j.html {
		kind = "text"
	}
	m := &j.msg
	for _, f := range [...]string{kind, m.MsgType, m.Body, m.Format, m.FormattedBody, m.URL, m.FileName, m.GeoURI} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(append(b, ':'), f...)
	}
	for _, n := range [...]int64{int64(j.excerpt), m.Info.W, m.Info.H, m.Info.Size, int64(j.media)} {
		b = strconv.AppendInt(append(b, ','), n, 10)
	}
	return b
}

// validator is the ETag of a response built from view v (before rendering)
// and the messages q will render: a hash over both and the server's
// validatorSalt. Everything a page shows is in one or the other, so any
// change to it (an edit, a redaction, a new name, a reaction, a media file
// fetched) changes the ETag.
//
// A response with a page key hashes its tag (requestPageTag, "" for none)
// instead of the view: the tag holds everything the view is built from
// (the cache already answers the key with the body it once built), and
// encoding a view of 1,000 messages as JSON cost a first request 5–15% of
// its CPU. Being the same in every process, it keeps ETags equal across
// replicas and restarts. What the key does not hold is hashed beside it:
// the other rooms the page showed (re-checked before a keyed entry
// answers), what the archive holds of each media file asked about, and
// every message's digest.
func (s *Server) validator(ctx context.Context, pagetag string, v any, q *renderQueue) (string, error) {
	if err := s.resolveMedia(ctx, q); err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(s.salt[:])
	if pagetag != "" {
		writeField(h, "pagetag", pagetag)
		rooms := make([]string, 0, len(q.rooms))
		for r := range q.rooms {
			rooms = append(rooms, string(r))
		}
		slices.Sort(rooms)
		for _, r := range rooms {
			writeField(h, r, q.rooms[id.RoomID(r)])
		}
		for _, a := range q.mediaStates {
			writeField(h, strconv.Itoa(int(a)))
		}
	} else if err := json.NewEncoder(h).Encode(v); err != nil {
		return "", fmt.Errorf("validator: %w", err)
	}
	// Each HTML job's digest, which also keys its rendering in the cache;
	// a text, and plainHTML's HTML, which nothing caches, are hashed as
	// their fields (which begin with the kind) after "t" and their length
	// (a digest is "m" and 32 bytes), but a text right before its
	// message's HTML job.
	var scratch []byte
	var head [24]byte
	for i := range q.jobs {
		j := &q.jobs[i]
		if j.html && !plainHTML(j.msg) {
			j.digest(&scratch)
			h.Write([]byte(j.key))
			continue
		}
		if !j.html && i+1 < len(q.jobs) && q.jobs[i+1].html && q.jobs[i+1].msg == j.msg {
			// The text of the message the next job renders as HTML (a
			// JSON event's pair): rendering it reads only that message,
			// which the next job hashes, and its excerpt length, written
			// here after "s". Hashing its fields again nearly doubled
			// the ETag of a JSON day: 1,000 IRC lines' pairs 0.88-1.09
			// ms, now 0.49-0.54.
			h.Write(append(strconv.AppendInt(append(head[:0], 's'), int64(j.excerpt), 10), ':'))
			continue
		}
		scratch = j.appendFields(scratch[:0])
		h.Write(append(strconv.AppendInt(append(head[:0], 't'), int64(len(scratch)), 10), ':'))
		h.Write(scratch)
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`, nil
}

// validatorSalt covers what shapes a response besides its data: the
// binary (module version and VCS revision when known), the templates and
// stylesheet, the options shown on pages, and how the renderer renders a
// probe message (which covers its media URL setting). A new release or
// configuration therefore changes every ETag, while replicas running the
// same build and configuration agree.
func (s *Server) validatorSalt() ([32]byte, error) {
	h := sha256.New()
	if bi, ok := debug.ReadBuildInfo(); ok {
		writeField(h, bi.Main.Path, bi.Main.Version, bi.Main.Sum)
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" || st.Key == "vcs.modified" || st.Key == "vcs.time" {
				writeField(h, st.Key, st.Value)
			}
		}
	}
	err := fs.WalkDir(templateFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		writeField(h, path, string(b))
		return err
	})
	if err != nil {
		return [32]byte{}, fmt.Errorf("validator salt: %w", err)
	}
	writeField(h, styleCSS, render.CSS, string(archiveJS), s.opts.SiteName, s.opts.BaseURL, s.opts.Bot,
		strconv.Itoa(s.opts.DayPageSize), strconv.Itoa(s.opts.APIDayPageSize))
	probe := event.Message{MsgType: event.MsgImage, Body: "see https://example.org", FileName: "probe.png", URL: "mxc://example.org/probe",
		Format: event.FormatHTML, FormattedBody: `<p>see <a href="https://example.org">this</a> <img src="mxc://example.org/probe" alt="probe"></p>`}
	writeField(h, string(s.render.Message(probe)), s.render.Text(probe),
		string(s.render.MessageWithMedia(probe, render.MediaNotYet)), string(s.render.MessageWithMedia(probe, render.MediaUnavailable)))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// writeField writes each string with its length, so that no two lists of
// strings hash alike.
func writeField(h hash.Hash, fields ...string) {
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
}

// sendValidated answers with etag, computed before rendering, and the
// Cache-Control of sendCached. A request whose If-None-Match matches gets
// 304 without build being called; otherwise build renders the body. With
// the render cache on, a client that accepts gzip gets the body
// compressed, once per body (gzipVariant), under an ETag of its own.
//
// The body goes with its length and is flushed before the handler
// returns: the client has the whole response before what follows it
// (keeping the body in the render cache, cachedBody; the request's log
// line). Sent chunked, as it was, its end waited for all of that.
func (s *Server) sendValidated(c echo.Context, code int, contentType, etag string, day time.Time, build func() (respBody, error)) error {
	gz := s.cache != nil && acceptsGzip(c.Request().Header.Get("Accept-Encoding"))
	if s.cache != nil {
		c.Response().Header().Add("Vary", "Accept-Encoding")
	}
	if gz {
		// A representation's strong validator is its own: a cache must
		// not answer an identity request with the gzipped bytes.
		etag = strings.TrimSuffix(etag, `"`) + `-gzip"`
	}
	s.cacheHeaders(c, etag, day)
	if st := precondition(c.Request(), code, etag); st != 0 {
		return c.NoContent(st)
	}
	body, err := build()
	if err != nil {
		return err
	}
	defer body.done()
	out := body.b
	if gz {
		z, err := s.gzipVariant(fmt.Sprintf("gzip %d %s %s", code, contentType, etag), body.b)
		if err != nil {
			return err
		}
		defer z.done()
		out = z.b
		c.Response().Header().Set(echo.HeaderContentEncoding, "gzip")
	}
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(out)))
	giveBackDayRead(c)
	if err := c.Blob(code, contentType, out); err != nil {
		return err
	}
	// A client gone or a writer that cannot flush: nothing is lost, the
	// server flushes when the handler returns.
	_ = http.NewResponseController(c.Response().Writer).Flush()
	return nil
}

// gzipVariant is body gzipped (gzipBody), from the render cache under
// key when it was compressed before. BestSpeed: a page nobody asked for
// yet (a crawler's usual request) pays for the compression once, in its
// own time; a day page shrinks about tenfold even so. klauspost/compress's
// deflate: a 787 KB day page in 1.9 ms on one core, against 4.2 with
// compress/gzip (BenchmarkGzipVariant).
func (s *Server) gzipVariant(key string, body []byte) (respBody, error) {
	return s.cachedBody(key, func() (respBody, error) {
		b, err := gzipBody(body)
		if err != nil {
			return respBody{}, err
		}
		return respBody{b: b}, nil
	})
}

// acceptsGzip says whether an Accept-Encoding header accepts gzip (named,
// without a weight of 0; "*" is not taken for it). The weight is the
// parameter named q in any case, wherever it stands among the coding's
// parameters (RFC 9110, 12.4.2); one that is not a number refuses.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for _, param := range strings.Split(params, ";") {
			name, value, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				return err == nil && v > 0
			}
		}
		return true
	}
	return false
}

// renderValidated renders page name from view v once q has rendered its
// messages, with sendValidated.
func (s *Server) renderValidated(c echo.Context, code int, name string, v any, q *renderQueue, day time.Time) error {
	etag, err := s.validator(c.Request().Context(), requestPageTag(c), v, q)
	if err != nil {
		return err
	}
	bodyKey := fmt.Sprintf("page %s %d %s", name, code, etag)
	s.rememberPage(c, code, echo.MIMETextHTMLCharsetUTF8, etag, bodyKey, q)
	return s.sendValidated(c, code, echo.MIMETextHTMLCharsetUTF8, etag, day, func() (respBody, error) {
		return s.cachedBody(bodyKey, func() (respBody, error) {
			if err := s.run(c.Request().Context(), q); err != nil {
				return respBody{}, err
			}
			return s.execPageLent(name, v)
		})
	})
}

// jsonValidated sends v as JSON once q has rendered its messages, with
// sendValidated.
func (s *Server) jsonValidated(c echo.Context, v any, q *renderQueue, day time.Time) error {
	etag, err := s.validator(c.Request().Context(), requestPageTag(c), v, q)
	if err != nil {
		return err
	}
	s.rememberPage(c, http.StatusOK, echo.MIMEApplicationJSON, etag, "json "+etag, q)
	return s.sendValidated(c, http.StatusOK, echo.MIMEApplicationJSON, etag, day, func() (respBody, error) {
		return s.cachedBody("json "+etag, func() (respBody, error) {
			if err := s.run(c.Request().Context(), q); err != nil {
				return respBody{}, err
			}
			if a, ok := v.(jsonAppender); ok {
				return buildLent(a.sizeHint(), a.appendJSON)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return respBody{}, fmt.Errorf("encode response: %w", err)
			}
			return respBody{b: b}, nil
		})
	})
}

// cachedBody is the response body cached under key (a page, its status
// and its ETag: the ETag covers all the page shows), else build's, packed
// (packBody) on a goroutine of its own while it is sent (and gzipped),
// and kept when the caller gives it back (respBody.done) once sent:
// packing a first day page took 0.3-0.5 ms, and sending it about as
// long. A body not lent is shared by every request that gets it: never
// written.
func (s *Server) cachedBody(key string, build func() (respBody, error)) (respBody, error) {
	c, ok := s.cache.get(key)
	if s.cache != nil {
		s.opts.Metrics.cacheLookup("response", ok)
	}
	if ok {
		return s.cache.send(key, c)
	}
	l, err := build()
	if err != nil {
		return respBody{}, err
	}
	if s.cache == nil {
		return l, nil
	}
	packed := make(chan cached, 1)
	go func() { packed <- packBody(l.b) }()
	release := l.release
	l.release = func() {
		s.cache.put(key, <-packed)
		if release != nil {
			release()
		}
	}
	return l, nil
}
