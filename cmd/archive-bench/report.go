package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

type machineInfo struct {
	Cores       int        `json:"cores"`
	GOMAXPROCS  int        `json:"gomaxprocs"`
	CPU         string     `json:"cpu,omitempty"`
	MemoryBytes int64      `json:"memory_bytes,omitempty"`
	OS          string     `json:"os"`
	Go          string     `json:"go"`
	PostgreSQL  string     `json:"postgresql,omitempty"`
	Speed       speedGauge `json:"speed"`
}

type datasetInfo struct {
	Source   string `json:"source"`
	Events   int    `json:"events"`
	Messages int    `json:"messages"`
}

type settings struct {
	Runs            int    `json:"max_runs_per_query"`
	CellTime        string `json:"time_per_query_class"`
	Clients         int    `json:"clients"`
	ConcurrentTime  string `json:"concurrent_time"`
	AckTransactions int    `json:"ack_transactions"`
	Redactions      int    `json:"redactions"`
	PageSize        int    `json:"page_size"`
	PGRankLimit     int    `json:"postgres_rank_limit"`
}

// cell is one query class in one sort on one system.
type cell struct {
	Class   string `json:"class"`
	Sort    string `json:"sort"`
	Results int    `json:"results"` // rows of the last run (a page), or all matches for the linear scan
	latency
}

type oursResult struct {
	Database            string  `json:"database"`
	Messages            int     `json:"messages_indexed"`
	ImportSeconds       float64 `json:"import_seconds"`
	IndexSeconds        float64 `json:"index_seconds"`
	StoredPerSecond     float64 `json:"import_stored_per_second"`
	SearchablePerSecond float64 `json:"import_searchable_per_second"`
	// Following*: a second import into a fresh store while archive-web
	// runs and follows the change feed (measureFollowing), what an
	// operator sees; searchable once its index holds the whole feed.
	FollowingImportSeconds       float64    `json:"following_import_seconds,omitempty"`
	FollowingSearchableSeconds   float64    `json:"following_searchable_seconds,omitempty"`
	FollowingSearchablePerSecond float64    `json:"following_searchable_per_second,omitempty"`
	FollowingPeakRSSBytes        int64      `json:"following_web_peak_rss_bytes,omitempty"`
	IndexBytes                   int64      `json:"index_bytes"`
	IndexBytesPerMessage         float64    `json:"index_bytes_per_message"`
	Search                       []cell     `json:"search"`
	Concurrent                   throughput `json:"search_concurrent"`
	Ack                          latency    `json:"appservice_ack_100_events"`
	DayPage                      latency    `json:"day_page"`
	DayPath                      string     `json:"day_page_path"`
	DayPageBytes                 int        `json:"day_page_bytes"`
	DayPageConcurrent            throughput `json:"day_page_concurrent"`
	// DayPageMessages is how many messages the day page shows (of the
	// day's Day.Messages: archive-web splits a day into pages).
	DayPageMessages int `json:"day_page_messages"`
	// DayPageFirstMS is one sample: the process's first page request (it
	// has answered only searches and a redirect before), which also pays
	// for what the process does once.
	DayPageFirstMS float64 `json:"day_page_first_ms"`
	// FloorPage and FloorPageConcurrent: the day page's bytes served from
	// memory by a bare net/http handler (measureFloor), the physical limit.
	FloorPage           latency    `json:"floor_page"`
	FloorPageConcurrent throughput `json:"floor_page_concurrent"`
	// Pages are the day's other pages, measured like the day page.
	Pages []pageResult `json:"pages"`
	// Cold is the first request of distinct pages of each kind
	// (measureCold).
	Cold         []coldResult `json:"first_requests"`
	Searchable   latency      `json:"new_message_searchable"`
	Redaction    latency      `json:"redaction_propagation"`
	PeakRSSBytes int64        `json:"archive_web_peak_rss_bytes"`
	// StartRSSBytes is archive-web's RSS once it answered, before the
	// measurements; PeakAnonBytes the peak of its anonymous part (the
	// rest of PeakRSSBytes is file pages mapped in).
	StartRSSBytes int64 `json:"archive_web_start_rss_bytes"`
	PeakAnonBytes int64 `json:"archive_web_peak_anon_bytes"`
	// ReindexPeakRSSBytes is archive-web's peak RSS while it built the
	// index (`archive-web reindex`), ReindexPeakAnonBytes its anonymous
	// part (the rest is file pages mapped in).
	ReindexPeakRSSBytes  int64 `json:"reindex_peak_rss_bytes"`
	ReindexPeakAnonBytes int64 `json:"reindex_peak_anon_bytes"`
}

