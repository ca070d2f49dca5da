package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS string

//go:embed static/archive.js
var archiveJS []byte

// Options configure the server.
type Options struct {
	// BaseURL is the archive's public URL, without a trailing slash. Empty:
	// the API links by path and there are no sitemaps (never a URL built
	// from the request's Host, which anyone can forge).
	BaseURL string
	// SiteName is shown in every page's header.
	SiteName string
	// RequestTimeout bounds the work of one request.
	RequestTimeout time.Duration
	// Search answers /search; nil turns search off (503 with a message).
	Search Searcher
	// Bot is the archive bot's user ID, named on room pages as the user
	// to remove to stop the archiving; empty for an import-only archive.
	Bot string
	// Media holds the archive's copies of media, served at /media/; nil
	// serves none. archive-web only reads it: the archiver writes and
	// deletes.
	Media media.Blobs
	// DayPageSize is how many events one day page shows (default 500); a
	// busier day is split into pages that link to each other.
	DayPageSize int
	// APIDayPageSize is how many events one JSON day holds (default
	// store.MaxDayEvents); a busier day is flagged and continued.
	APIDayPageSize int
	// DayPageBytes, APIDayPageBytes and TextReadBytes bound a day
	// page's events (and a permalink's window, half of it each side), a
	// JSON day's and each read of a text log by their JSON too
	// (store.DayPage): the event that reaches the bound is a page's
	// last, and the day goes on in the next page as it does after
	// DayPageSize events (a text log of more than one read is streamed).
	// Defaults: dayPageBytes, apiDayPageBytes, textReadBytes.
	DayPageBytes, APIDayPageBytes, TextReadBytes int
	// MaxDayReads is how many requests may read a JSON day, a text log
	// (APIDayPageSize events a read) or a meeting's window of events at
	// once; more wait their turn
	// (takeDayRead). Default: twice GOMAXPROCS. web.max_day_reads.
	MaxDayReads int
	// IndexPosition reports the change-feed position the search index
	// reflects; with it /readyz fails until the index has come within
	// ReadyIndexLag changes of the feed (readyz). Nil: no index to wait
	// for.
	IndexPosition func() (int64, error)
	ReadyIndexLag int64
	// Metrics records request and search latencies; nil records none.
	Metrics *Metrics
	// CacheBytes bounds the render cache (cache.go): rendered messages
	// and whole responses, by their ETag. 0 caches nothing.
	CacheBytes int64
}

// Server serves the archive.
type Server struct {
	store  *store.Store
	render *render.Renderer
	log    *slog.Logger
	opts   Options
	pages  map[string]*template.Template
	echo   *echo.Echo
	via    *viaCache
	now    func() time.Time
	search Searcher
	salt   [32]byte // validatorSalt, computed once
	cache  *renderCache
	// scriptPath is /static/archive.<hash>.js: named by its content, so
	// it can be cached for a year and a new build is fetched at once.
	scriptPath string
	// styleCSS is the stylesheet, styleETag its validator and stylePath
	// /static/style.<hash>.css, its name in pages (stylesheet).
	styleCSS, styleETag, stylePath string
	// viaHook, if set (by tests), is called as a room's via servers are
	// computed from all of its member events.
	viaHook func(id.RoomID)
	// texts counts the plain texts rendered (run), for tests of what a
	// page renders once.
	texts atomic.Int64
	// viaPageMembers bounds the member events a request reads for a room
	// whose via servers are not known (firstVia).
	viaPageMembers int
	// requests: those being answered; lastRequest: when one last began or
	// ended (UnixNano). WarmVia waits for a quiet moment (waitIdle).
	requests    atomic.Int64
	lastRequest atomic.Int64
	// caughtUp: /readyz has found the search index within ReadyIndexLag
	// changes of the feed since the process started (readyz).
	caughtUp atomic.Bool
	// overlapReads: a page's independent reads run at once (overlap), on
	// PostgreSQL.
	overlapReads bool
	// dayReads holds a token for each JSON day or text log being read
	// (takeDayRead).
	dayReads chan struct{}
}

