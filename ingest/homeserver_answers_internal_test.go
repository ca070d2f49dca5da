package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Tests of how the archiver copes with the homeserver's own answers to its
// calls: empty pages that are not the end, positions that never end, /sync
// answers that name no next position or are larger than the client reads.

const (
	answersBot  = "@archive:example.org"
	answersRoom = "!answers:example.org"
)

// answersLine is one event of answersRoom in the client format; stateKey
// "-" makes a message event.
func answersLine(evID, typ string, ts int64, stateKey, content string) string {
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
	}
	return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":"@alice:example.org","origin_server_ts":%d%s,"content":%s}`,
		evID, answersRoom, typ, ts, sk, content)
}

// filteredRoom pages a room's timeline as Synapse does
// (synapse/handlers/pagination.py, get_messages): a page is read, then the
// events the bot may not see are taken out of it, and a page whose events
// were all taken out is answered with an empty chunk and an end (MATRIX.md:
// "An empty chunk does not mean the end"). Positions are "p<index>"; only
// a page that reads nothing has no end.
type filteredRoom struct {
	events []string
	hidden map[int]bool
}

func (p *filteredRoom) add(hidden bool, line string) {
	if hidden {
		p.hidden[len(p.events)] = true
	}
	p.events = append(p.events, line)
}

func (p *filteredRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	forward := q.Get("dir") == "f"
	from := len(p.events)
	if forward {
		from = 0
	}
	if f := q.Get("from"); f != "" {
		from, _ = strconv.Atoi(strings.TrimPrefix(f, "p"))
	}
	chunk := []string{}
	end, n := from, 0
	for n < limit && ((forward && end < len(p.events)) || (!forward && end > 0)) {
		i := end
		if forward {
			end++
		} else {
			end--
			i = end
		}
		n++
		if !p.hidden[i] {
			chunk = append(chunk, p.events[i])
		}
	}
	if n == 0 {
		fmt.Fprintf(w, `{"start":"p%d","chunk":[]}`, from)
		return
	}
	fmt.Fprintf(w, `{"start":"p%d","end":"p%d","chunk":[%s]}`, from, end, strings.Join(chunk, ","))
}

func answersManager(t *testing.T, hs http.Handler, in *Ingester, st *store.Store, cfg ManagerConfig) (*Manager, *Client) {
	t.Helper()
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	client, err := NewClient(srv.URL, "as", answersBot)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SpoolDir = t.TempDir()
	return NewManager(cfg, client, in, st, answersBot, storetest.Logger(t)), client
}

// storedIDs returns which of ids the archive holds, in the order asked.
func storedIDs(t *testing.T, st *store.Store, ids ...id.EventID) []id.EventID {
	t.Helper()
	evs, err := st.StoredEvents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var got []id.EventID
	for _, want := range ids {
		if slices.ContainsFunc(evs, func(e store.Event) bool { return e.ID == want }) {
			got = append(got, want)
		}
	}
	return got
}

