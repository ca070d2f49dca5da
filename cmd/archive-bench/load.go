package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/store"
)

// loadOptions are the flags of `archive-bench load`.
type loadOptions struct {
	replay
	scale            int
	db               string
	postgres         string
	clients          int
	duration         time.Duration
	outage           bool
	dir              string
	keep             bool
	data             string
	out              string
	webBin           string
	hostileMessages  int
	hostileReactions int
	hostileKB        int
	squat            bool
	hostileShare     float64
	seed             uint64
}

func parseLoad(args []string, stderr io.Writer) (loadOptions, error) {
	var o loadOptions
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.replay.register(fs)
	fs.IntVar(&o.scale, "scale", 100_000, "events to replay the input to (the hostile room comes on top)")
	fs.StringVar(&o.db, "db", "sqlite", "the database archive-web reads: sqlite or postgres")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("MXARCHIVE_BENCH_POSTGRES"), "postgres:// URL of a server where the benchmark may create databases (default: a private cluster from the system's binaries)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long the clients run")
	fs.BoolVar(&o.outage, "outage", false, "stop the database for the middle third of the run (postgres only): expect 503s, then recovery")
	fs.StringVar(&o.dir, "dir", "", "work directory for the database and index (default: a temporary one, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.data, "data", "", "a directory to keep the imported archive in: the first run builds it there (to -scale), later runs with the same -data and -db reuse it and skip the import (with -db postgres it needs -postgres: a private cluster ends with the run)")
	fs.StringVar(&o.out, "o", "bench-results", "directory for load.md and load.json (empty: print only)")
	fs.StringVar(&o.webBin, "web", "", "the archive-web binary (default: the one beside archive-bench)")
	fs.IntVar(&o.hostileMessages, "hostile-messages", 200, "messages of the hostile room (≈60 KB each, 40 a day)")
	fs.IntVar(&o.hostileReactions, "hostile-reactions", 50, "reactions to each hostile message")
	fs.IntVar(&o.hostileKB, "hostile-kb", 60, "size of each hostile message in KiB (body and formatted body; 60 is about what a homeserver lets through)")
	fs.BoolVar(&o.squat, "squat", true, "the hostile room claims a real room's canonical alias; false gives it its own (an archive that lets the squat win sends the hostile room's day pages elsewhere, and they drop out of the run)")
	fs.Float64Var(&o.hostileShare, "hostile-share", -1, "share of requests that go to the hostile room's routes, 0 to 1 (default: its routes count like any other)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the clients' choices, so runs are comparable")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.db != "sqlite" && o.db != "postgres":
		return o, fmt.Errorf("-db %q: want sqlite or postgres", o.db)
	case o.outage && o.db != "postgres":
		return o, errors.New("-outage stops a PostgreSQL database; use it with -db postgres")
	case o.scale <= 0 || o.clients <= 0 || o.duration <= 0:
		return o, errors.New("-scale, -clients and -duration must be positive")
	case o.hostileMessages < 0 || o.hostileReactions < 0 || o.hostileKB <= 0:
		return o, errors.New("-hostile-messages and -hostile-reactions must not be negative, -hostile-kb must be positive")
	case o.data != "" && o.dir != "":
		return o, errors.New("-data and -dir: give one (-data keeps its archive for later runs)")
	case o.data != "" && o.db == "postgres" && o.postgres == "":
		return o, errors.New("-data with -db postgres needs -postgres: a private cluster's databases end with the run")
	case o.hostileShare > 1:
		return o, errors.New("-hostile-share is a fraction, at most 1")
	}
	if o.webBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		o.webBin = filepath.Join(filepath.Dir(exe), "archive-web")
	}
	if _, err := os.Stat(o.webBin); err != nil {
		return o, fmt.Errorf("archive-web binary: %w (build it with `make build`, or pass -web)", err)
	}
	return o, nil
}

// target is one URL the clients request, under the route it is reported by.
type target struct {
	Route string `json:"route"`
	Path  string `json:"path"`
}