// The defaults of Options.DayPageBytes, APIDayPageBytes and
// TextReadBytes. A day page of 500 IRC lines holds some 200 KB of
// events' JSON, of 500 long Markdown messages some 750 KB; a JSON day
// of 20,000 IRC lines some 8 MB. What a page makes of a message's bytes
// may be many times as many: each '&' of a plain body is "&amp;" in
// HTML, and in a JSON day "\u0026" in its text, "\u0026amp;" in its
// HTML and "\u0026" in its content, 22 bytes for one. A text log writes
// a message's bytes about as they are. So a page of the largest events
// a homeserver lets through is some 6 MB of HTML, a JSON day some 24 MB
// and a read of a text log some 8 MB, however many of them the day
// holds: 500 messages of 94,000 ampersands were a day page of 234 MB
// and a JSON day of 1 GB, which took archive-web to 1.3-2.6 GB. Four
// JSON days of 2 MiB each at once (as many as take turns on two cores,
// MaxDayReads) took it to 342 MiB, of 1 MiB to 262 (eight at once too).
const (
	dayPageBytes    = 1 << 20
	apiDayPageBytes = 1 << 20
	textReadBytes   = 8 << 20
)

// New builds the server, parsing every template now.
func New(st *store.Store, r *render.Renderer, log *slog.Logger, opts Options) (*Server, error) {
	if opts.SiteName == "" {
		opts.SiteName = "mxarchive"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 15 * time.Second
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.DayPageSize <= 0 {
		opts.DayPageSize = 500
	}
	if opts.APIDayPageSize <= 0 {
		opts.APIDayPageSize = store.MaxDayEvents
	}
	if opts.DayPageBytes <= 0 {
		opts.DayPageBytes = dayPageBytes
	}
	if opts.APIDayPageBytes <= 0 {
		opts.APIDayPageBytes = apiDayPageBytes
	}
	if opts.TextReadBytes <= 0 {
		opts.TextReadBytes = textReadBytes
	}
	if opts.MaxDayReads <= 0 {
		opts.MaxDayReads = 2 * runtime.GOMAXPROCS(0)
	}
	s := &Server{store: st, render: r, log: log, opts: opts, via: newViaCache(5 * time.Minute), viaPageMembers: viaPageMembers, now: time.Now, search: opts.Search,
		cache: newRenderCache(opts.CacheBytes), overlapReads: st.Dialect() == "postgres", dayReads: make(chan struct{}, opts.MaxDayReads)}
	s.lastRequest.Store(time.Now().UnixNano()) // waitIdle: the start counts as a request
	if opts.Metrics != nil && s.cache != nil {
		opts.Metrics.cache.Store(s.cache)
	}
	sum := sha256.Sum256(archiveJS)
	s.scriptPath = "/static/archive." + hex.EncodeToString(sum[:6]) + ".js"
	s.styleCSS = styleCSS + "\n" + render.CSS
	sum = sha256.Sum256([]byte(s.styleCSS))
	s.styleETag = `"` + hex.EncodeToString(sum[:12]) + `"`
	s.stylePath = "/static/style." + hex.EncodeToString(sum[:6]) + ".css"
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	var err error
	if s.salt, err = s.validatorSalt(); err != nil {
		return nil, err
	}
	s.echo = s.routes()
	return s, nil
}

// Warm readies the server for its first requests, which would otherwise
// pay for what a process does once: html/template's escaping of each page
// template (done at its first execution; here on an empty view, whose
// execution error is of no interest) and the store's (store.Warm). The
// server answers without it; an error says the database did not answer.
// WarmPages, after it, readies the pool's connections.
func (s *Server) Warm(ctx context.Context) error {
	for _, name := range pageNames {
		_, _ = s.execPage(name, nil)
	}
	return s.store.Warm(ctx, warmConns)
}

// WarmPages answers, warmConns at a time, the latest day's page and then
// its JSON day of each of the warmConns most recently active shown rooms,
// as a reader's requests would be answered (and kept in the render cache,
// where a reader's first visit most likely finds them). The connections
// they run on run the pages' statements a first time: on PostgreSQL a
// new session parses and plans each and loads the catalogue entries it
// names, on SQLite the connection compiles it. A fresh archive-web's
// first day page of the 1M replay cost 18-29 ms on PostgreSQL (its
// sessions' CPU 12-21 ms of it), its first four pages 13-29, and pages
// of 10 ms only after the fourth. Four requests at once do not reach
// every connection with every statement, so on PostgreSQL the pages'
// reads are then run on each of the pool's connections (store.WarmReads),
// and WarmPages returns how many (none on SQLite). A request that fails
// is of no interest here: the page reports it when a reader asks. These
// requests count in the request metrics as a reader's do.
func (s *Server) WarmPages(ctx context.Context) (int, error) {
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		return 0, fmt.Errorf("warm: %w", err)
	}
	rooms = slices.DeleteFunc(rooms, func(r store.Room) bool { return !r.Shown() || r.LastTS <= 0 })
	mostRecentFirst(rooms)
	// Two rounds: the day pages, then the JSON days.
	var rounds [2][]string
	for _, r := range rooms[:min(len(rooms), warmConns)] {
		date := time.UnixMilli(r.LastTS).UTC().Format(dateLayout)
		rounds[0] = append(rounds[0], roomPath(r, date))
		rounds[1] = append(rounds[1], "/api/v1/rooms/"+pathSegment(string(r.ID))+"/events?date="+date)
	}
	nctx, notes := store.NoteReads(ctx) // for store.WarmReads
	for _, paths := range rounds {
		var wg sync.WaitGroup
		for _, path := range paths {
			req, err := http.NewRequestWithContext(nctx, http.MethodGet, path, nil)
			if err != nil {
				return 0, fmt.Errorf("warm: %w", err)
			}
			wg.Go(func() { s.ServeHTTP(&discardResponse{header: http.Header{}}, req) })
		}
		wg.Wait()
	}
	warmed, err := s.store.WarmReads(ctx, notes, warmConns)
	if err != nil {
		return warmed, fmt.Errorf("warm: %w", err)
	}
	return warmed, ctx.Err()
}

