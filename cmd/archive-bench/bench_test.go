package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

var webBin, webBuildErr = "", error(nil)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "archive-bench-test-")
	if err == nil {
		webBin = filepath.Join(dir, "archive-web")
		if out, berr := exec.Command("go", "build", "-o", webBin, "github.com/mxarchive/mxarchive/cmd/archive-web").CombinedOutput(); berr != nil {
			webBuildErr = fmt.Errorf("go build archive-web: %v\n%s", berr, out)
		}
	} else {
		webBuildErr = err
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// Replaying a file to a larger size makes distinct copies whose relations
// still point inside their own copy, and the importer takes every event.
func TestReplayScalesAFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var buf bytes.Buffer
	const n = 500
	written, err := replaySample(ctx, &buf, dir, n)
	if err != nil || written != n {
		t.Fatalf("replaySample = %d, %v; want %d", written, err, n)
	}
	type ev struct {
		ID      string `json:"event_id"`
		Room    string `json:"room_id"`
		TS      int64  `json:"origin_server_ts"`
		Content struct {
			Relates struct {
				EventID string `json:"event_id"`
				ReplyTo struct {
					EventID string `json:"event_id"`
				} `json:"m.in_reply_to"`
			} `json:"m.relates_to"`
			Alias string `json:"alias"`
		} `json:"content"`
	}
	var evs []ev
	ids, rooms, aliases := map[string]bool{}, map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e ev
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if ids[e.ID] {
			t.Errorf("event ID %s repeats", e.ID)
		}
		ids[e.ID], rooms[e.Room] = true, true
		if e.Content.Alias != "" {
			if aliases[e.Content.Alias] {
				t.Errorf("alias %s repeats", e.Content.Alias)
			}
			aliases[e.Content.Alias] = true
		}
		evs = append(evs, e)
	}
	if len(evs) != n {
		t.Fatalf("%d events written, want %d", len(evs), n)
	}
	// 190 events in two rooms: three copies (the third cut short).
	if len(rooms) != 6 {
		t.Errorf("%d rooms, want 6: %v", len(rooms), rooms)
	}
	for _, e := range evs {
		for _, ref := range []string{e.Content.Relates.EventID, e.Content.Relates.ReplyTo.EventID} {
			if ref == "" {
				continue
			}
			if !ids[ref] {
				t.Errorf("%s relates to %s, which is not in the output", e.ID, ref)
			}
			copyOf := func(s string) string {
				local, _, _ := strings.Cut(s, ":")
				if i := strings.LastIndex(local, "-"); i > 0 && strings.Trim(local[i+1:], "0123456789") == "" {
					return local[i+1:]
				}
				return "0"
			}
			if copyOf(ref) != copyOf(e.Room) {
				t.Errorf("%s in %s relates to %s of another copy", e.ID, e.Room, ref)
			}
		}
	}
	first, second := evs[0], evs[190]
	if second.Room != strings.Replace(first.Room, ":", "-1:", 1) || second.TS <= first.TS {
		t.Errorf("copy 1 starts with %+v, copy 0 with %+v", second, first)
	}

	path := filepath.Join(dir, "scaled.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, "sqlite")
	rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(ctx, path, ingest.ImportOptions{})
	if err != nil || len(rep.Rejected) > 0 || rep.Stored != n || len(rep.Rooms) != 6 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
}