// Routes in report order. Every target belongs to one; the clients pick a
// route uniformly, then one of its targets, so that each route is measured
// whatever its number of targets.
var loadRoutes = []string{"directory", "day page", "text log", "permalink", "search", "API day", "API event", "API search",
	"sitemap", "hostile day page", "hostile text log", "hostile permalink", "hostile API day"}

// hit is one request.
type hit struct {
	route, path string
	status      int // 0: no answer (transport error)
	start, end  time.Duration
	retryAfter  bool
}

// routeResult is one row of the report.
type routeResult struct {
	Route     string         `json:"route"`
	Targets   int            `json:"targets"`
	Requests  int            `json:"requests"`
	PerSecond float64        `json:"requests_per_second"`
	P50       float64        `json:"p50_ms"`
	P99       float64        `json:"p99_ms"`
	Max       float64        `json:"max_ms"`
	Statuses  map[string]int `json:"statuses"` // "200", "503", "error" (no answer)
	// Errors counts answers other than 200 to requests that did not
	// overlap the outage; Failed names the first few ("503 /search?q=…").
	Errors int      `json:"errors"`
	Failed []string `json:"failed,omitempty"`
}

// outageResult is what the run saw while the database was down and after.
type outageResult struct {
	StartSeconds float64 `json:"start_s"`
	EndSeconds   float64 `json:"end_s"`
	// During counts the statuses of requests that overlapped it.
	During map[string]int `json:"during"`
	// Unavailable503 counts 503s during the outage; WithoutRetryAfter those
	// without a Retry-After header.
	Unavailable503    int `json:"unavailable_503"`
	WithoutRetryAfter int `json:"without_retry_after"`
	// RecoverySeconds is from the database's return to the first 200 of a
	// request started after it; negative if none came.
	RecoverySeconds float64 `json:"recovery_s"`
	// FailuresAfterRecovery counts non-200 answers to requests started after
	// that first 200.
	FailuresAfterRecovery int `json:"failures_after_recovery"`
}

// loadReport is load.json.
type loadReport struct {
	Machine          machineInfo   `json:"machine"`
	Started          string        `json:"started"`
	Database         string        `json:"database"`
	Dataset          datasetInfo   `json:"dataset"`
	Hostile          hostileRoom   `json:"hostile_room"`
	HostileMessages  int           `json:"hostile_messages"`
	HostileReactions int           `json:"hostile_reactions"`
	HostileShare     float64       `json:"hostile_share"` // -1: its routes count like any other
	ImportSeconds    float64       `json:"import_s"`
	IndexSeconds     float64       `json:"index_s"`
	Clients          int           `json:"clients"`
	DurationSeconds  float64       `json:"duration_s"`
	Requests         int           `json:"requests"`
	PerSecond        float64       `json:"requests_per_second"`
	Routes           []routeResult `json:"routes"`
	PeakRSSBytes     int64         `json:"peak_rss_bytes"`
	Outage           *outageResult `json:"outage,omitempty"`
	Queries          []string      `json:"queries"`
	// Dropped lists targets left out because they did not answer 200
	// before the run (with why), so a missing route is never silent.
	Dropped []string `json:"dropped,omitempty"`
	// ServerErrors counts ERROR lines archive-web logged during the run;
	// ServerErrorLines are the first few.
	ServerErrors     int      `json:"server_error_count"`
	ServerErrorLines []string `json:"server_error_lines,omitempty"`
}