// A room public in its early years, then members-only for 2,500 events
// before the bot came, then public again. Backwards from now, the pages of
// the members-only years are empty with an end. The backfill stopped at
// the first one (2 pages), recorded the room backfilled, and never read the
// public early years nor the room's creation.
func TestBackfillPagesPastEmptyPagesWithAnEnd(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), answersBot)
			room := &filteredRoom{hidden: map[int]bool{}}
			room.add(false, answersLine("$create", "m.room.create", 1, "", `{"room_version":"10"}`))
			room.add(false, answersLine("$hv1", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`))
			want := []id.EventID{"$create"}
			for i := range 5 {
				evID := fmt.Sprintf("$early%d", i)
				want = append(want, id.EventID(evID))
				room.add(false, answersLine(evID, "m.room.message", int64(10+i), "-", `{"msgtype":"m.text","body":"public early years"}`))
			}
			room.add(false, answersLine("$hv2", "m.room.history_visibility", 100, "", `{"history_visibility":"joined"}`))
			for i := range 2500 {
				room.add(true, answersLine(fmt.Sprintf("$private%d", i), "m.room.message", int64(200+i), "-", `{"msgtype":"m.text","body":"members only"}`))
			}
			room.add(false, answersLine("$hv3", "m.room.history_visibility", 5000, "", `{"history_visibility":"world_readable"}`))
			room.add(false, answersLine("$botjoin", "m.room.member", 5001, answersBot, `{"membership":"join"}`))
			for i := range 5 {
				evID := fmt.Sprintf("$late%d", i)
				want = append(want, id.EventID(evID))
				room.add(false, answersLine(evID, "m.room.message", int64(6000+i), "-", `{"msgtype":"m.text","body":"public again"}`))
			}
			m, _ := answersManager(t, room, in, st, ManagerConfig{})
			ctx := context.Background()
			rep, err := m.Backfill(ctx, answersRoom, nil)
			if err != nil {
				t.Fatal(err)
			}
			// 2,515 events, 1,000 a page, and the page that reads nothing.
			if !rep.ReachedCreate || rep.Bounded || rep.Pages != 4 || rep.Events != 15 {
				t.Errorf("backfill: reached create %v, bounded %v, %d pages, %d events; want the creation reached in 4 pages of 15 visible events",
					rep.ReachedCreate, rep.Bounded, rep.Pages, rep.Events)
			}
			if got := storedIDs(t, st, want...); !slices.Equal(got, want) {
				t.Errorf("stored %v of %v", got, want)
			}
			if got := storedIDs(t, st, "$private0", "$private2499"); len(got) != 0 {
				t.Errorf("stored members-only events %v", got)
			}
			rs, err := st.RoomSync(ctx, answersRoom)
			if err != nil {
				t.Fatal(err)
			}
			if !rs.ReachedCreate || !rs.CompleteFrom.Equal(time.UnixMilli(1).UTC()) {
				t.Errorf("room sync: reached create %v, complete from %v; want true, %v", rs.ReachedCreate, rs.CompleteFrom, time.UnixMilli(1).UTC())
			}
		})
	}
}

// A backfill given page after page with no events and a new end each time
// (a homeserver that never says the end) stops after maxEmptyPages of them;
// one given a position it was given before stops there.
func TestBackfillEndsOnEmptyPagesThatNeverEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(n int64) string
		pages int64
	}{
		{"new positions", func(n int64) string { return "t" + strconv.FormatInt(n, 10) }, maxEmptyPages},
		{"two positions in turn", func(n int64) string { return "t" + strconv.FormatInt(n%2, 10) }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			in := New(st, storetest.Logger(t), answersBot)
			var asked atomic.Int64
			hs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := asked.Add(1)
				fmt.Fprintf(w, `{"start":"s","end":%q,"chunk":[]}`, tc.end(n))
			})
			m, _ := answersManager(t, hs, in, st, ManagerConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := m.Backfill(ctx, answersRoom, nil)
			if err != nil {
				t.Fatal(err)
			}
			if asked.Load() != tc.pages || rep.ReachedCreate {
				t.Errorf("backfill asked %d pages, reached create %v; want %d pages", asked.Load(), rep.ReachedCreate, tc.pages)
			}
		})
	}
}

// The same on a forward sweep: a page the bot may not see, empty with an
// end, ended the sweep without moving its position, so every later sweep
// asked the same page again and nothing after it was ever swept.
func TestSweepMovesPastEmptyPagesWithAnEnd(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), answersBot)
			room := &filteredRoom{hidden: map[int]bool{}}
			room.add(false, answersLine("$create", "m.room.create", 1, "", `{"room_version":"10"}`))
			room.add(false, answersLine("$hv1", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`))
			for i := range 1500 {
				room.add(true, answersLine(fmt.Sprintf("$h%d", i), "m.room.message", int64(10+i), "-", `{"msgtype":"m.text","body":"x"}`))
			}
			room.add(false, answersLine("$after", "m.room.message", 9000, "-", `{"msgtype":"m.text","body":"after"}`))
			ctx := context.Background()
			var setup []*event.Event
			for _, l := range room.events[:2] {
				e, err := event.Parse([]byte(l))
				if err != nil {
					t.Fatal(err)
				}
				setup = append(setup, e)
			}
			if _, err := in.Ingest(ctx, setup); err != nil {
				t.Fatal(err)
			}
			rs, err := st.RoomSync(ctx, answersRoom)
			if err != nil {
				t.Fatal(err)
			}
			rs.ForwardToken, rs.SweepVisibility = "p2", "world_readable"
			if err := st.SetRoomSync(ctx, rs); err != nil {
				t.Fatal(err)
			}
			m, _ := answersManager(t, room, in, st, ManagerConfig{})
			n, err := m.Sweep(ctx, answersRoom)
			if err != nil || n != 1 {
				t.Fatalf("sweep stored %d, err %v; want 1 ($after)", n, err)
			}
			if got := storedIDs(t, st, "$after"); len(got) != 1 {
				t.Errorf("$after, past the pages the bot may not see, was not swept")
			}
			rs, err = st.RoomSync(ctx, answersRoom)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("p%d", len(room.events)); rs.ForwardToken != want {
				t.Errorf("sweep position %q; want %q, past the last event", rs.ForwardToken, want)
			}
		})
	}
}