// The query mix taken from data that is not the Ubuntu corpus still finds
// something in every class.
func TestQueryMixFromOtherData(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := replaySample(ctx, &buf, t.TempDir(), 190); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.ndjson")
	os.WriteFile(path, buf.Bytes(), 0o600)
	msgs, err := readMessages(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ls := newLinearScan(msgs)
	for _, c := range queryMix(msgs) {
		if n := ls.search(c); n == 0 {
			t.Errorf("%s (%q) matches nothing", c.Name, c.Ours)
		}
	}
}

// A whole run at a small scale, on both databases and both peers: every
// figure of the report is measured.
func TestRunMeasuresEverything(t *testing.T) {
	if webBuildErr != nil {
		t.Fatal(webBuildErr)
	}
	pg := pgtest.NewDatabase(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	const redactions, acks = 2, 3
	err := run(context.Background(), []string{"run", "-scale", "3000",
		"-postgres", pg, "-runs", "5", "-cell-time", "100ms", "-concurrent-time", "300ms", "-clients", "3",
		"-ack-txns", fmt.Sprint(acks), "-redactions", fmt.Sprint(redactions), "-web", webBin, "-o", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Machine.Cores <= 0 || rep.Dataset.Events != 3000 || rep.Dataset.Messages == 0 || len(rep.Queries) != 7 {
		t.Errorf("report header: %+v %+v, %d queries", rep.Machine, rep.Dataset, len(rep.Queries))
	}
	if sp := rep.Machine.Speed; sp.StartMS <= 0 || sp.EndMS <= 0 {
		t.Errorf("the machine's speed was not gauged: %+v", sp)
	}
	if len(rep.Ours) != 2 || len(rep.Peers) != 2 || len(rep.Linear.Search) != 7 {
		t.Fatalf("ours %d, peers %d, linear %d; want 2, 2, 7", len(rep.Ours), len(rep.Peers), len(rep.Linear.Search))
	}
	for _, o := range rep.Ours {
		if o.StoredPerSecond <= 0 || o.SearchablePerSecond <= 0 || o.Messages == 0 || o.IndexBytesPerMessage <= 0 || o.PeakRSSBytes <= 0 ||
			o.StartRSSBytes <= 0 || o.PeakAnonBytes <= 0 || o.PeakRSSBytes < o.PeakAnonBytes || o.PeakRSSBytes < o.StartRSSBytes ||
			o.ReindexPeakRSSBytes < o.ReindexPeakAnonBytes || o.ReindexPeakAnonBytes <= 0 {
			t.Errorf("%s: import/index/memory figures missing: %+v", o.Database, o)
		}
		if o.Ack.N != acks || o.Searchable.N != redactions || o.Redaction.N != redactions || o.DayPage.N == 0 ||
			o.DayPageConcurrent.Ops == 0 || o.Concurrent.Ops == 0 || o.Redaction.P50 <= 0 {
			t.Errorf("%s: latency figures missing: ack %+v searchable %+v redaction %+v day %+v", o.Database, o.Ack, o.Searchable, o.Redaction, o.DayPage)
		}
		// The import again, with archive-web following it: searchable
		// no sooner than stored.
		if o.FollowingImportSeconds <= 0 || o.FollowingSearchableSeconds < o.FollowingImportSeconds ||
			o.FollowingSearchablePerSecond <= 0 || o.FollowingPeakRSSBytes <= 0 {
			t.Errorf("%s: import with archive-web following: %.3f s stored, %.3f s searchable (%.0f/s), peak RSS %d", o.Database,
				o.FollowingImportSeconds, o.FollowingSearchableSeconds, o.FollowingSearchablePerSecond, o.FollowingPeakRSSBytes)
		}
		checkCells(t, "ours on "+o.Database, o.Search)
		// The day's other pages, each measured like the day page.
		var names []string
		for _, p := range o.Pages {
			names = append(names, p.Name)
			if p.FirstMS <= 0 || p.Latency.N == 0 || p.Concurrent.Ops == 0 || p.Bytes == 0 {
				t.Errorf("%s: %s figures missing: %+v", o.Database, p.Name, p)
			}
		}
		if got := strings.Join(names, ", "); got != fmt.Sprintf("text log, JSON day, permalink, thread page (%d replies)", threadReplies) {
			t.Errorf("%s: pages measured: %s", o.Database, got)
		}
		// The first requests of distinct pages, every kind measured.
		names = nil
		for _, c := range o.Cold {
			names = append(names, c.Name)
			if c.N == 0 || c.P50 <= 0 || c.MinMessages <= 0 || c.MaxMessages < c.MinMessages {
				t.Errorf("%s: first requests of %s: %+v", o.Database, c.Name, c)
			}
			if runtime.GOOS == "linux" && (c.ServerCPUMS <= 0 || c.Faults < 0) {
				t.Errorf("%s: archive-web's cost of the first requests of %s not read: %+v", o.Database, c.Name, c)
			}
		}
		if got := strings.Join(names, ", "); got != fmt.Sprintf("day page, text log, JSON day, permalink, day page, gzip, thread page (%d replies)", threadReplies) {
			t.Errorf("%s: first requests measured: %s", o.Database, got)
		}
	}
	for _, p := range rep.Peers {
		if p.SizeBytes <= 0 || p.Concurrent.Ops == 0 {
			t.Errorf("%s: %+v", p.Name, p)
		}
		checkCells(t, p.Name, p.Search)
	}
	md, _ := os.ReadFile(filepath.Join(out, "bench.md"))
	svg, _ := os.ReadFile(filepath.Join(out, "bench.svg"))
	for _, want := range []string{"| common term | newest |", "| common term | oldest |", "import with archive-web following", "SQLite FTS5", "PostgreSQL FTS (Synapse)", "2 cores", "cores", "fixed single-core workload"} {
		if want == "2 cores" {
			want = fmt.Sprintf("**%d cores**", rep.Machine.Cores)
		}
		if !bytes.Contains(md, []byte(want)) || !strings.Contains(stdout.String(), want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
	if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("common term")) {
		t.Errorf("bench.svg is not the chart: %.200s", svg)
	}
}

func checkCells(t *testing.T, who string, cells []cell) {
	t.Helper()
	if want := 7 * len(sorts); len(cells) != want {
		t.Errorf("%s: %d cells, want %d", who, len(cells), want)
	}
	for _, c := range cells {
		if c.N == 0 || c.P50 <= 0 {
			t.Errorf("%s: %s/%s not measured: %+v", who, c.Class, c.Sort, c.latency)
		}
		if c.Class == "common term" && c.Results == 0 {
			t.Errorf("%s: the common term found nothing", who)
		}
	}
}

// A short load run on PostgreSQL with the database stopped for its middle
// third: every route is hit, nothing but 200 outside the outage, 503s with
// Retry-After during it, and archive-web answers again by itself after.
func TestLoadRunSurvivesAnOutage(t *testing.T) {
	if webBuildErr != nil {
		t.Fatal(webBuildErr)
	}
	pg := pgtest.NewDatabase(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "-scale", "3000",
		"-db", "postgres", "-postgres", pg, "-clients", "4", "-duration", "12s", "-outage",
		"-hostile-messages", "8", "-hostile-reactions", "5", "-hostile-kb", "4", "-squat=false", "-web", webBin, "-o", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "load.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep loadReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Dropped) > 0 {
		t.Errorf("targets left out: %v", rep.Dropped)
	}
	if len(rep.Queries) < 5 {
		t.Errorf("only %d search queries: %v", len(rep.Queries), rep.Queries)
	}
	if len(rep.Routes) != len(loadRoutes) {
		t.Fatalf("%d routes reported, want %d", len(rep.Routes), len(loadRoutes))
	}
	for _, r := range rep.Routes {
		if r.Requests == 0 || r.P50 <= 0 {
			t.Errorf("route %s was not measured: %+v", r.Route, r)
		}
		if r.Errors > 0 {
			t.Errorf("route %s: %d answers other than 200 outside the outage: %v", r.Route, r.Errors, r.Statuses)
		}
	}
	o := rep.Outage
	if o == nil {
		t.Fatal("no outage in the report")
	}
	if o.Unavailable503 == 0 || o.WithoutRetryAfter > 0 || o.During["500"] > 0 {
		t.Errorf("during the outage: %v, %d without Retry-After; want 503s with Retry-After and no 500", o.During, o.WithoutRetryAfter)
	}
	if o.RecoverySeconds < 0 || o.FailuresAfterRecovery > 0 {
		t.Errorf("after the outage: first 200 after %.2f s, then %d failures; want recovery", o.RecoverySeconds, o.FailuresAfterRecovery)
	}
	if rep.PeakRSSBytes <= 0 || rep.Requests == 0 {
		t.Errorf("requests %d, peak RSS %d", rep.Requests, rep.PeakRSSBytes)
	}
	md, _ := os.ReadFile(filepath.Join(out, "load.md"))
	for _, want := range []string{"| route | targets | requests | req/s | p50 ms | p99 ms |", "| hostile day page |", "Database outage", "peak RSS"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("load.md lacks %q", want)
		}
	}
}

// -data keeps the imported archive, and a second run on it skips the
// import and measures the same archive.
func TestLoadReusesData(t *testing.T) {
	if webBuildErr != nil {
		t.Fatal(webBuildErr)
	}
	data := t.TempDir()
	var reports []loadReport
	for i := range 2 {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"load", "-scale", "2000",
			"-db", "sqlite", "-data", data, "-clients", "2", "-duration", "1s",
			"-hostile-messages", "2", "-hostile-reactions", "2", "-hostile-share", "0", "-web", webBin, "-o", out}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, stderr.String())
		}
		if imported := strings.Contains(stderr.String(), "importing"); imported != (i == 0) {
			t.Errorf("run %d imported: %v\n%s", i, imported, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "load.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep loadReport
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	a, b := reports[0], reports[1]
	if a.Dataset != b.Dataset || a.Hostile.Room != b.Hostile.Room || b.Requests == 0 || b.ImportSeconds != a.ImportSeconds {
		t.Errorf("the second run measured another archive: %+v / %+v, %d requests", a.Dataset, b.Dataset, b.Requests)
	}
	for _, r := range b.Routes {
		if strings.HasPrefix(r.Route, "hostile ") && r.Requests > 0 {
			t.Errorf("-hostile-share 0 sent %d requests to %s", r.Requests, r.Route)
		}
	}
}

// The load summary excuses exactly the requests that overlapped the
// outage, names the failures outside it, and times the recovery from the
// database's return.
func TestSummarizeLoad(t *testing.T) {
	s := func(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }
	outage := &outageWindow{start: s(10), end: s(20)}
	hits := []hit{
		{route: "day page", path: "/a", status: 200, start: s(1), end: s(2)},
		{route: "day page", path: "/b", status: 500, start: s(3), end: s(4)},                    // before: an error
		{route: "day page", path: "/a", status: 503, retryAfter: true, start: s(9), end: s(11)}, // overlaps the start: excused
		{route: "day page", path: "/a", status: 503, retryAfter: true, start: s(12), end: s(12.1)},
		{route: "day page", path: "/a", status: 503, start: s(13), end: s(13.1)},                     // no Retry-After
		{route: "day page", path: "/a", status: 503, retryAfter: true, start: s(20.2), end: s(20.3)}, // after, not yet back
		{route: "day page", path: "/a", status: 200, start: s(20.4), end: s(21)},                     // first 200: recovered 1 s after
		{route: "search", path: "/search?q=x", status: 503, start: s(22), end: s(23)},                // after recovery: a failure
	}
	rep := &loadReport{}
	summarizeLoad(rep, []target{{"day page", "/a"}, {"day page", "/b"}, {"search", "/search?q=x"}}, hits, s(30), outage)
	day, search := rep.Routes[1], rep.Routes[4]
	if day.Route != "day page" || search.Route != "search" {
		t.Fatalf("routes out of order: %v %v", day.Route, search.Route)
	}
	if day.Requests != 7 || day.Errors != 2 || !slices.Equal(day.Failed, []string{"500 /b", "503 /a"}) {
		t.Errorf("day page: %d requests, %d errors %v; want 7, 2 [500 /b, 503 /a]", day.Requests, day.Errors, day.Failed)
	}
	if search.Errors != 1 {
		t.Errorf("search: %d errors, want 1", search.Errors)
	}
	o := rep.Outage
	if o.Unavailable503 != 3 || o.WithoutRetryAfter != 1 || o.During["503"] != 3 {
		t.Errorf("outage: %+v", o)
	}
	if o.RecoverySeconds < 0.99 || o.RecoverySeconds > 1.01 || o.FailuresAfterRecovery != 1 {
		t.Errorf("recovery after %.2f s with %d failures; want 1 s and 1", o.RecoverySeconds, o.FailuresAfterRecovery)
	}
	// 5 requests outside a 10 s outage in a 30 s run.
	if want := 5.0 / 20; rep.PerSecond != want {
		t.Errorf("req/s = %v, want %v", rep.PerSecond, want)
	}
}