// benchLoad runs `archive-bench load`.
func benchLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseLoad(args, stderr)
	if err != nil {
		return err
	}
	started := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}
	dir, keep := o.dir, o.keep
	if o.data != "" {
		dir, keep = o.data, true
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "archive-bench-load-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	// Everything of one database lives under dir/<db>: the NDJSON it was
	// imported from, the SQLite file, the index, and builtFile.
	dataDir := filepath.Join(dir, o.db)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var (
		b   builtArchive
		ds  *dataset
		cfg = store.Config{Type: o.db}
	)
	if o.data != "" {
		b, err = readBuilt(dataDir)
		if err != nil {
			return err
		}
	}
	if b.Dataset.Events > 0 {
		progress("reusing the %s archive in %s (%d events)", o.db, dataDir, b.Dataset.Events)
		if ds, err = reuseDataset(ctx, dataDir, b); err != nil {
			return err
		}
		cfg.URI = b.URI
	} else {
		progress("preparing %d events and the hostile room", o.scale)
		if ds, err = o.replay.prepare(ctx, o.scale, dataDir); err != nil {
			return err
		}
		b = builtArchive{Dataset: datasetInfo{Source: ds.source, Events: ds.events, Messages: len(ds.msgs)},
			HostileMessages: o.hostileMessages, HostileReactions: o.hostileReactions}
		if b.Hostile, err = appendHostile(ds, o.hostileMessages, o.hostileReactions, o.hostileKB<<10, o.squat); err != nil {
			return err
		}
		if o.db == "postgres" {
			pgURL := o.postgres
			if pgURL == "" {
				progress("starting a private PostgreSQL cluster")
				cl, err := pgtest.StartCluster()
				if err != nil {
					return fmt.Errorf("PostgreSQL is needed for -db postgres: %w (install it, pass -postgres, or -db sqlite)", err)
				}
				defer cl.Stop()
				pgURL = cl.URL
			}
			if cfg.URI, err = pgtest.CreateDatabase(pgURL, "mxarchive_load"); err != nil {
				return err
			}
			b.URI = cfg.URI
		}
		progress("%s: importing and indexing", o.db)
		if b.ImportSeconds, b.IndexSeconds, err = loadArchive(ctx, cfg, dataDir, ds.path, log); err != nil {
			return err
		}
		if o.data != "" {
			if err := writeBuilt(dataDir, b); err != nil {
				return err
			}
		}
	}
	hostile := b.Hostile
	rep := &loadReport{Machine: machine(), Started: started.UTC().Format(time.RFC3339), Database: o.db, Hostile: hostile,
		HostileMessages: b.HostileMessages, HostileReactions: b.HostileReactions, HostileShare: o.hostileShare, Clients: o.clients,
		Dataset: b.Dataset, ImportSeconds: b.ImportSeconds, IndexSeconds: b.IndexSeconds}
	if o.db == "postgres" {
		rep.Machine.PostgreSQL = serverVersion(ctx, cfg.URI)
	}

	progress("%s: starting archive-web", o.db)
	web, err := startWeb(ctx, o.webBin, cfg, dataDir)
	if err != nil {
		return err
	}
	defer web.stop()
	targets, queries, dropped := loadTargets(ctx, web, ds, hostile)
	rep.Queries, rep.Dropped = queries, dropped
	for _, d := range dropped {
		progress("left out: %s", d)
	}
	logsBefore := strings.Count(web.logs.String(), "\n") // lines before the run

	progress("%s: %d clients for %s over %d targets%s", o.db, o.clients, o.duration, len(targets), map[bool]string{true: ", database stopped for the middle third"}[o.outage])
	var outage *outageWindow
	if o.outage {
		outage = &outageWindow{dsn: cfg.URI, start: o.duration / 3, end: 2 * o.duration / 3}
	}
	samples, elapsed, err := generateLoad(ctx, web, targets, o.clients, o.duration, o.seed, o.hostileShare, outage)
	if err != nil {
		return err
	}
	select {
	case <-web.exited:
		return fmt.Errorf("archive-web exited during the run: %s", tail(web.logs.String(), 4000))
	default:
	}
	rep.PeakRSSBytes = web.peakRSS()
	for i, line := range strings.Split(web.logs.String(), "\n") {
		if i >= logsBefore && strings.Contains(line, "level=ERROR") {
			rep.ServerErrors++
			if len(rep.ServerErrorLines) < 5 {
				rep.ServerErrorLines = append(rep.ServerErrorLines, tail(line, 400))
			}
		}
	}
	summarizeLoad(rep, targets, samples, elapsed, outage)
	progress("done")
	return rep.write(stdout, o.out)
}

