package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func openLockStore(t *testing.T, uri string, check time.Duration) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: uri}, t.TempDir(), storetest.Logger(t), store.Options{LockCheckInterval: check})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// archiverLockPID is the backend holding st's database's archiver lock (0
// if none does).
func archiverLockPID(t *testing.T, st *store.Store) int64 {
	t.Helper()
	conn, err := st.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int64
	err = conn.QueryRowContext(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 1836605811 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return pid
}

// takenOver opens two archivers' stores on the database uri, with lock
// checks far apart (only the writes can find the lock gone): the first
// takes the lock, its session ends, and the second takes the lock. It
// returns them and the first's lock; both locks are released at the end.
func takenOver(t *testing.T, uri string) (first, second *store.Store, firstLock *store.ArchiverLock) {
	t.Helper()
	ctx := context.Background()
	first, second = openLockStore(t, uri, time.Hour), openLockStore(t, uri, time.Hour)
	firstLock, err := first.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { firstLock.Release() })
	killArchiverLockSession(t, second)
	secondLock, err := second.LockArchiver(ctx)
	if err != nil {
		t.Fatalf("second archiver once the first's session ended: %v", err)
	}
	t.Cleanup(func() { secondLock.Release() })
	return first, second, firstLock
}

// The one-statement writes (pending joins, sync state, operator log) are
// checked as a transaction's are: once the lock's session ended and
// another archiver took the lock, they are refused before this archiver's
// first transaction or periodic check has noticed (helper-81's review: they
// were checked only against what the archiver knew).
func TestArchiverOneStatementWritesNothingOnceAnotherTookTheLock(t *testing.T) {
	ctx := context.Background()
	first, second, _ := takenOver(t, pgtest.NewDatabase(t))
	if err := first.SetRoomSync(ctx, store.RoomSync{RoomID: "!r:example.org", ForwardToken: "stale-token"}); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("SetRoomSync by the archiver whose lock another took: err = %v, want ErrArchiverLockNotHeld", err)
	}
	if err := first.AddPendingJoin(ctx, store.PendingJoin{Target: "!j:example.org", Kind: "invite"}); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("AddPendingJoin by the archiver whose lock another took: err = %v, want ErrArchiverLockNotHeld", err)
	}
	if err := first.LogOperator(ctx, store.OperatorAction{At: time.Now(), Actor: "test", Command: "test"}); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("LogOperator by the archiver whose lock another took: err = %v, want ErrArchiverLockNotHeld", err)
	}
	if rs, err := second.RoomSync(ctx, "!r:example.org"); err == nil && rs.ForwardToken == "stale-token" {
		t.Errorf("the second archiver reads the first's sync state, written while the second held the lock")
	}
}

// The lock's session is known by its backend's pid and start, not by its
// pid alone: pids are reused (a server restarted in a container numbers
// its backends from 1 again). Here the pid the first archiver's session
// had is, after the restart, that of the session in which another
// archiver holds the lock: the first must not write beside it
// (helper-81's review).
func TestArchiverLockSessionIsNotItsPIDAlone(t *testing.T) {
	ctx := context.Background()
	first, second, _ := takenOver(t, pgtest.NewDatabase(t))
	// The restart gave the second archiver's lock session the pid the
	// first's had (simulated: the first's session is taken to have the
	// second's pid, with its own start).
	_, start := first.LockSession()
	first.SetLockSession(archiverLockPID(t, second), start)
	if _, err := first.OptOut(ctx, "@beside:example.org", "test"); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("write by the archiver whose lock another took (pid reused): err = %v, want ErrArchiverLockNotHeld", err)
	}
	if via, _ := second.OptOutVia(ctx, "@beside:example.org"); via != "" {
		t.Errorf("the write is stored beside the archiver holding the lock (via %q)", via)
	}
}