// pageResult is one page measured like the day page (measurePages).
type pageResult struct {
	Name       string     `json:"name"`
	Path       string     `json:"path"`
	FirstMS    float64    `json:"first_ms"` // the page's first request: one sample, after the day page
	Latency    latency    `json:"latency"`
	Bytes      int        `json:"bytes"`
	Concurrent throughput `json:"concurrent"`
}

type peerResult struct {
	Name            string     `json:"name"`
	BuildSeconds    float64    `json:"build_seconds"`
	SizeBytes       int64      `json:"size_bytes"`
	BytesPerMessage float64    `json:"bytes_per_message"`
	Search          []cell     `json:"search"`
	Concurrent      throughput `json:"search_concurrent"`
}

type linearResult struct {
	Name   string `json:"name"`
	Search []cell `json:"search"`
}

type report struct {
	Machine  machineInfo  `json:"machine"`
	Started  string       `json:"started"`
	Seconds  float64      `json:"seconds"`
	Scale    int          `json:"scale"`
	Dataset  datasetInfo  `json:"dataset"`
	Settings settings     `json:"settings"`
	Queries  []queryClass `json:"queries"`
	Day      dayInfo      `json:"day_page"`
	Ours     []oursResult `json:"ours"`
	Peers    []peerResult `json:"peers"`
	Linear   linearResult `json:"linear_scan"`
}

// write prints the Markdown report and, with dir, writes it with the JSON
// and the chart.
func (r *report) write(stdout io.Writer, dir string) error {
	var md bytes.Buffer
	r.markdown(&md)
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"bench.md": md.Bytes(), "bench.json": append(js, '\n'), "bench.svg": r.svg()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nWritten: %s, %s and %s\n", filepath.Join(dir, "bench.md"), filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.svg"))
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func pp(l latency) string {
	if l.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s", num(l.P50), num(l.P99))
}

// num formats milliseconds with sensible precision.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(peer, ours float64) string {
	if ours <= 0 || peer <= 0 {
		return "–"
	}
	r := peer / ours
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	case r < 0.1:
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

func (r *report) find(sys []cell, class, sort string) (cell, bool) {
	for _, c := range sys {
		if c.Class == class && c.Sort == sort {
			return c, true
		}
	}
	return cell{}, false
}

func (r *report) oursOn(db string) (oursResult, bool) {
	for _, o := range r.Ours {
		if o.Database == db {
			return o, true
		}
	}
	return oursResult{}, false
}

// peerBase is the database ours is compared against for a peer: the same
// engine when measured, else the first.
func (r *report) peerBase(p peerResult) oursResult {
	db := "sqlite"
	if strings.HasPrefix(p.Name, "PostgreSQL") {
		db = "postgres"
	}
	if o, ok := r.oursOn(db); ok {
		return o
	}
	return r.Ours[0]
}

