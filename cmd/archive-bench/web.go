package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/store"
)

const (
	botID   = "@archive:bench.example"
	hsToken = "archive-bench-hs-token"
)

// dayInfo is the day page the benchmark reads: the room-day whose number
// of messages is closest to the target.
type dayInfo struct {
	Room     string `json:"room"`
	Date     string `json:"date"`
	Messages int    `json:"messages"`
	Sender   string `json:"sender"` // one who spoke that day, for the appservice's events
	// Days counts the room's messages on each of its dates (the dataset's,
	// exactly), for measureCold's choice of days.
	Days map[string]int `json:"-"`
}

// dayTarget is the messages of the day the benchmark reads, and of the
// days of its first requests: issue 17's page of 1,000 messages.
const dayTarget = 1000

// benchDayPageSize is archive-web's web.day_page_size in the benchmark:
// the day page holds the target's 1,000 messages, not the default 500.
const benchDayPageSize = 1000

func pathSegment(s string) string { return strings.ReplaceAll(url.PathEscape(s), "%21", "!") }

func busiestDay(msgs []message, target int) dayInfo {
	type key struct{ room, date string }
	counts, senders := map[key]int{}, map[key]string{}
	var order []key
	for _, m := range msgs {
		k := key{m.room, time.UnixMilli(m.ts).UTC().Format(time.DateOnly)}
		if counts[k] == 0 {
			order = append(order, k)
			senders[k] = m.sender
		}
		counts[k]++
	}
	best := order[0]
	dist := func(k key) int { return max(counts[k]-target, target-counts[k]) }
	for _, k := range order {
		if dist(k) < dist(best) {
			best = k
		}
	}
	days := map[string]int{}
	for k, n := range counts {
		if k.room == best.room {
			days[k.date] = n
		}
	}
	return dayInfo{Room: best.room, Date: best.date, Messages: counts[best], Sender: senders[best], Days: days}
}

// pageMessages counts the messages a page's body shows: the message items
// of an HTML page, the m.room.message events of a JSON day, the message
// lines of a text log (a member change is "<name> (joined)", which a
// message of that form would also look like).
func pageMessages(kind string, body []byte) int {
	switch kind {
	case "JSON day":
		var d struct {
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		if json.Unmarshal(body, &d) != nil {
			return 0
		}
		n := 0
		for _, e := range d.Events {
			if e.Type == "m.room.message" {
				n++
			}
		}
		return n
	case "text log":
		n := 0
		for _, l := range strings.Split(string(body), "\n") {
			if len(l) > 0 && l[0] == '[' && !textNotice.MatchString(l) {
				n++
			}
		}
		return n
	}
	return strings.Count(string(body), `<li class="msg`)
}

// gunzip inflates a gzip body.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// textNotice is a text log's line for what is not a message.
var textNotice = regexp.MustCompile(`^\[[^\]]*\] <[^>]*> \(.*\)$`)

// appService is the real appservice handler on the benchmark's store,
// behind a real HTTP server on loopback.
type appService struct {
	st *store.Store
	// after is a time after every event of the dataset: a replayed corpus
	// may run past today, and a message dated before its room was created
	// is not public.
	after  int64
	srv    *httptest.Server
	client *http.Client
	day    dayInfo
	txn    atomic.Int64
	seq    atomic.Int64
}

func startAppService(st *store.Store, log *slog.Logger, day dayInfo, after int64) (*appService, error) {
	as := ingest.NewAppService(ingest.New(st, log, botID), hsToken, nil, log)
	return &appService{st: st, after: after, srv: httptest.NewServer(as.Handler()), client: &http.Client{Timeout: time.Minute}, day: day}, nil
}

func (a *appService) close() { a.srv.Close() }

// event returns a new event of the day's room: a message with body, or a
// redaction of target.
func (a *appService) event(body, redacts string) (string, map[string]any) {
	return a.eventIn(a.day.Room, body, redacts)
}

// eventIn's event IDs are a hash's 32 bytes in URL-safe base64, as the
// dataset's are and as room versions 4 and later make them, so that they
// land on an index of IDs at random. IDs of a counter
// ("$archive-bench-<time>-<n>") all landed at one end of SQLite's unique
// index on the ID's text: the appservice acks of the 1M run took 4.7-6.3
// ms (p50) with them, 17.4 with these (12.2 with the index of the ID's
// hash, store/idh.go), and a new message was searchable at 5.5 ms p50
// with them, 197 with these (the indexer's poll; p99 206 either way).
func (a *appService) eventIn(room, body, redacts string) (string, map[string]any) {
	n := a.seq.Add(1)
	h := sha256.Sum256(fmt.Appendf(nil, "archive-bench\x1f%d\x1f%d", time.Now().UnixNano(), n))
	evID := "$" + base64.RawURLEncoding.EncodeToString(h[:])
	ev := map[string]any{"event_id": evID, "room_id": room, "sender": a.day.Sender,
		"origin_server_ts": max(time.Now().UnixMilli(), a.after+n), "type": "m.room.message",
		"content": map[string]any{"msgtype": "m.text", "body": body}}
	if redacts != "" {
		ev["type"], ev["redacts"] = "m.room.redaction", redacts
		ev["content"] = map[string]any{"redacts": redacts, "reason": "archive-bench"}
	}
	return evID, ev
}

// send delivers one transaction and returns how long the ack took.
func (a *appService) send(ctx context.Context, evs []map[string]any) (time.Duration, error) {
	body, err := json.Marshal(map[string]any{"events": evs})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		fmt.Sprintf("%s/_matrix/app/v1/transactions/bench-%d-%d", a.srv.URL, time.Now().UnixNano(), a.txn.Add(1)), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+hsToken)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("transaction answered %s", resp.Status)
	}
	return d, nil
}