// A homeserver whose forward /messages gives two positions in turn, each
// page one event already archived: one room's sweep never returned (21,336
// pages in 5 s), and the sweep loop, which sweeps rooms in turn, never
// reached another room. A sweep reads at most sweepMaxPages pages, and the
// next carries on from where it stopped.
func TestSweepReadsAtMostSweepMaxPagesOfARoom(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), answersBot)
			ctx := context.Background()
			lines := []string{
				answersLine("$create", "m.room.create", 1, "", `{"room_version":"10"}`),
				answersLine("$hv", "m.room.history_visibility", 2, "", `{"history_visibility":"world_readable"}`),
				answersLine("$m1", "m.room.message", 3, "-", `{"msgtype":"m.text","body":"hi"}`),
			}
			var setup []*event.Event
			for _, l := range lines {
				e, err := event.Parse([]byte(l))
				if err != nil {
					t.Fatal(err)
				}
				setup = append(setup, e)
			}
			if _, err := in.Ingest(ctx, setup); err != nil {
				t.Fatal(err)
			}
			rs, err := st.RoomSync(ctx, answersRoom)
			if err != nil {
				t.Fatal(err)
			}
			rs.ForwardToken = "a"
			if err := st.SetRoomSync(ctx, rs); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var froms []string
			hs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				from := r.URL.Query().Get("from")
				mu.Lock()
				froms = append(froms, from)
				mu.Unlock()
				next := "a"
				if from == "a" {
					next = "b"
				}
				fmt.Fprintf(w, `{"start":%q,"end":%q,"chunk":[%s]}`, from, next, lines[2])
			})
			m, _ := answersManager(t, hs, in, st, ManagerConfig{})
			sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			for sweep := range 2 {
				mu.Lock()
				froms = nil
				mu.Unlock()
				n, err := m.Sweep(sctx, answersRoom)
				if err != nil || n != 0 {
					t.Fatalf("sweep %d: stored %d, err %v; want 0, nil", sweep, n, err)
				}
				mu.Lock()
				asked, first := len(froms), froms[0]
				mu.Unlock()
				// sweepMaxPages is even: each sweep ends where it began.
				if asked != sweepMaxPages || first != "a" {
					t.Errorf("sweep %d asked %d pages from %q; want %d from \"a\"", sweep, asked, first, sweepMaxPages)
				}
			}
		})
	}
}