// discardResponse is an http.ResponseWriter that keeps nothing.
type discardResponse struct{ header http.Header }

func (d *discardResponse) Header() http.Header         { return d.header }
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}

// warmConns is how many database connections Warm opens: a page's reads
// run one after another, and a few crawlers at once find one each.
const warmConns = 4

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// page names and the content template each defines; every page is
// layout.html plus its own file.
var pageNames = []string{"directory", "day", "error", "redactions", "thread", "edits", "search", "permalink", "calendar", "about", "meetings", "meeting"}

func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(template.FuncMap{
			"roomPath":     roomPath,
			"calendarText": calendarText,
			"pageItems":    pageItems,
			"isolated":     isolated,
		}).ParseFS(templateFS, "templates/layout.html", "templates/meta.html", "templates/irc.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	e.Use(s.logRequests)
	e.Use(middleware.BodyLimit("64K"))
	e.Use(s.securityHeaders)
	e.Use(s.timeout)
	e.Use(withoutTrailingSlash)

	// Every page answers HEAD too: link checkers and curl -I use it.
	get := func(path string, h echo.HandlerFunc) { e.Match([]string{http.MethodGet, http.MethodHead}, path, h) }
	get("/static/style.css", s.stylesheet)
	get(s.stylePath, s.stylesheet)
	get(s.scriptPath, s.script)
	get("/", s.directory)
	get("/room/:room", s.roomLatest)
	get("/room/:room/:date", s.day)
	get("/room/:room/event/:event", s.permalink)
	get("/room/:room/redactions", s.redactions)
	get("/room/:room/feed.atom", s.roomFeed)
	get("/room/:room/meetings.atom", s.meetingsFeed)
	get("/room/:room/about", s.about)
	get("/search/feed.atom", s.searchFeed)
	get("/room/:room/calendar", s.calendarLatest)
	get("/room/:room/calendar/:period", s.calendar)
	get("/room/:room/thread/:event", s.thread)
	get("/room/:room/event/:event/edits", s.edits)
	get("/room/:room/meetings", s.meetings)
	get("/room/:room/meeting/:meeting", s.meetingPage)
	get("/event/:event", s.eventRedirect)
	get("/healthz", s.healthz)
	get("/readyz", s.readyz)
	get("/robots.txt", s.robots)
	get("/sitemap.xml", s.sitemapIndex)
	get("/sitemap/:room", s.roomSitemap) // {room}.xml
	get("/search", s.searchPage)
	get("/api/v1/search", s.apiSearch)
	get("/api/v1/rooms", s.apiRooms)
	get("/api/v1/rooms/:room/events", s.apiDay)
	get("/api/v1/events/:event", s.apiEventHandler)
	get("/api/v1/rooms/:room/redactions", s.apiRedactions)
	get("/api/v1/rooms/:room/meetings", s.apiMeetings)
	get("/api/v1/rooms/:room/meetings/:meeting", s.apiMeeting)
	get("/media/:server/:id", s.media)
	get("/media/:server/:id/thumbnail", s.thumbnail)
	return e
}