// sendStored sends one event and makes sure the archive stored it (a
// message it judges not public would leave the wait for it hanging).
func (a *appService) sendStored(ctx context.Context, evID string, ev map[string]any) error {
	if _, err := a.send(ctx, []map[string]any{ev}); err != nil {
		return err
	}
	evs, err := a.st.EventsByID(ctx, []id.EventID{id.EventID(evID)})
	if err == nil && (len(evs) != 1 || !evs[0].Public) {
		err = fmt.Errorf("the archive did not store %s as public", evID)
	}
	return err
}

// measureAcks sends transactions of 100 messages to a room of their own
// (so that they do not swell the pages the other measurements read) and
// times their acks.
func (a *appService) measureAcks(ctx context.Context, txns int) (latency, error) {
	room := fmt.Sprintf("!archive-bench-acks-%d:bench.example", time.Now().UnixNano())
	var state []map[string]any
	for _, s := range []struct {
		typ, key string
		content  map[string]any
	}{
		{"m.room.create", "", map[string]any{"room_version": "10"}},
		{"m.room.member", a.day.Sender, map[string]any{"membership": "join"}},
		{"m.room.history_visibility", "", map[string]any{"history_visibility": "world_readable"}},
	} {
		_, ev := a.eventIn(room, "", "")
		ev["type"], ev["state_key"], ev["content"] = s.typ, s.key, s.content
		state = append(state, ev)
	}
	if _, err := a.send(ctx, state); err != nil {
		return latency{}, err
	}
	var lat []time.Duration
	for t := range txns {
		evs := make([]map[string]any, 100)
		for i := range evs {
			_, evs[i] = a.eventIn(room, fmt.Sprintf("appservice benchmark message %d of transaction %d, with some ordinary words", i, t), "")
		}
		d, err := a.send(ctx, evs)
		if err != nil {
			return latency{}, err
		}
		lat = append(lat, d)
	}
	// Acks of events left unstored would measure nothing.
	r, err := a.st.Room(ctx, id.RoomID(room))
	if err != nil {
		return latency{}, err
	}
	if r.MessageCount != int64(txns*100) {
		return latency{}, fmt.Errorf("%d of the %d messages sent were stored", r.MessageCount, txns*100)
	}
	return summarize(lat), nil
}

// webProcess is a running archive-web.
type webProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
	url    string
	client *http.Client
	logs   lockedBuffer
	// startRSS is the resident set once the process answers; peakAnon the
	// peak of its anonymous part (heap, stacks) since, sampled every
	// 50 ms: with VmHWM they say whether a peak is the process's own
	// memory or file pages mapped in (the index's segments).
	startRSS int64
	peakAnon atomic.Int64
}