// The archiver lock is this database's: an archiver of another database
// of the cluster holding its own lock in the session the first takes to
// be its own does not let the first write here, where a third archiver
// took the lock (helper-81's review).
func TestArchiverLockIsThisDatabases(t *testing.T) {
	ctx := context.Background()
	elsewhere := openLockStore(t, pgtest.NewDatabase(t), time.Hour)
	lockElsewhere, err := elsewhere.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockElsewhere.Release()
	first, _, _ := takenOver(t, pgtest.NewDatabase(t))
	// The first's session is taken to be the one holding the other
	// database's lock, pid and start.
	elsewherePID, elsewhereStart := elsewhere.LockSession()
	if elsewherePID != archiverLockPID(t, elsewhere) {
		t.Fatalf("the other database's lock session is %d, its store says %d", archiverLockPID(t, elsewhere), elsewherePID)
	}
	first.SetLockSession(elsewherePID, elsewhereStart)
	if _, err := first.OptOut(ctx, "@beside:example.org", "test"); !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("write checked against another database's archiver lock: err = %v, want ErrArchiverLockNotHeld", err)
	}
}

// After Release the store writes nothing as an archiver, even when the
// lock's session had ended unnoticed and another archiver holds the lock:
// run's goroutines that outlive Release (the media fetcher's ReleaseMedia,
// retention, a handler past the 10 s shutdown) must not write beside it
// (helper-81's review: Release made the store write unchecked).
func TestReleasedArchiverWritesNothing(t *testing.T) {
	ctx := context.Background()
	first, _, lock := takenOver(t, pgtest.NewDatabase(t))
	t.Logf("Release: %v", lock.Release())
	if _, err := first.OptOut(ctx, "@beside:example.org", "test"); err == nil {
		t.Errorf("after Release, the store whose lock another archiver holds writes unguarded beside it")
	}
}

// The writers' lock is taken before the archiver lock is looked for: a
// write waits for the writers' lock; meanwhile its session ends and
// another archiver takes the lock; the write is refused.
func TestArchiverWriteCheckedOnceItHasTheWritersLock(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	first, second := openLockStore(t, uri, time.Hour), openLockStore(t, uri, time.Hour)
	lock, err := first.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	conn, err := second.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1836605810)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := first.OptOut(ctx, "@waiting:example.org", "test")
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND objid = 1836605810 AND NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write never waited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	killArchiverLockSession(t, second)
	lock2, err := second.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock2.Release()
	tx.Commit()
	if err := <-done; !errors.Is(err, store.ErrArchiverLockNotHeld) {
		t.Errorf("write that waited for the writers' lock: %v, want ErrArchiverLockNotHeld", err)
	}
}

// killArchiverLockSession ends the session holding st's database's
// archiver lock and waits until it is gone.
func killArchiverLockSession(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	pid := archiverLockPID(t, st)
	if pid == 0 {
		t.Fatal("no session holds the archiver lock")
	}
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var alive bool
		if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An archiver connecting as a role that is not a superuser (nor
// pg_read_all_stats) sees its own sessions' starts: it takes the lock,
// loses it and takes it again (helper-82's review).
func TestArchiverLockAsPlainRole(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	admin, err := sql.Open("pgx", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	u, _ := url.Parse(uri)
	dbname := u.Path[1:]
	role := fmt.Sprintf("mxa_plain_%d", time.Now().UnixNano()%1e9)
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw' NOSUPERUSER`,
		`ALTER DATABASE "` + dbname + `" OWNER TO ` + role,
		`ALTER SCHEMA public OWNER TO ` + role,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		a, _ := sql.Open("pgx", uri)
		defer a.Close()
		a.Exec(`REASSIGN OWNED BY ` + role + ` TO CURRENT_USER`)
		a.Exec(`DROP OWNED BY ` + role)
		a.Exec(`DROP ROLE ` + role)
	})
	ru := *u
	ru.User = url.UserPassword(role, "pw")
	st := openLockStore(t, ru.String(), 100*time.Millisecond)
	var super bool
	c, _ := st.Conn(ctx)
	c.QueryRowContext(ctx, `SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') FROM pg_roles WHERE rolname = current_user`).Scan(&super)
	c.Close()
	if super {
		t.Fatal("role is privileged")
	}
	lock, err := st.LockArchiver(ctx)
	if err != nil {
		t.Fatalf("plain role takes the lock: %v", err)
	}
	defer lock.Release()
	if _, err := st.OptOut(ctx, "@a:example.org", "test"); err != nil {
		t.Fatalf("write: %v", err)
	}
	pid := archiverLockPID(t, st)
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := st.OptOut(ctx, "@b:example.org", "test"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("never wrote again as the plain role: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
