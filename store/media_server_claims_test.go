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

// One server's files hold at most store.MediaClaimsPerSite claims at
// once, over every fetcher: a hostile server dripping its files for the
// client's whole timeout held every download slot, and no other server's
// media was fetched. Its due files are passed over, not the queue: the
// next due files of other servers are claimed in its place, in order; a
// server alone in the queue still gets its bound; and its claims count
// while they live, not after they end or lapse.
func TestMediaClaimsPerServer(t *testing.T) {
	if store.MediaClaimsPerSite != 2 {
		t.Fatalf("the test's expectations are written for a bound of 2, not %d", store.MediaClaimsPerSite)
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
// server's claims, read claimed rows on media_queue_site_leased, not the whole
// queue: the fetcher asks every few seconds and as each download ends,
// and the queue of a large archive's backlog may hold many thousands of
// files.
func TestMediaClaimsReadTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		for _, q := range []struct {
			name, sql string
			args      []any
		}{
			{"the look", store.MediaClaimableSQL, []any{int64(10_000), "", store.MediaClaimsPerSite}},
			{"the count", store.MediaHeldClaimsSQL, []any{int64(10_000)}},
		} {
			plan := queryPlan(t, st, q.sql, q.args...)
			// A scan is of the claimed rows alone (the partial index),
			// never of every queued file (the table or another index).
			for _, m := range regexp.MustCompile(`SCAN media_queue\b( USING (COVERING )?INDEX (\w+))?|Seq Scan on media_queue\b`).FindAllStringSubmatch(plan, -1) {
				if m[3] != "media_queue_site_leased" {
					t.Errorf("%s reads every queued file (%s):\n%s", q.name, m[0], plan)
				}
			}
			if !strings.Contains(plan, "media_queue_site_leased") {
				t.Errorf("%s does not read the claimed rows on media_queue_site_leased:\n%s", q.name, plan)
			}
		}
	})
}

// The bound is one owner's, not one server name's: a server with a
// wildcard DNS record names as many servers as it likes (a1.evil.org,
// a2.evil.org…), and one host serves on as many ports, so four names of
// evil.org held every slot. They share evil.org's two, and good.org's
// files take the others.
func TestMediaClaimsPerOwner(t *testing.T) {
	// Names under a domain of the public suffix list's private section
	// (duckdns.org gives them to anyone) are one owner too.
	for _, evil := range [][]string{
		{"a1.evil.org", "a2.evil.org", "evil.org:8449", "A3.EVIL.ORG."},
		{"a1.duckdns.org", "a2.duckdns.org", "x.a3.duckdns.org:8448", "a4.duckdns.org"},
	} {
		t.Run(evil[0], func(t *testing.T) { claimsPerOwner(t, evil) })
	}
}

func claimsPerOwner(t *testing.T, evil []string) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		var uris []string
		for i, server := range append(evil, "good.org", "good.org") {
			uri := fmt.Sprintf("mxc://%s/m%d", server, i)
			uris = append(uris, uri)
			evs = append(evs, mediaMsg(t, fmt.Sprintf("$m%d", i), "@bob:example.org", 2000+int64(i), "m.file", uri, ""))
		}
		put(t, st, evs...)
		// evil.org's four names are due first.
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, uri := range uris {
			mxc, ok := event.ParseMXC(uri)
			if !ok {
				t.Fatal(uri)
			}
			if _, err := conn.ExecContext(ctx, `UPDATE media_queue SET next_at = $1 WHERE server = $2 AND media_id = $3`, 100+i, mxc.Server, mxc.MediaID); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
		jobs, err := st.ClaimMedia(ctx, "A", "", time.UnixMilli(10_000), time.Minute, 4)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, "mxc://"+j.Server+"/"+j.MediaID)
		}
		if want := []string{uris[0], uris[1], uris[4], uris[5]}; !slices.Equal(got, want) {
			t.Errorf("four slots claimed %v; want the first two of one owner's names' files and good.org's two: %v", got, want)
		}
	})
}

// A database queued its fetches before each had a site: migrating gives
// them theirs, so the backlog a hostile server queued under many names
// is bounded as one.
func TestMigrationGivesQueuedMediaTheirSites(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			// Back to version 31: no site column, the claims' index by
			// server; four names of evil.org and good.org queued.
			st := migratedFrom(t, d, nil,
				`DROP INDEX media_queue_site_leased`,
				`ALTER TABLE media_queue DROP COLUMN site`,
				`CREATE INDEX media_queue_leased ON media_queue (server, lease_until) WHERE lease_until > 0`,
				`INSERT INTO media_queue (server, media_id, room_id, next_at) VALUES
					('a1.evil.org', 'm0', '!r:example.org', 100), ('a2.evil.org', 'm1', '!r:example.org', 101),
					('evil.org:8449', 'm2', '!r:example.org', 102), ('b.a4.evil.org', 'm3', '!r:example.org', 103),
					('good.org', 'm4', '!r:example.org', 104), ('good.org', 'm5', '!r:example.org', 105)`,
				`UPDATE schema_version SET version = 31`)
			if got, want := fourClaims(t, st), []string{"a1.evil.org/m0", "a2.evil.org/m1", "good.org/m4", "good.org/m5"}; !slices.Equal(got, want) {
				t.Errorf("after migrating, four slots claimed %v; want %v", got, want)
			}
		})
	}
}

// fourClaims claims four download slots, as fetcher "A" at 10 s, and
// names their files (server/media ID).
func fourClaims(t *testing.T, st *store.Store) []string {
	t.Helper()
	jobs, err := st.ClaimMedia(context.Background(), "A", "", time.UnixMilli(10_000), time.Minute, 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.Server+"/"+j.MediaID)
	}
	return got
}

// A database queued its fetches when a name under a domain of the public
// suffix list's private section was an owner of its own: migrating gives
// them the domain's site.
func TestMigrationGivesPrivateSectionNamesOneSite(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			// Back to version 34, with the sites it gave.
			st := migratedFrom(t, d, nil,
				`INSERT INTO media_queue (server, media_id, room_id, next_at, site) VALUES
					('a1.duckdns.org', 'm0', '!r:example.org', 100, 'a1.duckdns.org'),
					('a2.duckdns.org', 'm1', '!r:example.org', 101, 'a2.duckdns.org'),
					('x.a3.duckdns.org', 'm2', '!r:example.org', 102, 'a3.duckdns.org'),
					('a4.duckdns.org:8448', 'm3', '!r:example.org', 103, 'a4.duckdns.org'),
					('good.org', 'm4', '!r:example.org', 104, 'good.org'), ('good.org', 'm5', '!r:example.org', 105, 'good.org')`,
				`UPDATE schema_version SET version = 34`)
			if got, want := fourClaims(t, st), []string{"a1.duckdns.org/m0", "a2.duckdns.org/m1", "good.org/m4", "good.org/m5"}; !slices.Equal(got, want) {
				t.Errorf("after migrating, four slots claimed %v; want %v", got, want)
			}
		})
	}
}