// builtArchive is what a run that built an archive under -data leaves
// for later runs: enough to rebuild the report and the targets.
type builtArchive struct {
	Dataset          datasetInfo `json:"dataset"`
	Hostile          hostileRoom `json:"hostile_room"`
	HostileMessages  int         `json:"hostile_messages"`
	HostileReactions int         `json:"hostile_reactions"`
	URI              string      `json:"uri,omitempty"` // the PostgreSQL database
	ImportSeconds    float64     `json:"import_s"`
	IndexSeconds     float64     `json:"index_s"`
}

const builtFile = "load-archive.json"

// readBuilt reads what a previous run left in dataDir; none (a zero
// value) if it built nothing there.
func readBuilt(dataDir string) (builtArchive, error) {
	var b builtArchive
	raw, err := os.ReadFile(filepath.Join(dataDir, builtFile))
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return b, fmt.Errorf("%s: %w (remove the directory to build afresh)", filepath.Join(dataDir, builtFile), err)
	}
	return b, nil
}

// writeBuilt records a finished import, last, so that a run cut short
// during the import is not taken for a finished one.
func writeBuilt(dataDir string, b builtArchive) error {
	raw, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, builtFile), raw, 0o644)
}

// reuseDataset reads back the messages of a kept archive's input, without
// the hostile room's (the targets of the ordinary routes).
func reuseDataset(ctx context.Context, dataDir string, b builtArchive) (*dataset, error) {
	ds := &dataset{path: filepath.Join(dataDir, "bench.ndjson"), source: b.Dataset.Source, events: b.Dataset.Events}
	msgs, err := readMessages(ctx, ds.path)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.room != b.Hostile.Room {
			ds.msgs = append(ds.msgs, m)
		}
	}
	if len(ds.msgs) == 0 {
		return nil, fmt.Errorf("%s has no messages", ds.path)
	}
	return ds, nil
}