// withoutTrailingSlash answers a GET or HEAD of a path that ends in "/"
// (but "/") with a 301 to the path without it, the query kept: no route
// ends in one, and a link pasted into a wiki or a mail with one
// (/room/x/2026-03-03/) was a 400 or a 404. A path that would then begin
// with "//" is left to its 404: as a Location it names another host. A
// backslash comes out escaped (/%5Cevil.example), a path on this host.
func withoutTrailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := r.URL.EscapedPath()
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(p) > 1 && strings.HasSuffix(p, "/") {
			t := strings.TrimRight(p, "/")
			if t != "" && !strings.HasPrefix(t, "//") {
				return c.Redirect(http.StatusMovedPermanently, withQuery(t, r.URL.RawQuery))
			}
		}
		return next(c)
	}
}

// httpError is an error with a status and a message safe to show anyone.
type httpError struct {
	code int
	msg  string
	err  error // the cause, logged, never shown
}

func (e *httpError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.code, e.msg, e.err)
	}
	return fmt.Sprintf("%d %s", e.code, e.msg)
}

func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// handleError is the one place errors become responses: a status and a
// message safe to show, as JSON under /api/ and as a page elsewhere.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "Something went wrong on our side. The error has been logged."
	// unavailable: the database is down, every request fails alike;
	// retry: the client should come back (a Retry-After is sent).
	unavailable, retry := false, false
	var he *httpError
	var ee *echo.HTTPError
	switch {
	case store.Unavailable(err):
		// Checked first: /readyz wraps the same outage in its own 503.
		// Nothing is wrong with the request, so the reader (or crawler) is
		// told to come back rather than that the page is broken.
		code, msg, unavailable, retry = http.StatusServiceUnavailable, "The archive's database is not answering at the moment. Please try again in a few seconds.", true, true
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.As(err, &ee):
		code = ee.Code
		msg = http.StatusText(code)
		if code == http.StatusNotFound {
			msg = "There is no page at this address."
		}
		if code == http.StatusRequestEntityTooLarge {
			msg = "The request is too large."
		}
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "Not found."
	case errors.Is(err, context.DeadlineExceeded):
		code, msg, retry = http.StatusServiceUnavailable, "The archive took too long to answer. Please try again.", true
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer, and it is no
		// fault of ours worth an error in the log.
		code, msg = http.StatusServiceUnavailable, "The request was cancelled."
	}
	rebuilding := errors.Is(err, indexer.ErrRebuilding)
	retry = retry || rebuilding
	switch {
	case errors.Is(err, context.Canceled):
		s.log.Debug("request cancelled", "method", c.Request().Method, "path", c.Request().URL.Path)
	case rebuilding:
		// The indexer logs the rebuild once; each search meanwhile is not
		// an error of its own.
		s.log.Debug("search refused: the index is being rebuilt", "path", c.Request().URL.Path)
	case unavailable:
		// An outage fails every request with the same cause: a warning
		// each, not an error each (the indexer reports the outage once).
		s.log.Warn("request failed: the database is unavailable", "method", c.Request().Method, "path", c.Request().URL.Path, "status", code, "err", err)
	case code >= 500:
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", code, "err", err)
	}
	if retry {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	// A message may quote the address, whose bytes need not be UTF-8
	// (/room/%ff): the page says UTF-8, as the JSON encoder makes it. Nor
	// may the address turn the message around: a link to /room/%E2%80%AE…
	// (U+202E, right-to-left override) made the page say what it wanted
	// backwards. The archive's own words hold no bidi control.
	msg = messageShown(msg)
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(code, apiError{ErrCode: errCode(code), Error: msg})
		return
	}
	if p := c.Request().URL.Path; strings.HasSuffix(p, ".txt") || strings.HasSuffix(p, ".atom") || strings.HasSuffix(p, ".xml") {
		// A text log's or minutes' reader is a script as often as not,
		// and a feed's or a sitemap's is a feed reader or a crawler:
		// each gets text, not a page of the site (helper-98).
		c.Response().Header().Set("Cache-Control", "no-store")
		_ = c.String(code, fmt.Sprintf("%d %s: %s\n", code, http.StatusText(code), msg))
		return
	}
	if err := s.renderPage(c, code, "error", errorView{Code: code, Title: http.StatusText(code), Message: msg}); err != nil {
		s.log.Error("render error page", "err", err)
	}
}

