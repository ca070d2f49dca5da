package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// pagedRoom is a homeserver's /messages over a room of events, as Synapse
// and Dendrite page it: token "pN" is the place before event N, and a page
// holds at most limit events.
type pagedRoom struct {
	events []string
	mu     sync.Mutex
	limits []int
}

func (p *pagedRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	p.mu.Lock()
	p.limits = append(p.limits, limit)
	p.mu.Unlock()
	from := len(p.events)
	if f := q.Get("from"); f != "" {
		from, _ = strconv.Atoi(strings.TrimPrefix(f, "p"))
	}
	var chunk []string
	end := from
	if q.Get("dir") == "f" {
		for end < len(p.events) && len(chunk) < limit {
			chunk = append(chunk, p.events[end])
			end++
		}
	} else {
		for end > 0 && len(chunk) < limit {
			end--
			chunk = append(chunk, p.events[end])
		}
	}
	fmt.Fprintf(w, `{"start":"p%d","end":"p%d","chunk":[%s]}`, from, end, strings.Join(chunk, ","))
}

func (p *pagedRoom) asked() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.limits)
}

// pagesRoom is a public room of three state events and then n messages
// of size bytes each.
func pagesRoom(n, size int) (*pagedRoom, []id.EventID) {
	const roomID = "!pages:example.org"
	line := func(evID, typ string, ts int64, stateKey, content string) string {
		sk := ""
		if stateKey != "-" {
			sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
		}
		return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":"@alice:example.org","origin_server_ts":%d%s,"content":%s}`,
			evID, roomID, typ, ts, sk, content)
	}
	p := &pagedRoom{events: []string{
		line("$create", "m.room.create", 1, "", `{"room_version":"10"}`),
		line("$join", "m.room.member", 2, "@alice:example.org", `{"membership":"join"}`),
		line("$hv", "m.room.history_visibility", 3, "", `{"history_visibility":"world_readable"}`),
	}}
	var msgs []id.EventID
	for i := range n {
		evID := fmt.Sprintf("$m%03d", i)
		p.events = append(p.events, line(evID, "m.room.message", int64(10+i), "-",
			fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, strings.Repeat("a", size))))
		msgs = append(msgs, id.EventID(evID))
	}
	return p, msgs
}

// TestLargePagesAreAskedSmaller: a /messages page larger than the client
// reads (64 MiB; 40 KiB here) was cut short and failed to decode, and the
// same page of 1,000 events was asked for again on every try: the room's
// sweep and backfill never moved again. Now the page is asked for with
// half as many events until it fits, and every event is archived.
func TestLargePagesAreAskedSmaller(t *testing.T) {
	const roomID = "!pages:example.org"
	const bot = "@archive:example.org"
	for _, dir := range []string{"sweep", "backfill"} {
		t.Run(dir, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			in := New(st, storetest.Logger(t), bot)
			hs, msgs := pagesRoom(40, 4<<10)
			srv := httptest.NewServer(hs)
			defer srv.Close()
			client, err := NewClient(srv.URL, "as-token", bot)
			if err != nil {
				t.Fatal(err)
			}
			client.maxResponse = 40 << 10 // about nine of the messages
			m := NewManager(ManagerConfig{SpoolDir: t.TempDir(), BackfillMaxBytes: 1 << 30}, client, in, st, bot, storetest.Logger(t))
			if dir == "sweep" {
				var head []*event.Event
				for _, l := range hs.events[:3] {
					e, err := event.Parse([]byte(l))
					if err != nil {
						t.Fatal(err)
					}
					head = append(head, e)
				}
				if _, err := in.Ingest(ctx, head); err != nil {
					t.Fatal(err)
				}
				if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: roomID, ForwardToken: "p3"}); err != nil {
					t.Fatal(err)
				}
				if n, err := m.Sweep(ctx, roomID); err != nil {
					t.Fatalf("Sweep = %d, %v", n, err)
				}
				if rs, err := st.RoomSync(ctx, roomID); err != nil || rs.ForwardToken != fmt.Sprintf("p%d", len(hs.events)) {
					t.Errorf("forward token %q, %v; want the room's end", rs.ForwardToken, err)
				}
			} else if rep, err := m.Backfill(ctx, roomID, nil); err != nil || !rep.ReachedCreate {
				t.Fatalf("Backfill = %+v, %v", rep, err)
			}
			got, err := st.EventsByID(ctx, msgs)
			if err != nil || len(got) != len(msgs) {
				t.Errorf("%d of the %d messages archived (%v)", len(got), len(msgs), err)
			}
			// Halved after each page too large, then kept: never asked
			// larger again.
			asked := hs.asked()
			if len(asked) < 2 || asked[0] != backfillPage || !slices.IsSortedFunc(asked, func(a, b int) int { return b - a }) {
				t.Errorf("limits asked: %v", asked)
			}
		})
	}
}

// TestEventLargerThanResponseBound: one event larger than the client reads
// fails the sweep with ErrResponseTooLarge after a page of one event, and
// the room's position stays before it; it is not skipped, because the
// page's end token (the way past it) is in the part not read.
func TestEventLargerThanResponseBound(t *testing.T) {
	const roomID = "!pages:example.org"
	const bot = "@archive:example.org"
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	hs, _ := pagesRoom(3, 8<<10)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	client, err := NewClient(srv.URL, "as-token", bot)
	if err != nil {
		t.Fatal(err)
	}
	client.maxResponse = 4 << 10
	m := NewManager(ManagerConfig{SpoolDir: t.TempDir()}, client, New(st, storetest.Logger(t), bot), st, bot, storetest.Logger(t))
	if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: roomID, ForwardToken: "p3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sweep(ctx, roomID); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("Sweep: err = %v, want ErrResponseTooLarge", err)
	}
	if asked := hs.asked(); asked[len(asked)-1] != 1 {
		t.Errorf("limits asked: %v; want down to 1", asked)
	}
	if rs, err := st.RoomSync(ctx, roomID); err != nil || rs.ForwardToken != "p3" {
		t.Errorf("forward token %q, %v; want p3", rs.ForwardToken, err)
	}
}