// appendHostile adds the hostile room to the dataset's file, after its
// last message, squatting the first alias it finds there.
func appendHostile(ds *dataset, messages, reactions, size int, squat bool) (hostileRoom, error) {
	alias := "#hostile:" + hostileServer
	if squat {
		var err error
		if alias, err = firstAlias(ds.path); err != nil {
			return hostileRoom{}, err
		}
	}
	f, err := os.OpenFile(ds.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return hostileRoom{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	h, err := writeHostileRoom(w, alias, ds.msgs[len(ds.msgs)-1].ts+time.Hour.Milliseconds(), messages, reactions, size)
	if err != nil {
		return h, err
	}
	if err := w.Flush(); err != nil {
		return h, err
	}
	return h, f.Close()
}

// loadArchive imports the file into a fresh store and builds its index,
// then closes both: archive-web opens them itself.
func loadArchive(ctx context.Context, cfg store.Config, dataDir, path string, log *slog.Logger) (importS, indexS float64, err error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return 0, 0, err
	}
	st, err := store.Open(ctx, cfg, dataDir, log, store.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	t0 := time.Now()
	imp, err := ingest.New(st, log, botID).ImportFile(ctx, path, ingest.ImportOptions{})
	if err != nil {
		return 0, 0, err
	}
	if len(imp.Rejected) > 0 {
		return 0, 0, fmt.Errorf("import rejected %d events, first: %v", len(imp.Rejected), imp.Rejected[0])
	}
	importS = time.Since(t0).Seconds()
	ix, err := indexer.Open(st, filepath.Join(dataDir, "index"), indexer.Options{}, log)
	if err != nil {
		return 0, 0, err
	}
	defer ix.Close()
	t0 = time.Now()
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		return 0, 0, err
	}
	return importS, time.Since(t0).Seconds(), nil
}

// loadTargets builds the URLs of every route from the dataset and resolves
// each once (room IDs redirect to their slug), so that the run measures
// pages, not redirects. A target that does not end in 200 is left out and
// listed.
func loadTargets(ctx context.Context, web *webProcess, ds *dataset, h hostileRoom) ([]target, []string, []string) {
	rng := rand.New(rand.NewPCG(7, 7))
	type roomDay struct{ room, date string }
	counts := map[roomDay]int{}
	for _, m := range ds.msgs {
		counts[roomDay{m.room, time.UnixMilli(m.ts).UTC().Format(time.DateOnly)}]++
	}
	days := make([]roomDay, 0, len(counts))
	for d := range counts {
		days = append(days, d)
	}
	// The busiest days (the most expensive pages), then days at random.
	sort.Slice(days, func(i, j int) bool {
		if counts[days[i]] != counts[days[j]] {
			return counts[days[i]] > counts[days[j]]
		}
		return days[i].room+days[i].date < days[j].room+days[j].date
	})
	picked := days[:min(10, len(days))]
	for _, i := range rng.Perm(len(days))[:min(30, len(days))] {
		if !slices.Contains(picked, days[i]) {
			picked = append(picked, days[i])
		}
	}
	var raw []target
	add := func(route, path string) { raw = append(raw, target{route, path}) }
	add("directory", "/")
	for _, d := range picked {
		room := pathSegment(d.room)
		add("day page", "/room/"+room+"/"+d.date)
		add("text log", "/room/"+room+"/"+d.date+".txt")
		add("API day", "/api/v1/rooms/"+room+"/events?date="+d.date)
	}
	for _, i := range rng.Perm(len(ds.msgs))[:min(100, len(ds.msgs))] {
		m := ds.msgs[i]
		add("permalink", "/room/"+pathSegment(m.room)+"/event/"+pathSegment(m.id))
		add("API event", "/api/v1/events/"+pathSegment(m.id))
	}
	queries := expensiveQueries(ds.msgs)
	for _, q := range queries {
		for _, s := range []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest} {
			v := url.Values{"q": {q}, "sort": {s}}.Encode()
			add("search", "/search?"+v)
			add("API search", "/api/v1/search?"+v)
		}
	}
	add("sitemap", "/sitemap.xml")
	for _, p := range sitemapPaths(ctx, web) {
		add("sitemap", p)
	}
	hroom := pathSegment(h.Room)
	for _, d := range h.Days {
		add("hostile day page", "/room/"+hroom+"/"+d)
		add("hostile text log", "/room/"+hroom+"/"+d+".txt")
		add("hostile API day", "/api/v1/rooms/"+hroom+"/events?date="+d)
	}
	for _, e := range h.Events[:min(5, len(h.Events))] {
		add("hostile permalink", "/room/"+hroom+"/event/"+pathSegment(e))
	}

	resolved := make([]string, len(raw))
	errs := make([]error, len(raw))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resolved[i], errs[i] = resolveURI(ctx, web, raw[i].Path)
			}
		}()
	}
	for i := range raw {
		next <- i
	}
	close(next)
	wg.Wait()
	var targets []target
	var dropped []string
	for i, t := range raw {
		if errs[i] != nil {
			dropped = append(dropped, fmt.Sprintf("%s %s: %v", t.Route, t.Path, errs[i]))
			continue
		}
		targets = append(targets, target{t.Route, resolved[i]})
	}
	return targets, queries, dropped
}

// resolveURI follows a path's redirects and returns the request URI it
// ends at, which must answer 200.
func resolveURI(ctx context.Context, web *webProcess, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, web.url+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := web.client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answered %s", resp.Status)
	}
	return resp.Request.URL.RequestURI(), nil
}

var locRE = regexp.MustCompile(`<loc>([^<]+)</loc>`)

// sitemapPaths returns the paths of the rooms' sitemaps the index lists
// (at most 20).
func sitemapPaths(ctx context.Context, web *webProcess) []string {
	code, body, err := web.get(ctx, "/sitemap.xml")
	if err != nil || code != http.StatusOK {
		return nil
	}
	var paths []string
	for _, m := range locRE.FindAllSubmatch(body, 20) {
		if u, err := url.Parse(string(m[1])); err == nil {
			paths = append(paths, u.RequestURI())
		}
	}
	return paths
}