// messageShown is an error's message as a page or an answer shows it:
// UTF-8, with no bidi control (handleError).
func messageShown(msg string) string {
	return strings.Map(noBidiControl, strings.ToValidUTF8(msg, "\uFFFD"))
}

// retryAfter is what a 503 (database unavailable, request timed out) asks
// clients to wait: long enough that crawlers do not hammer a recovering
// database, short enough for a restart.
const retryAfter = 10 * time.Second

type apiError struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func errCode(code int) string {
	switch code {
	case http.StatusNotFound:
		return "M_NOT_FOUND"
	case http.StatusBadRequest:
		return "M_BAD_REQUEST"
	case http.StatusGone:
		return "M_GONE"
	case http.StatusRequestEntityTooLarge:
		return "M_TOO_LARGE"
	case http.StatusServiceUnavailable:
		return "M_UNAVAILABLE"
	case http.StatusMethodNotAllowed:
		// The spec's code for a route asked with a method it has not.
		return "M_UNRECOGNIZED"
	}
	if code >= 500 {
		return "M_UNKNOWN"
	}
	return "M_BAD_REQUEST"
}

// renderPage executes a page template into the response, uncached.
func (s *Server) renderPage(c echo.Context, code int, name string, data any) error {
	b, err := s.execPage(name, data)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(code, b)
}

func (s *Server) execPage(name string, data any) ([]byte, error) {
	l, err := s.execPageLent(name, data)
	if err != nil {
		return nil, err
	}
	return l.own(), nil
}

// execPageLent is execPage, whose body may be lent (respBody).
func (s *Server) execPageLent(name string, data any) (respBody, error) {
	t, ok := s.pages[name]
	if !ok {
		return respBody{}, fmt.Errorf("no page template %q", name)
	}
	var b bytes.Buffer
	b.Grow(pageChrome)
	sp := new(itemsSplice)
	if err := t.Execute(&b, pageData{Site: s.opts.SiteName, Page: data, Script: s.scriptPath, Style: s.stylePath, splice: sp}); err != nil {
		return respBody{}, fmt.Errorf("render %s: %w", name, err)
	}
	if !sp.set {
		return respBody{b: b.Bytes()}, nil
	}
	out, err := spliceItems(b.Bytes(), sp.items)
	if err != nil {
		return respBody{}, fmt.Errorf("render %s: %w", name, err)
	}
	return out, nil
}

// currentDayMaxAge is how long a cache may keep the current day's pages
// without asking again: new messages (and redactions) show up that late.
const currentDayMaxAge = 30 * time.Second

// sendCached answers with an ETag over the body, so that caches revalidate
// cheaply (pages of messages use sendValidated instead, whose ETag is known
// before rendering), and a Cache-Control that cannot let a redaction be outlived:
// content that can still change is revalidated on every use (no-cache),
// except the current day's pages, which may be kept currentDayMaxAge.
// day is the UTC day the content belongs to, zero for none.
func (s *Server) sendCached(c echo.Context, code int, contentType string, body []byte, day time.Time) error {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	s.cacheHeaders(c, etag, day)
	if st := precondition(c.Request(), code, etag); st != 0 {
		return c.NoContent(st)
	}
	return c.Blob(code, contentType, body)
}

