package store_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// One server's files hold at most store.MediaClaimsPerServer claims at
// once, over every fetcher: a hostile server dripping its files for the
// client's whole timeout held every download slot, and no other server's
// media was fetched. Its due files are passed over, not the queue: the
// next due files of other servers are claimed in its place, in order; a
// server alone in the queue still gets its bound; and its claims count
// while they live, not after they end or lapse.
func TestMediaClaimsPerServer(t *testing.T) {
	if store.MediaClaimsPerServer != 2 {
		t.Fatalf("the test's expectations are written for a bound of 2, not %d", store.MediaClaimsPerServer)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		queries, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		evs := baseRoom(t)
		// evil.org's ten files are due before good.org's three and
		// other.org's one.
		nextAt := map[string]int64{}
		add := func(server, mediaID string, at int64) {
			evs = append(evs, mediaMsg(t, fmt.Sprintf("$%s-%s", server, mediaID), "@bob:example.org", 2000+int64(len(evs)), "m.file",
				"mxc://"+server+"/"+mediaID, ""))
			nextAt[server+"/"+mediaID] = at
		}
		for i := range 10 {
			add("evil.org", fmt.Sprintf("e%d", i), 100+int64(i))
		}
		for i := range 3 {
			add("good.org", fmt.Sprintf("g%d", i), 200+int64(i))
		}
		add("other.org", "o0", 300)
		put(t, st, evs...)
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for uri, at := range nextAt {
			server, mediaID, _ := strings.Cut(uri, "/")
			if _, err := conn.ExecContext(ctx, `UPDATE media_queue SET next_at = $1 WHERE server = $2 AND media_id = $3`, at, server, mediaID); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()

		now := time.UnixMilli(10_000)
		claim := func(owner string, at time.Time, limit int) []string {
			t.Helper()
			jobs, err := st.ClaimMedia(ctx, owner, "", at, time.Minute, limit)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, j := range jobs {
				out = append(out, j.Server+"/"+j.MediaID)
			}
			return out
		}
		want := func(what string, got []string, want ...string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Fatalf("%s claimed %v; want %v", what, got, want)
			}
		}

		// Four slots: evil.org's first two files, then good.org's, in
		// order, not evil.org's first four.
		want("A, four slots", claim("A", now, 4), "evil.org/e0", "evil.org/e1", "good.org/g0", "good.org/g1")
		// Another fetcher sees both servers at their bound, A's claims
		// counted: of the due files only other.org's is its to take.
		want("B, four slots", claim("B", now, 4), "other.org/o0")
		// Every server with due files at its bound: the look without the
		// write lock says so, and nothing more is asked of the database.
		before := queries()
		want("B again", claim("B", now, 4))
		if n := queries() - before; n != 1 {
			t.Errorf("a claim with every due file's server at its bound sent %d statements; want the one look", n)
		}

		// A's download of e0 ends: evil.org may have one more in flight,
		// and B takes it, not two.
		if !fetched(t, st, "mxc://evil.org/e0", strings.Repeat("0", 64)) {
			t.Fatal("e0 not kept")
		}
		want("B after e0 was fetched", claim("B", now, 4), "evil.org/e2")
		// A fails on good.org's g0: its claim ends (g0 waits for its
		// retry), and g2 may be claimed.
		if err := st.MediaFailed(ctx, event.MXC{Server: "good.org", MediaID: "g0"}, "boom", now.Add(time.Hour), false); err != nil {
			t.Fatal(err)
		}
		want("B after g0 failed", claim("B", now, 4), "good.org/g2")

		// A and B are killed: their claims lapse a minute on, and no
		// longer count.
		later := now.Add(time.Minute + time.Second)
		want("C after the claims lapsed", claim("C", later, 10), "evil.org/e1", "evil.org/e2", "good.org/g1", "good.org/g2", "other.org/o0")
		want("D beside C", claim("D", later, 10))
		// C stops and gives its claims back: they count no more either.
		if err := st.ReleaseMedia(ctx, "C"); err != nil {
			t.Fatal(err)
		}
		want("D after C released", claim("D", later, 10), "evil.org/e1", "evil.org/e2", "good.org/g1", "good.org/g2", "other.org/o0")

		// A server alone in the queue is not starved: once the others'
		// files are done, evil.org's backlog is claimed up to its bound.
		if err := st.ReleaseMedia(ctx, "D"); err != nil {
			t.Fatal(err)
		}
		for _, uri := range []string{"good.org/g1", "good.org/g2", "other.org/o0"} {
			if !fetched(t, st, "mxc://"+uri, strings.Repeat("1", 64)) {
				t.Fatalf("%s not kept", uri)
			}
		}
		want("E, evil.org alone", claim("E", later, 4), "evil.org/e1", "evil.org/e2")
		want("E again", claim("E", later, 4))
	})
}

// ClaimMedia's look without the write lock, and its count of each
// server's claims, read claimed rows on media_queue_leased, not the whole
// queue: the fetcher asks every few seconds and as each download ends,
// and the queue of a large archive's backlog may hold many thousands of
// files.
func TestMediaClaimsReadTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		for _, q := range []struct {
			name, sql string
			args      []any
		}{
			{"the look", store.MediaClaimableSQL, []any{int64(10_000), "", store.MediaClaimsPerServer}},
			{"the count", store.MediaHeldClaimsSQL, []any{int64(10_000)}},
		} {
			plan := queryPlan(t, st, q.sql, q.args...)
			// A scan is of the claimed rows alone (the partial index),
			// never of every queued file (the table or another index).
			for _, m := range regexp.MustCompile(`SCAN media_queue\b( USING (COVERING )?INDEX (\w+))?|Seq Scan on media_queue\b`).FindAllStringSubmatch(plan, -1) {
				if m[3] != "media_queue_leased" {
					t.Errorf("%s reads every queued file (%s):\n%s", q.name, m[0], plan)
				}
			}
			if !strings.Contains(plan, "media_queue_leased") {
				t.Errorf("%s does not read the claimed rows on media_queue_leased:\n%s", q.name, plan)
			}
		}
	})
}