// expensiveQueries are the costliest shapes the query parser accepts, made
// from the data's most common words, senders and rooms: as many common
// words as allowed (all must match), the longest phrases of common words,
// a common word with the most exclusions, every filter at once with the
// widest dates, and a query of the maximum length; plus a single common
// word, the cheap everyday case. Each is checked with the real parser.
func expensiveQueries(msgs []message) []string {
	words, senders, rooms := map[string]int{}, map[string]int{}, map[string]int{}
	for i, m := range msgs {
		if i%7 == 0 { // a sample is enough to know the common words
			for _, w := range strings.FieldsFunc(strings.ToLower(m.body), notWord) {
				if len(w) > 2 && plain(w) {
					words[w]++
				}
			}
		}
		senders[m.sender]++
		rooms[m.room]++
	}
	top := func(m map[string]int, n int) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]] != m[keys[j]] {
				return m[keys[i]] > m[keys[j]]
			}
			return keys[i] < keys[j]
		})
		return keys[:min(n, len(keys))]
	}
	common := top(words, 40)
	if len(common) < 16 {
		return nil
	}
	phrase := func(from int) string {
		var b strings.Builder
		for i := from; b.Len() < indexer.MaxPhraseLength-20 && i < len(common); i++ {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(common[i])
		}
		return `"` + b.String() + `"`
	}
	var excl []string
	for _, w := range common[1:indexer.MaxTerms] {
		excl = append(excl, "-"+w)
	}
	var filters []string
	for _, s := range top(senders, 8) {
		filters = append(filters, "from:"+s)
	}
	for _, r := range top(rooms, 8) {
		filters = append(filters, "in:"+r)
	}
	candidates := []string{
		common[0],
		strings.Join(common[:indexer.MaxTerms], " "),
		phrase(0) + " " + phrase(1),
		common[0] + " " + strings.Join(excl, " "),
		common[0] + " " + strings.Join(filters, " ") + " after:1970-01-02 before:2100-01-01",
		phrase(0) + " " + phrase(2) + " " + strings.Join(common[:8], " "),
	}
	var out []string
	for _, q := range candidates {
		// Shorten from the end until the parser accepts it: the limits are
		// the parser's, and the point is to sit right at them.
		for len(q) > 0 {
			if _, err := indexer.ParseQuery(q); err == nil {
				out = append(out, q)
				break
			}
			i := strings.LastIndexByte(q, ' ')
			if i < 0 {
				break
			}
			q = strings.TrimSpace(q[:i])
			if strings.Count(q, `"`)%2 == 1 {
				q += `"`
			}
		}
	}
	return out
}

// outageWindow stops the database from start to end of the run; once the
// run is over they are the times it actually went down and came back.
type outageWindow struct {
	dsn        string
	start, end time.Duration
	// err is the first failure to stop or restart the database.
	err error
}

// generateLoad runs the clients for dur and returns every request.
func generateLoad(ctx context.Context, web *webProcess, targets []target, clients int, dur time.Duration, seed uint64,
	hostileShare float64, outage *outageWindow) ([]hit, time.Duration, error) {
	byRoute := map[string][]target{}
	var routes, plainRoutes, hostileRoutes []string
	for _, t := range targets {
		if len(byRoute[t.Route]) == 0 {
			routes = append(routes, t.Route)
			if strings.HasPrefix(t.Route, "hostile ") {
				hostileRoutes = append(hostileRoutes, t.Route)
			} else {
				plainRoutes = append(plainRoutes, t.Route)
			}
		}
		byRoute[t.Route] = append(byRoute[t.Route], t)
	}
	if len(routes) == 0 {
		return nil, 0, errors.New("no target answered before the run")
	}
	pickRoute := func(rng *rand.Rand) string {
		if hostileShare < 0 || len(hostileRoutes) == 0 || len(plainRoutes) == 0 {
			return routes[rng.IntN(len(routes))]
		}
		if rng.Float64() < hostileShare {
			return hostileRoutes[rng.IntN(len(hostileRoutes))]
		}
		return plainRoutes[rng.IntN(len(plainRoutes))]
	}
	// One keep-alive connection per client, never following redirects:
	// every request is measured on its own.
	client := &http.Client{
		Timeout:       time.Minute,
		Transport:     &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	if outage != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, step := range []struct {
				at    time.Duration
				allow bool
			}{{outage.start, false}, {outage.end, true}} {
				time.Sleep(time.Until(start.Add(step.at)))
				if !step.allow {
					outage.start = time.Since(start) // requests may fail from now on
				}
				// The database comes back even when the run was cut short.
				if err := pgtest.AllowConnections(outage.dsn, step.allow); err != nil && outage.err == nil {
					outage.err = err
				}
				if step.allow {
					outage.end = time.Since(start) // until the database accepts connections again
				}
			}
		}()
	}
	results := make([][]hit, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			for ctx.Err() == nil {
				route := pickRoute(rng)
				t := byRoute[route][rng.IntN(len(byRoute[route]))]
				s := hit{route: route, path: t.Path, start: time.Since(start)}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, web.url+t.Path, nil)
				if err != nil {
					continue
				}
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.status, s.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After") != ""
				}
				if ctx.Err() != nil {
					break // cut by the end of the run: not an answer
				}
				if err != nil {
					s.status = 0
				}
				s.end = time.Since(start)
				results[c] = append(results[c], s)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []hit
	for _, r := range results {
		all = append(all, r...)
	}
	if outage != nil && outage.err != nil {
		return all, elapsed, outage.err
	}
	return all, elapsed, nil
}