func (r *report) markdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "# mxarchive benchmark\n\n")
	fmt.Fprintf(w, "Machine: **%d cores** (GOMAXPROCS %d), %s, %.1f GiB, %s, %s", m.Cores, m.GOMAXPROCS, m.CPU, float64(m.MemoryBytes)/(1<<30), m.OS, m.Go)
	if m.PostgreSQL != "" {
		fmt.Fprintf(w, ", PostgreSQL %s", m.PostgreSQL)
	}
	fmt.Fprintf(w, ".\nAbsolute numbers vary from machine to machine; the ratios, measured in one run on the same data, are what count.\n\n")
	fmt.Fprint(w, m.Speed.speedLine())
	fmt.Fprintf(w, "Data: %d events (%d messages) replayed from %s. Run started %s and took %.0f s.\n\n",
		r.Dataset.Events, r.Dataset.Messages, r.Dataset.Source, r.Started, r.Seconds)
	if len(r.Ours) == 0 {
		return
	}

	fmt.Fprintf(w, "## Ours: ingest, pages, propagation, memory\n\n|  |")
	for _, o := range r.Ours {
		fmt.Fprintf(w, " %s |", o.Database)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(r.Ours)))
	row := func(label string, f func(o oursResult) string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, o := range r.Ours {
			fmt.Fprintf(w, " %s |", f(o))
		}
		fmt.Fprintln(w)
	}
	row("import: stored (messages/s)", func(o oursResult) string { return fmt.Sprintf("%.0f", o.StoredPerSecond) })
	row("import: searchable, import then `archive-web reindex` (messages/s; the target is read against this row)", func(o oursResult) string {
		return fmt.Sprintf("%.0f%s", o.SearchablePerSecond, meets(o.SearchablePerSecond >= targetSearchablePerSecond, "≥ 15,000"))
	})
	if r.Ours[0].FollowingSearchableSeconds > 0 {
		row("import with archive-web following: stored; searchable (messages/s; archive-web peak RSS, MiB)", func(o oursResult) string {
			if o.FollowingSearchableSeconds <= 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f; %.0f%s (%.0f)", float64(r.Dataset.Messages)/o.FollowingImportSeconds, o.FollowingSearchablePerSecond,
				meets(o.FollowingSearchablePerSecond >= targetSearchablePerSecond, "≥ 15,000"), float64(o.FollowingPeakRSSBytes)/(1<<20))
		})
	}
	row("appservice ack, 100-event transaction, p50 / p99 ms", func(o oursResult) string { return pp(o.Ack) })
	row(fmt.Sprintf("%s, first request after start (the process's first page; one sample), ms", dayPageName(r)), func(o oursResult) string { return num(o.DayPageFirstMS) })
	if len(r.Ours) > 0 {
		for i, cr := range r.Ours[0].Cold {
			row(fmt.Sprintf("%s, first request of %d distinct pages (nothing cached for them), p50 / p99 ms (messages; archive-web's CPU ms and page faults a page)", cr.Name, cr.N), func(o oursResult) string {
				if i < len(o.Cold) && o.Cold[i].Name == cr.Name {
					c := o.Cold[i]
					cost := ""
					if c.ServerCPUMS >= 0 {
						cost = fmt.Sprintf("; %s ms, %.0f faults", num(c.ServerCPUMS), c.Faults)
					}
					return fmt.Sprintf("%s (%d–%d messages%s)", pp(c.latency), c.MinMessages, c.MaxMessages, cost)
				}
				return "–"
			})
		}
	}
	row(fmt.Sprintf("%s, p50 / p99 ms", dayPageName(r)), func(o oursResult) string { return pp(o.DayPage) })
	row(fmt.Sprintf("day page, %d clients (requests/s)", r.Settings.Clients), func(o oursResult) string {
		return fmt.Sprintf("%.0f (p99 %s ms)", o.DayPageConcurrent.PerSec, num(o.DayPageConcurrent.P99))
	})
	row("floor: the same bytes from memory, bare net/http, p50 / p99 ms (day page ÷ floor, p50)", func(o oursResult) string {
		return fmt.Sprintf("%s (%s)", pp(o.FloorPage), ratio(o.DayPage.P50, o.FloorPage.P50))
	})
	row(fmt.Sprintf("floor, %d clients (requests/s; floor ÷ day page)", r.Settings.Clients), func(o oursResult) string {
		return fmt.Sprintf("%.0f (%s)", o.FloorPageConcurrent.PerSec, ratio(o.FloorPageConcurrent.PerSec, o.DayPageConcurrent.PerSec))
	})
	if len(r.Ours) > 0 {
		for i, p := range r.Ours[0].Pages {
			page := func(o oursResult) *pageResult {
				if i < len(o.Pages) && o.Pages[i].Name == p.Name {
					return &o.Pages[i]
				}
				return nil
			}
			row(p.Name+": first request (one sample, after the day page), ms / then p50 / p99 ms", func(o oursResult) string {
				if pr := page(o); pr != nil {
					return num(pr.FirstMS) + " / " + pp(pr.Latency)
				}
				return "–"
			})
			row(fmt.Sprintf("%s, %d clients (requests/s)", p.Name, r.Settings.Clients), func(o oursResult) string {
				if pr := page(o); pr != nil {
					return fmt.Sprintf("%.0f (p99 %s ms)", pr.Concurrent.PerSec, num(pr.Concurrent.P99))
				}
				return "–"
			})
		}
	}
	row("new message searchable (transaction → search hit), p50 / p99 ms", func(o oursResult) string {
		return pp(o.Searchable) + meets(o.Searchable.P99 <= targetSearchableP99, "p99 ≤ 500")
	})
	row("redaction gone from search and page (transaction → gone), p50 / p99 ms", func(o oursResult) string {
		return pp(o.Redaction) + meets(o.Redaction.P99 <= targetRedactionP99, "p99 ≤ 100")
	})
	row("archive-web peak RSS (MiB); at start; anonymous part", func(o oursResult) string {
		return fmt.Sprintf("%.0f%s; %.0f; %.0f", mib(o.PeakRSSBytes), meets(o.PeakRSSBytes <= targetPeakRSS, "≤ 300 MB"), mib(o.StartRSSBytes), mib(o.PeakAnonBytes))
	})
	row("archive-web peak RSS while indexing (reindex), MiB; anonymous part", func(o oursResult) string {
		return fmt.Sprintf("%.0f%s; %.0f", mib(o.ReindexPeakRSSBytes), meets(o.ReindexPeakRSSBytes <= targetPeakRSS, "≤ 300 MB"), mib(o.ReindexPeakAnonBytes))
	})
	row("index size (bytes/message)", func(o oursResult) string {
		return fmt.Sprintf("%.0f%s", o.IndexBytesPerMessage, meets(o.IndexBytesPerMessage <= targetIndexBytes, "≤ 400"))
	})

	fmt.Fprintf(w, "\n## Search latency, one client: p50 / p99 ms (ratio: peer ÷ ours on the same database, p50 / p99; above 1 means ours is faster)\n\n")
	fmt.Fprintf(w, "| query | sort | target p99 ms |")
	for _, o := range r.Ours {
		fmt.Fprintf(w, " ours (%s) |", o.Database)
	}
	for _, p := range r.Peers {
		fmt.Fprintf(w, " %s | ratio |", p.Name)
	}
	fmt.Fprintf(w, " %s, p50 |\n|---|---|---|%s%s---|\n", r.Linear.Name, strings.Repeat("---|", len(r.Ours)), strings.Repeat("---|---|", len(r.Peers)))
	for _, q := range r.Queries {
		for _, sort := range sorts {
			limit := targetSearchP99(q, sort)
			fmt.Fprintf(w, "| %s | %s | ≤ %s |", q.Name, sort, num(limit))
			for _, o := range r.Ours {
				c, _ := r.find(o.Search, q.Name, sort)
				fmt.Fprintf(w, " %s%s |", pp(c.latency), meets(c.P99 <= limit, ""))
			}
			for _, p := range r.Peers {
				c, _ := r.find(p.Search, q.Name, sort)
				base, _ := r.find(r.peerBase(p).Search, q.Name, sort)
				fmt.Fprintf(w, " %s | %s / %s |", pp(c.latency), ratio(c.P50, base.P50), ratio(c.P99, base.P99))
			}
			if c, ok := r.find(r.Linear.Search, q.Name, sortNewest); ok && sort == sortNewest {
				fmt.Fprintf(w, " %s (%d matches) |\n", num(c.P50), c.Results)
			} else {
				fmt.Fprintf(w, " |\n")
			}
		}
	}

	fmt.Fprintf(w, "\n## Search with %d concurrent clients, whole mix (every sort)\n\n| system | queries/s | p50 ms | p99 ms |\n|---|---|---|---|\n", r.Settings.Clients)
	for _, o := range r.Ours {
		fmt.Fprintf(w, "| ours (%s) | %.0f | %s | %s |\n", o.Database, o.Concurrent.PerSec, num(o.Concurrent.P50), num(o.Concurrent.P99))
	}
	for _, p := range r.Peers {
		fmt.Fprintf(w, "| %s | %.0f | %s | %s |\n", p.Name, p.Concurrent.PerSec, num(p.Concurrent.P50), num(p.Concurrent.P99))
	}

	fmt.Fprintf(w, "\n## Index size and build time\n\n| system | bytes/message | total MiB | build s |\n|---|---|---|---|\n")
	for _, o := range r.Ours {
		fmt.Fprintf(w, "| ours, Bleve (%s store) | %.0f | %.1f | %.1f (import %.1f + index %.1f) |\n", o.Database, o.IndexBytesPerMessage, mib(o.IndexBytes),
			o.ImportSeconds+o.IndexSeconds, o.ImportSeconds, o.IndexSeconds)
	}
	for _, p := range r.Peers {
		fmt.Fprintf(w, "| %s | %.0f | %.1f | %.1f |\n", p.Name, p.BytesPerMessage, mib(p.SizeBytes), p.BuildSeconds)
	}

	fmt.Fprintf(w, "\n## The query mix\n\n| class | ours | PostgreSQL websearch_to_tsquery | FTS5 MATCH |\n|---|---|---|---|\n")
	for _, q := range r.Queries {
		fmt.Fprintf(w, "| %s | `%s` | `%s` | `%s` |\n", q.Name, q.Ours, q.Web, q.FTS5)
	}
	fmt.Fprintf(w, "\nFilters (room, sender, date) are SQL conditions for the peers. Ours and FTS5 fetch a page of %d; "+
		"PostgreSQL ranks the best %d as Synapse does and fetches %d newest first; Synapse's extra count query is not run. "+
		"Ours re-checks every hit against the store and reads its current text; the peers return row IDs only. "+
		"Each cell: at most %d runs and about %s after 20, after two warm-up runs. The day page is %s (%s), read over HTTP from a running archive-web "+
		"with day pages of %d events (web.day_page_size); the first requests of distinct pages are of the days nearest %d messages, "+
		"and the messages each kind's pages show are counted in their bodies. Every request asks for the identity coding "+
		"(the client inflating gzip would take the cores archive-web is measured on) but the first requests of \"day page, gzip\", "+
		"which ask for gzip as browsers and most crawlers do: archive-web compresses each page as it first sends it.\n",
		r.Settings.PageSize, r.Settings.PGRankLimit, r.Settings.PageSize, r.Settings.Runs, r.Settings.CellTime, r.Ours[0].DayPath, dayPageMessages(r),
		benchDayPageSize, dayTarget)
}