// lockedBuffer is the process's output, written by exec's copying
// goroutine and read by the benchmark.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startWeb starts archive-web on the archive, with extra settings in env
// (MXARCHIVE_… variables), and waits until it answers.
func startWeb(ctx context.Context, bin string, cfg store.Config, dataDir string, env ...string) (*webProcess, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	// DisableCompression: Go's client would otherwise ask for gzip and
	// inflate every page in this process, on the same cores, charging the
	// inflating to archive-web's figures; the floor serves the plain bytes.
	w := &webProcess{url: "http://" + addr, client: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64, DisableCompression: true}}}
	w.cmd = exec.Command(bin)
	w.cmd.Env = append(os.Environ(), "MXARCHIVE_DATA_DIR="+dataDir, "MXARCHIVE_DATABASE_TYPE="+cfg.Type,
		"MXARCHIVE_DATABASE_URI="+cfg.URI, "MXARCHIVE_WEB_LISTEN="+addr, "MXARCHIVE_LOG_LEVEL=info",
		// Sitemaps and feeds need absolute URLs; they are never built from the Host header.
		"MXARCHIVE_WEB_BASE_URL="+w.url,
		// The bench's archives are written through the store and keep no
		// media: there is no media directory for archive-web to read.
		"MXARCHIVE_MEDIA_ENABLED=false")
	w.cmd.Env = append(w.cmd.Env, env...)
	w.cmd.Stdout, w.cmd.Stderr = &w.logs, &w.logs
	w.cmd.SysProcAttr = procAttr()
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	w.exited = make(chan struct{})
	go func() { w.cmd.Wait(); close(w.exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// Serving, not starting (archive-web listens, and answers
		// /healthz "starting", before its database answers and while
		// it warms up).
		if code, body, err := w.get(ctx, "/healthz"); err == nil && code == http.StatusOK && string(body) == "ok\n" {
			w.startRSS = procStatusBytes(w.cmd.Process.Pid, "VmRSS:")
			go w.sampleAnon()
			return w, nil
		}
		select {
		case <-w.exited:
			return nil, fmt.Errorf("archive-web exited: %s", tail(w.logs.String(), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.stop()
			return nil, fmt.Errorf("archive-web did not start within 2 minutes: %s", tail(w.logs.String(), 4000))
		}
	}
}

func (w *webProcess) get(ctx context.Context, path string) (int, []byte, error) {
	return w.getEncoded(ctx, path, "")
}

// getEncoded is get asking for a content coding (Accept-Encoding; ""
// for none): the body is returned as sent, and a 200 in another coding
// than the one asked for is an error.
func (w *webProcess) getEncoded(ctx context.Context, path, coding string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if coding != "" {
		req.Header.Set("Accept-Encoding", coding)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if got := resp.Header.Get("Content-Encoding"); err == nil && coding != "" && resp.StatusCode == http.StatusOK && got != coding {
		err = fmt.Errorf("%s asked for in %s came in %q", path, coding, got)
	}
	return resp.StatusCode, b, err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// roomPrefix is where the room's pages live ("/room/" and the alias the
// room ID redirects to, else the ID), found without loading any page: a
// page's first request is measured, so nothing may have loaded it before.
// The room's own address redirects to its latest day; the prefix is that
// day's path without the date.
func (w *webProcess) roomPrefix(ctx context.Context, room string) (string, error) {
	client := &http.Client{Timeout: time.Minute, Transport: w.client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	path := "/room/" + pathSegment(room)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("%s answered %s, not a redirect to its latest day", path, resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	prefix := loc.EscapedPath()
	if i := strings.LastIndexByte(prefix, '/'); i > len("/room/") {
		return prefix[:i], nil
	}
	return "", fmt.Errorf("%s redirects to %s, not to a day", path, prefix)
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes,
// and no less than any resident set read of it before (its start's, the
// peak of its anonymous part): the kernel counts a thread's pages apart
// and adds them up lazily, so VmHWM read once the process held still was
// 115 KiB below the VmRSS read at its start (a CI run of
// TestRunMeasuresEverything).
func (w *webProcess) peakRSS() int64 {
	return max(procStatusBytes(w.cmd.Process.Pid, "VmHWM:"), w.startRSS, w.peakAnon.Load())
}

// sampleAnon keeps peakAnon until the process exits.
func (w *webProcess) sampleAnon() {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if a := procStatusBytes(w.cmd.Process.Pid, "RssAnon:"); a > w.peakAnon.Load() {
			w.peakAnon.Store(a)
		}
		select {
		case <-w.exited:
			return
		case <-tick.C:
		}
	}
}

func (w *webProcess) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(15 * time.Second):
		w.cmd.Process.Kill()
		<-w.exited
	}
}

// searchHas reports whether a search over HTTP finds the event.
func (w *webProcess) searchHas(ctx context.Context, q, evID string) (bool, error) {
	code, body, err := w.get(ctx, "/api/v1/search?q="+url.QueryEscape(q))
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("search answered %d: %s", code, body)
	}
	return bytes.Contains(body, []byte(evID)), nil
}

// pageHas reports whether the message's permalink page shows text.
func (w *webProcess) pageHas(ctx context.Context, room, evID, text string) (bool, error) {
	code, body, err := w.get(ctx, "/room/"+pathSegment(room)+"/event/"+pathSegment(evID))
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("permalink answered %d", code)
	}
	return bytes.Contains(body, []byte(text)), nil
}

// until polls cond every 2 ms until it holds, for at most timeout, and
// returns how long that took from start.
func until(ctx context.Context, start time.Time, timeout time.Duration, what string, cond func() (bool, error)) (time.Duration, error) {
	for {
		ok, err := cond()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s: not after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// measureWeb runs archive-web on the archive and measures the day page,
// how fast a new message becomes searchable and a redaction propagates to
// search and the permalink, and archive-web's peak memory.
func measureWeb(ctx context.Context, o benchOptions, cfg store.Config, dataDir string, as *appService, day dayInfo, res *oursResult) error {
	w, err := startWeb(ctx, o.webBin, cfg, dataDir, fmt.Sprintf("MXARCHIVE_WEB_DAY_PAGE_SIZE=%d", benchDayPageSize))
	if err != nil {
		return err
	}
	defer w.stop()
	// Wait until it has indexed the appservice's messages.
	marker, ev := as.event("archivebenchmarker caught up", "")
	if err := as.sendStored(ctx, marker, ev); err != nil {
		return err
	}
	if _, err := until(ctx, time.Now(), 5*time.Minute, "archive-web catching up", func() (bool, error) {
		return w.searchHas(ctx, "archivebenchmarker", marker)
	}); err != nil {
		return fmt.Errorf("%w; archive-web's log:\n%s", err, tail(w.logs.String(), 4000))
	}

	// A thread for the thread page, sent now: it lands on today's page,
	// not on the day measured.
	thread, err := as.sendThread(ctx, threadReplies)
	if err != nil {
		return err
	}
	// The room's page lives at its alias: take the address the room ID
	// redirects to, so the measurement is one request, not two.
	prefix, err := w.roomPrefix(ctx, day.Room)
	if err != nil {
		return err
	}
	path := prefix + "/" + day.Date
	res.DayPath = path
	page := w.getter(path)
	// The first request after start: nothing is cached for the page yet.
	t0 := time.Now()
	code, body, err := w.get(ctx, path)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%s answered %d", path, code)
	}
	if err != nil {
		return err
	}
	res.DayPageFirstMS = ms(time.Since(t0))
	res.DayPageMessages = pageMessages("day page", body)
	if res.DayPage, res.DayPageBytes, err = sequential(ctx, o.search, page); err != nil {
		return err
	}
	if res.DayPageConcurrent, err = concurrent(ctx, o.clients, o.concurrentTime, []func(context.Context) (int, error){page}); err != nil {
		return err
	}
	if err := measureFloor(ctx, o, w, path, res); err != nil {
		return err
	}
	if err := measurePages(ctx, o, w, day, path, thread, res); err != nil {
		return err
	}
	if res.Cold, err = measureCold(ctx, w, as, day, prefix, coldPages); err != nil {
		return err
	}

	var searchable, propagation []time.Duration
	for i := range o.redactions {
		word := fmt.Sprintf("redactionprobe%04dx", i)
		text := "propagation probe " + word
		evID, ev := as.event(text, "")
		start := time.Now()
		if err := as.sendStored(ctx, evID, ev); err != nil {
			return err
		}
		d, err := until(ctx, start, 30*time.Second, "a new message becoming searchable", func() (bool, error) {
			return w.searchHas(ctx, word, evID)
		})
		if err != nil {
			return err
		}
		searchable = append(searchable, d)
		if ok, err := w.pageHas(ctx, day.Room, evID, word); err != nil || !ok {
			return fmt.Errorf("the new message's permalink does not show its text (%v)", err)
		}
		_, red := as.event("", evID)
		start = time.Now()
		if _, err := as.send(ctx, []map[string]any{red}); err != nil {
			return err
		}
		d, err = until(ctx, start, 30*time.Second, "a redaction reaching search and the page", func() (bool, error) {
			found, err := w.searchHas(ctx, word, evID)
			if err != nil || found {
				return false, err
			}
			shown, err := w.pageHas(ctx, day.Room, evID, word)
			return !shown, err
		})
		if err != nil {
			return err
		}
		propagation = append(propagation, d)
	}
	res.Searchable, res.Redaction = summarize(searchable), summarize(propagation)
	res.PeakRSSBytes, res.StartRSSBytes, res.PeakAnonBytes = w.peakRSS(), w.startRSS, w.peakAnon.Load()
	return nil
}

// serverVersion is PostgreSQL's version string, for the report.
func serverVersion(ctx context.Context, u string) string {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown: " + err.Error()
	}
	return v
}

// measureFloor measures the physical limit the day page is held to: the
// same page's bytes, fetched once from archive-web, served from memory by
// a bare net/http handler in this process, read by a client like the one
// that reads archive-web, with the same budget and clients.
func measureFloor(ctx context.Context, o benchOptions, w *webProcess, path string, res *oursResult) error {
	code, body, err := w.get(ctx, path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s answered %d", path, code)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=UTF-8")
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.Write(body)
	}))
	defer srv.Close()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64}}
	defer client.CloseIdleConnections()
	floor := func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return readAway(resp.Body)
	}
	if res.FloorPage, _, err = sequential(ctx, o.search, floor); err != nil {
		return err
	}
	res.FloorPageConcurrent, err = concurrent(ctx, o.clients, o.concurrentTime, []func(context.Context) (int, error){floor})
	return err
}