// A homeserver (or a proxy before it) that answers /sync at once with no
// next_batch ({} or null), or with the since it was asked with, was asked
// again at once, 12,000-16,000 times a second. Such an answer fails like
// any other and is asked again after a back-off (1 s, then 2 s). The same
// since after the long-poll's whole wait (a quiet homeserver) is no
// failure.
func TestSyncWithoutNextPositionBacksOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		answer  func(since string) string
		most    int64
	}{
		{"empty object", 30 * time.Second, func(string) string { return `{}` }, 3},
		{"null", 30 * time.Second, func(string) string { return `null` }, 3},
		{"same since at once", 30 * time.Second, func(string) string { return `{"next_batch":"s1"}` }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			in := New(st, storetest.Logger(t), answersBot)
			var asked atomic.Int64
			hs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				_, _ = w.Write([]byte(tc.answer(r.URL.Query().Get("since"))))
			})
			m, _ := answersManager(t, hs, in, st, ManagerConfig{SyncTimeout: tc.timeout})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			m.syncLoop(ctx)
			if asked.Load() > tc.most {
				t.Errorf("/sync asked %d times in 2 s; want at most %d", asked.Load(), tc.most)
			}
		})
	}
	t.Run("same since after the long-poll", func(t *testing.T) {
		st := storetest.Open(t, "sqlite")
		in := New(st, storetest.Logger(t), answersBot)
		var asked atomic.Int64
		hs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked.Add(1)
			if r.URL.Query().Get("since") != "" {
				ms, _ := strconv.Atoi(r.URL.Query().Get("timeout"))
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			_, _ = w.Write([]byte(`{"next_batch":"s1"}`))
		})
		m, _ := answersManager(t, hs, in, st, ManagerConfig{SyncTimeout: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m.syncLoop(ctx)
		// About 19 long-polls of 100 ms; backed off, 3.
		if asked.Load() < 6 {
			t.Errorf("/sync asked %d times in 2 s of 100 ms long-polls: a quiet homeserver was backed off", asked.Load())
		}
	})
}

// A /sync answer larger than the client reads failed the same way for ever:
// the loop asked again with the same since and filter. It is asked again
// with half the timeline limit, down to one event a room, and the limit
// doubles back after each answer that fits. The homeserver here keeps the
// filter's timeline limit, as Synapse does; the client's read limit is
// lowered to stand in for 64 MiB.
func TestSyncAnswerTooLargeAsksForFewerTimelineEvents(t *testing.T) {
	fat := strings.Repeat("n", 4000)
	for _, tc := range []struct {
		name   string
		events int // fat member events in the room's timeline
		// want: the timeline limits asked with since "" and then "s1"
		// ("s1" asked only if the first answer fitted).
		first, then []int
	}{
		// Ten events of 4 KB do not fit 32 KiB; six do.
		{"fits at six", 10, []int{100, 50, 25, 12, 6}, []int{12}},
		// Ten events of ~40 KB: not even one fits; backed off at one.
		{"never fits", -10, []int{100, 50, 25, 12, 6, 3, 1, 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			in := New(st, storetest.Logger(t), answersBot)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var mu sync.Mutex
			asked := map[string][]int{}
			hs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				since := r.URL.Query().Get("since")
				var f struct {
					Room struct {
						Timeline struct {
							Limit int `json:"limit"`
						} `json:"timeline"`
					} `json:"room"`
				}
				if err := json.Unmarshal([]byte(r.URL.Query().Get("filter")), &f); err != nil {
					t.Errorf("filter: %v", err)
				}
				mu.Lock()
				asked[since] = append(asked[since], f.Room.Timeline.Limit)
				mu.Unlock()
				if since != "" {
					cancel() // enough: the loop moved on
					_, _ = w.Write([]byte(`{"next_batch":"s2"}`))
					return
				}
				name, count := fat, tc.events
				if count < 0 {
					name, count = strings.Repeat(fat, 10), -count
				}
				var evs []string
				for i := max(0, count-f.Room.Timeline.Limit); i < count; i++ {
					evs = append(evs, fmt.Sprintf(`{"event_id":"$fat%d","type":"m.room.member","sender":"@eve:evil.org","state_key":"@eve:evil.org","origin_server_ts":%d,"content":{"membership":"join","displayname":%q}}`,
						i, 100+i, name))
				}
				fmt.Fprintf(w, `{"next_batch":"s1","rooms":{"join":{%q:{"timeline":{"limited":true,"events":[%s]}}}}}`,
					answersRoom, strings.Join(evs, ","))
			})
			m, client := answersManager(t, hs, in, st, ManagerConfig{SyncTimeout: 30 * time.Second})
			client.maxResponse = 32 << 10
			m.syncLoop(ctx)
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(asked[""], tc.first) || !slices.Equal(asked["s1"], tc.then) {
				t.Errorf("timeline limits asked: since \"\" %v, since \"s1\" %v; want %v, %v", asked[""], asked["s1"], tc.first, tc.then)
			}
		})
	}
}