// dayPageName names the day page the report measures, with the messages
// it shows and the day's.
func dayPageName(r *report) string { return "day page (" + dayPageMessages(r) + ")" }

func dayPageMessages(r *report) string {
	if len(r.Ours) == 0 || r.Ours[0].DayPageMessages == r.Day.Messages {
		return fmt.Sprintf("%d messages", r.Day.Messages)
	}
	return fmt.Sprintf("%d messages of the day's %d", r.Ours[0].DayPageMessages, r.Day.Messages)
}

// svg draws each query's p50 and p99 per system on a logarithmic scale.
func (r *report) svg() []byte {
	type series struct {
		name  string
		cells []cell
	}
	var sys []series
	for _, o := range r.Ours {
		sys = append(sys, series{"ours (" + o.Database + ")", o.Search})
	}
	for _, p := range r.Peers {
		sys = append(sys, series{p.Name, p.Search})
	}
	colors := []string{"#1b7837", "#5aae61", "#2166ac", "#b2182b", "#762a83"}
	const left, width, rowH, barH = 230, 600, 14, 4
	lo, hi := 0.01, 1000.0
	x := func(v float64) float64 {
		v = math.Min(math.Max(v, lo), hi)
		return left + width*(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	rows := len(r.Queries) * len(sorts)
	height := 60 + rows*(len(sys)*barH+rowH) + 20*len(sys)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", left+width+40, height)
	fmt.Fprintf(&b, `<text x="10" y="16" font-size="13">Search latency, ms (log scale): bar to p50, whisker to p99</text>`+"\n")
	for v := lo; v <= hi; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="26" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="24" text-anchor="middle">%g</text>`+"\n", x(v), x(v), height-20*len(sys), x(v), v)
	}
	y := 34
	for _, q := range r.Queries {
		for _, sort := range sorts {
			fmt.Fprintf(&b, `<text x="10" y="%d">%s, %s</text>`+"\n", y+len(sys)*barH/2+4, html.EscapeString(q.Name), sort)
			for i, s := range sys {
				c, ok := r.find(s.cells, q.Name, sort)
				if ok && c.N > 0 {
					yy := y + i*barH
					fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, yy, x(c.P50)-left, barH-1, colors[i%len(colors)])
					fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(c.P50), float64(yy)+1.5, x(c.P99), float64(yy)+1.5, colors[i%len(colors)])
				}
			}
			y += len(sys)*barH + rowH
		}
	}
	for i, s := range sys {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", left, y+i*20, colors[i%len(colors)], left+16, y+i*20+9, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// The targets (2 cores, 1M and 3M messages), printed next to the
// figures so a run says at a glance which hold.
const (
	targetSearchablePerSecond = 15_000
	targetSearchableP99       = 500 // ms
	targetRedactionP99        = 100 // ms
	targetPeakRSS             = 300 << 20
	targetIndexBytes          = 400 // per message
)

// targetSearchP99 is the p99 a query class must stay within, in ms:
// 5 ms newest or oldest first, 10 ms with a date range, 25 ms by relevance.
func targetSearchP99(q queryClass, sort string) float64 {
	switch {
	case sort == sortRank:
		return 25
	case q.from != 0 || q.to != 0 || q.Name == "date range":
		return 10
	}
	return 5
}

// meets marks a figure against its target: "met" or "NOT met", with the
// target when given.
func meets(ok bool, target string) string {
	word := "met"
	if !ok {
		word = "NOT met"
	}
	if target == "" {
		return " (" + word + ")"
	}
	return " (target " + target + ": " + word + ")"
}