// cacheHeaders sets the ETag and the Cache-Control described at
// sendCached.
func (s *Server) cacheHeaders(c echo.Context, etag string, day time.Time) {
	h := c.Response().Header()
	if etag != "" { // a streamed answer has none (streamDayText)
		h.Set("ETag", etag)
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	if !day.IsZero() && !day.Before(today) {
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(currentDayMaxAge.Seconds())))
	} else {
		h.Set("Cache-Control", "public, no-cache")
	}
}

// precondition evaluates a request's validators against etag, the strong
// ETag of what a 200 (code) would send (RFC 9110 13.2.2): 412 when
// If-Match names none of it (compared strongly: a weak W/ tag never
// matches; "*" does), 304 when If-None-Match names it, else 0.
func precondition(r *http.Request, code int, etag string) int {
	if code != http.StatusOK {
		return 0
	}
	if im := r.Header.Get("If-Match"); im != "" && !strongMatch(im, etag) {
		return http.StatusPreconditionFailed
	}
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		return http.StatusNotModified
	}
	return 0
}

// strongMatch says whether an If-Match header names etag.
func strongMatch(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		if part = strings.TrimSpace(part); part == etag || part == "*" {
			return true
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}

// jsonCached sends v as JSON with sendCached.
func (s *Server) jsonCached(c echo.Context, v any, day time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.sendCached(c, http.StatusOK, echo.MIMEApplicationJSON, b, day)
}

// pageData is what layout.html sees; .Page is the page's own view.
type pageData struct {
	Site   string
	Page   any
	Script string // the path of archive.js
	Style  string // the path of the stylesheet
	splice *itemsSplice
}

// pageChrome is room for a page without its timeline (a day page's is
// about 4 KB), so that the buffer does not grow while it is written.
const pageChrome = 8 << 10

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Debug("request", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "duration", time.Since(start))
		s.opts.Metrics.observeRequest(c, time.Since(start))
		return nil
	}
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// Scripts only from our own origin (archive.js, which only
		// enhances: pages work without it), never inline: a sanitizer bug
		// cannot become script execution. Its fetches go to the archive
		// alone. Style attributes are allowed only for the colours render emits
		// after validating them as #rrggbb.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		return next(c)
	}
}

// beginRequest counts a request as being answered, until end is called
// (waitIdle).
func (s *Server) beginRequest() (end func()) {
	s.requests.Add(1)
	s.lastRequest.Store(time.Now().UnixNano())
	return func() {
		s.lastRequest.Store(time.Now().UnixNano())
		s.requests.Add(-1)
	}
}

func (s *Server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		defer s.beginRequest()()
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.opts.RequestTimeout)
		defer cancel()
		// A request's reads screen alike and look at the change feed for
		// opt-outs and policies once (store.ScreenOnce).
		ctx = s.store.ScreenOnce(ctx)
		refresh := &viaRefresh{}
		c.SetRequest(c.Request().WithContext(context.WithValue(ctx, viaRefreshKey{}, refresh)))
		err := next(c)
		s.refreshVia(c, refresh, err == nil)
		return err
	}
}

// stylesheet serves the site's CSS followed by render's rules for the
// markup it produces (spoilers), one file so pages make one request.
// Pages name it by its content (stylePath), which is cached for good, as
// archive.js is: under its fixed name, kept an hour, a browser showed an
// upgrade's pages with the stylesheet of before for up to that hour. The
// fixed name, which pages cached before named, is still served, kept an
// hour and then asked again with its ETag, which a 304 answers until an
// upgrade changes it.
func (s *Server) stylesheet(c echo.Context) error {
	h := c.Response().Header()
	if c.Request().URL.Path == s.stylePath {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	h.Set("ETag", s.styleETag)
	h.Set("Content-Type", "text/css; charset=utf-8")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, strings.NewReader(s.styleCSS))
	return nil
}

// script serves archive.js under its content-named path, cached for good.
func (s *Server) script(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", archiveJS)
}

// noBidiControl maps the Unicode bidi controls (Bidi_Control: the marks,
// embeddings, overrides and isolates) to U+FFFD, for a text whose parts
// cannot each be isolated.
func noBidiControl(r rune) rune {
	if unicode.Is(unicode.Bidi_Control, r) {
		return '\uFFFD'
	}
	return r
}