// threadReplies is how many replies the thread page's thread has.
const threadReplies = 20

// sendThread sends a thread root and n replies to it to the day's room,
// and returns the root's ID.
func (a *appService) sendThread(ctx context.Context, n int) (string, error) {
	root, ev := a.event("archive-bench thread root, with some ordinary words", "")
	if err := a.sendStored(ctx, root, ev); err != nil {
		return "", err
	}
	evs := make([]map[string]any, n)
	for i := range evs {
		_, evs[i] = a.event(fmt.Sprintf("archive-bench thread reply %d, with some ordinary words", i), "")
		evs[i]["content"].(map[string]any)["m.relates_to"] = map[string]any{"rel_type": "m.thread", "event_id": root}
	}
	if _, err := a.send(ctx, evs); err != nil {
		return "", err
	}
	return root, nil
}

// getter is a measured request of path: its body's length, or an error
// for any answer but 200.
func (w *webProcess) getter(path string) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url+path, nil)
		if err != nil {
			return 0, err
		}
		resp, err := w.client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := readAway(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s answered %d", path, resp.StatusCode)
		}
		return n, err
	}
}

// readAway reads a response body to its end, as a client must, without
// keeping it: read into a new buffer each time (a page is up to a
// megabyte), the measuring clients' allocations set off a collection
// every few requests, which took CPU from the server they measure (the
// 10-client figures fell by 40% once this process's heap was small).
func readAway(r io.Reader) (int, error) {
	n, err := io.Copy(io.Discard, r)
	return int(n), err
}