// summarizeLoad fills the report's figures from the samples.
func summarizeLoad(rep *loadReport, targets []target, samples []hit, elapsed time.Duration, outage *outageWindow) {
	rep.DurationSeconds = elapsed.Seconds()
	rep.Requests = len(samples)
	// A request that overlaps the outage in any way may fail with it. The
	// rates and latencies are of the rest, the archive at work: fast 503s
	// would flatter them.
	during := func(s hit) bool { return outage != nil && s.end >= outage.start && s.start < outage.end }
	working := elapsed
	if outage != nil {
		working -= outage.end - outage.start
	}
	nTargets := map[string]int{}
	for _, t := range targets {
		nTargets[t.Route]++
	}
	measured := 0
	for _, route := range loadRoutes {
		r := routeResult{Route: route, Targets: nTargets[route], Statuses: map[string]int{}}
		var lat []time.Duration
		for _, s := range samples {
			if s.route != route {
				continue
			}
			r.Requests++
			r.Statuses[statusKey(s.status)]++
			if during(s) {
				continue
			}
			if s.status != http.StatusOK {
				r.Errors++
				if f := statusKey(s.status) + " " + s.path; len(r.Failed) < 5 && !slices.Contains(r.Failed, f) {
					r.Failed = append(r.Failed, f)
				}
			}
			lat = append(lat, s.end-s.start)
		}
		l := summarize(lat)
		r.P50, r.P99, r.Max = l.P50, l.P99, l.Max
		r.PerSecond = float64(len(lat)) / working.Seconds()
		measured += len(lat)
		rep.Routes = append(rep.Routes, r)
	}
	rep.PerSecond = float64(measured) / working.Seconds()
	if outage == nil {
		return
	}
	o := &outageResult{StartSeconds: outage.start.Seconds(), EndSeconds: outage.end.Seconds(), During: map[string]int{}, RecoverySeconds: -1}
	sorted := slices.Clone(samples)
	slices.SortFunc(sorted, func(a, b hit) int { return int(a.start - b.start) })
	var recovered time.Duration = -1
	for _, s := range sorted {
		switch {
		case during(s):
			o.During[statusKey(s.status)]++
			if s.status == http.StatusServiceUnavailable {
				o.Unavailable503++
				if !s.retryAfter {
					o.WithoutRetryAfter++
				}
			}
		case s.start >= outage.end && recovered < 0 && s.status == http.StatusOK:
			recovered = s.start
			o.RecoverySeconds = (s.end - outage.end).Seconds()
		case recovered >= 0 && s.start > recovered && s.status != http.StatusOK:
			o.FailuresAfterRecovery++
		}
	}
	rep.Outage = o
}

func statusKey(code int) string {
	if code == 0 {
		return "error"
	}
	return fmt.Sprint(code)
}

// write prints the Markdown report and writes load.md and load.json.
func (r *loadReport) write(stdout io.Writer, dir string) error {
	var md strings.Builder
	r.markdown(&md)
	fmt.Fprint(stdout, md.String())
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "load.json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "load.md"), []byte(md.String()), 0o644)
}

func (r *loadReport) markdown(w io.Writer) {
	fmt.Fprintf(w, "## archive-bench load: %s, %d clients for %.0f s\n\n", r.Database, r.Clients, r.DurationSeconds)
	fmt.Fprintf(w, "%s; **%d cores** (%s), %.1f GiB; %s.\n\n", r.Machine.OS, r.Machine.Cores, r.Machine.CPU, float64(r.Machine.MemoryBytes)/(1<<30), r.Machine.Go)
	fmt.Fprintf(w, "Dataset: %d events (%d messages) from %s, plus a hostile room (%s, squatting %s): %d messages of %d KiB (links, NULs, formatted bodies nested %d deep), %d reactions each. Import %.0f s, index %.0f s.\n\n",
		r.Dataset.Events, r.Dataset.Messages, r.Dataset.Source, r.Hostile.Room, r.Hostile.Alias, r.HostileMessages, r.Hostile.MessageBytes>>10, r.Hostile.Nesting, r.HostileReactions, r.ImportSeconds, r.IndexSeconds)
	if r.HostileShare >= 0 {
		fmt.Fprintf(w, "%.0f%% of requests go to the hostile room's routes.\n\n", 100*r.HostileShare)
	}
	fmt.Fprintf(w, "**%d requests, %.0f req/s; archive-web peak RSS %.0f MiB**; %d ERROR lines in its log.\n\n", r.Requests, r.PerSecond, mib(r.PeakRSSBytes), r.ServerErrors)
	if r.Outage != nil {
		fmt.Fprintln(w, "req/s and latencies leave out the requests that overlapped the database outage (they are in the answers column and below).")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| route | targets | requests | req/s | p50 ms | p99 ms | max ms | answers | errors |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
	for _, rt := range r.Routes {
		fmt.Fprintf(w, "| %s | %d | %d | %.1f | %s | %s | %s | %s | %d |\n", rt.Route, rt.Targets, rt.Requests, rt.PerSecond,
			num(rt.P50), num(rt.P99), num(rt.Max), statuses(rt.Statuses), rt.Errors)
	}
	for _, rt := range r.Routes {
		for _, f := range rt.Failed {
			fmt.Fprintf(w, "\n- %s failed: `%s`", rt.Route, strings.ReplaceAll(f, "`", "'"))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nErrors are answers other than 200 to requests that did not overlap the outage (targets were resolved to their final URL before the run, so 200 is the only right answer).")
	if o := r.Outage; o != nil {
		fmt.Fprintf(w, "\n**Database outage** from %.0f s to %.0f s: answers to the requests that overlapped it: %s; %d were 503, %d of them without Retry-After. ",
			o.StartSeconds, o.EndSeconds, statuses(o.During), o.Unavailable503, o.WithoutRetryAfter)
		if o.RecoverySeconds >= 0 {
			fmt.Fprintf(w, "First 200 %.2f s after the database returned; %d failures after that.\n", o.RecoverySeconds, o.FailuresAfterRecovery)
		} else {
			fmt.Fprintln(w, "**No 200 after the database returned.**")
		}
	}
	if len(r.ServerErrorLines) > 0 {
		fmt.Fprintf(w, "\narchive-web's ERROR lines (first %d of %d):\n", len(r.ServerErrorLines), r.ServerErrors)
		for _, l := range r.ServerErrorLines {
			fmt.Fprintf(w, "- `%s`\n", strings.ReplaceAll(l, "`", "'"))
		}
	}
	fmt.Fprintln(w, "\nSearch queries (each in relevance, newest and oldest order, on /search and /api/v1/search):")
	for _, q := range r.Queries {
		fmt.Fprintf(w, "- `%s`\n", strings.ReplaceAll(q, "`", "'"))
	}
	if len(r.Dropped) > 0 {
		fmt.Fprintf(w, "\n%d targets did not answer 200 before the run and were left out:\n", len(r.Dropped))
		for _, d := range r.Dropped[:min(20, len(r.Dropped))] {
			fmt.Fprintf(w, "- %s\n", d)
		}
	}
}

// statuses writes status counts as "200×950, 503×12".
func statuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