// measurePages measures the other pages of the day as the day page is
// (first request, one client, o.clients clients): the day's text log and
// JSON, a permalink of a message in the middle of the day (taken from the
// JSON day) and a thread's page. Each first request is the page's first,
// though the day page has rendered most of their messages before.
func measurePages(ctx context.Context, o benchOptions, w *webProcess, day dayInfo, dayPath, thread string, res *oursResult) error {
	date := day.Date
	prefix := strings.TrimSuffix(dayPath, "/"+date)
	apiPath := "/api/v1/rooms/" + pathSegment(day.Room) + "/events?date=" + date
	var apiBody []byte
	measure := func(name, path string) error {
		get := w.getter(path)
		pr := pageResult{Name: name, Path: path}
		t0 := time.Now()
		code, body, err := w.get(ctx, path)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("%s answered %d", path, code)
		}
		if err != nil {
			return err
		}
		pr.FirstMS = ms(time.Since(t0))
		if path == apiPath {
			apiBody = body
		}
		if pr.Latency, pr.Bytes, err = sequential(ctx, o.search, get); err != nil {
			return err
		}
		if pr.Concurrent, err = concurrent(ctx, o.clients, o.concurrentTime, []func(context.Context) (int, error){get}); err != nil {
			return err
		}
		res.Pages = append(res.Pages, pr)
		return nil
	}
	if err := measure("text log", dayPath+".txt"); err != nil {
		return err
	}
	if err := measure("JSON day", apiPath); err != nil {
		return err
	}
	var apiDay struct {
		Events []struct {
			EventID string `json:"event_id"`
			Type    string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(apiBody, &apiDay); err != nil {
		return fmt.Errorf("%s: %w", apiPath, err)
	}
	var msgs []string
	for _, e := range apiDay.Events {
		if e.Type == "m.room.message" {
			msgs = append(msgs, e.EventID)
		}
	}
	if len(msgs) == 0 {
		return fmt.Errorf("%s holds no message", apiPath)
	}
	if err := measure("permalink", prefix+"/event/"+pathSegment(msgs[len(msgs)/2])); err != nil {
		return err
	}
	return measure(fmt.Sprintf("thread page (%d replies)", threadReplies), prefix+"/thread/"+pathSegment(thread))
}

// coldPages is how many distinct pages of each kind measureCold asks for.
const coldPages = 20

// coldResult is the first request of distinct pages of one kind, none
// asked for before (measureCold).
type coldResult struct {
	Name string `json:"name"`
	// MinMessages and MaxMessages bound the messages the pages show,
	// counted in their bodies (pageMessages).
	MinMessages int `json:"min_messages"`
	MaxMessages int `json:"max_messages"`
	latency
	// ServerCPUMS and Faults are archive-web's CPU time (ms) and minor
	// page faults a page, on average (proccost.go); -1 where /proc cannot
	// say.
	ServerCPUMS float64 `json:"server_cpu_ms"`
	Faults      float64 `json:"minor_faults"`
}

// measureCold measures the first request of n distinct pages of each
// kind (day page, text log, JSON day, permalink, day page asked for in
// gzip, thread page), none of
// which anything asked for before: a crawler's case, each page asked
// once. One page's first request is one sample, which may pay for what
// the process does once (connections, prepared statements); here every
// page is a sample of its own, asked of a process that has served pages
// before. The days are the room's nearest dayTarget messages but the
// measured day, found in the store and the dataset, not through
// archive-web (which would load them), and each
// kind gets days of its own (when the room has that many), so no page
// reads messages another kind rendered. The kinds take turns, so a change in the machine's load
// falls on all of them alike. Threads are sent now, each with
// threadReplies replies.
func measureCold(ctx context.Context, w *webProcess, as *appService, day dayInfo, prefix string, n int) ([]coldResult, error) {
	const kinds = 5 // kinds that need a day of their own: day page, text log, JSON day, permalink, day page in gzip
	type dayCount struct {
		start int64
		n     int
	}
	// The store's days (counted up to store.MaxCount; the appservice's
	// messages are on today's), with the dataset's exact counts.
	counts, err := as.st.DayCounts(ctx, id.RoomID(day.Room), 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	var days []dayCount
	for start, c := range counts {
		date := time.UnixMilli(start).UTC().Format(time.DateOnly)
		if exact, ok := day.Days[date]; ok {
			c = exact
		}
		if date != day.Date {
			days = append(days, dayCount{start, c})
		}
	}
	// The days nearest dayTarget messages first (a replay's busiest days
	// may hold ten times as many, and a whole day's text log or JSON
	// costs in proportion), then by date: the same days on every run.
	dist := func(d dayCount) int { return max(d.n-dayTarget, dayTarget-d.n) }
	slices.SortFunc(days, func(a, b dayCount) int {
		if da, db := dist(a), dist(b); da != db {
			return da - db
		}
		return int(a.start - b.start)
	})
	if len(days) == 0 {
		return nil, fmt.Errorf("room %s has no other day with messages for the first requests", day.Room)
	}
	// A small archive (a test's) may have fewer days than kinds: then
	// kinds share days, each still asking for its own pages.
	slots := min(kinds*n, max(kinds, len(days)))
	type page struct{ kind, path string }
	names := []string{"day page", "text log", "JSON day", "permalink", "day page, gzip", fmt.Sprintf("thread page (%d replies)", threadReplies)}
	const gzipped, threads = 4, 5 // names' indexes of the day page in gzip and the thread page
	pages := make([][]page, len(names))
	for i := range slots {
		d := days[i%len(days)]
		date := time.UnixMilli(d.start).UTC().Format(time.DateOnly)
		k := i % kinds
		var path string
		switch k {
		case 0:
			path = prefix + "/" + date
		case 1:
			path = prefix + "/" + date + ".txt"
		case 2:
			path = "/api/v1/rooms/" + pathSegment(day.Room) + "/events?date=" + date
		case 3:
			// A message in the middle of the day, read from the store.
			evs, _, err := as.st.DayPage(ctx, id.RoomID(day.Room), d.start, d.start+86400000, store.Position{}, store.MaxCount, 0)
			if err != nil {
				return nil, err
			}
			var msgs []id.EventID
			for _, e := range evs {
				if e.Type == "m.room.message" {
					msgs = append(msgs, e.ID)
				}
			}
			if len(msgs) == 0 {
				continue
			}
			path = prefix + "/event/" + pathSegment(string(msgs[len(msgs)/2]))
		case gzipped:
			path = prefix + "/" + date // asked for in gzip, as browsers and most crawlers ask
		}
		pages[k] = append(pages[k], page{kind: names[k], path: path})
	}
	for range len(pages[0]) {
		root, err := as.sendThread(ctx, threadReplies)
		if err != nil {
			return nil, err
		}
		pages[threads] = append(pages[threads], page{kind: names[threads], path: prefix + "/thread/" + pathSegment(root)})
	}
	samples := make([][]time.Duration, len(names))
	res := make([]coldResult, len(names))
	costs := make([]procCost, len(names))
	costsRead := true
	for k := range res {
		res[k] = coldResult{Name: names[k], MinMessages: math.MaxInt}
	}
	pid := w.cmd.Process.Pid
	for i := 0; ; i++ {
		asked := false
		for k := range pages {
			if i >= len(pages[k]) {
				continue
			}
			asked = true
			p := pages[k][i]
			coding := ""
			if p.kind == names[gzipped] {
				coding = "gzip"
			}
			before, ok := readProcCost(pid)
			t0 := time.Now()
			code, body, err := w.getEncoded(ctx, p.path, coding)
			d := time.Since(t0)
			after, ok2 := readProcCost(pid)
			if err == nil && coding != "" {
				body, err = gunzip(body) // after the measurement, as a client would
			}
			if costsRead = costsRead && ok && ok2; costsRead {
				costs[k].cpuNS += after.cpuNS - before.cpuNS
				costs[k].faults += after.faults - before.faults
			}
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("%s answered %d", p.path, code)
			}
			if err != nil {
				return nil, err
			}
			samples[k] = append(samples[k], d)
			msgs := pageMessages(p.kind, body)
			res[k].MinMessages, res[k].MaxMessages = min(res[k].MinMessages, msgs), max(res[k].MaxMessages, msgs)
		}
		if !asked {
			break
		}
	}
	for k := range res {
		res[k].latency = summarize(samples[k])
		res[k].ServerCPUMS, res[k].Faults = -1, -1
		if n := float64(len(samples[k])); costsRead && n > 0 {
			res[k].ServerCPUMS = float64(costs[k].cpuNS) / 1e6 / n
			res[k].Faults = float64(costs[k].faults) / n
		}
	}
	return res, nil
}
