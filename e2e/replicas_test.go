package e2e_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// replica is one archive-web process with its own data directory (its own
// search index), reading the archiver's PostgreSQL database.
type replica struct {
	name string
	dir  string
	url  string
	cmd  *exec.Cmd
	// exited is closed when the process has exited.
	exited chan struct{}
	log    string
}

// kill ends the replica the hard way.
func (r *replica) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// readOnlyRole makes a PostgreSQL role that may read the archive's tables
// and nothing else, and returns dsn with that role as its user.
func readOnlyRole(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 6)
	rand.Read(b)
	role, password := "web_ro_"+hex.EncodeToString(b), hex.EncodeToString(b)
	var dbname string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD '` + password + `'`,
		`GRANT CONNECT ON DATABASE "` + dbname + `" TO ` + role,
		`GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ` + role,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP OWNED BY ` + role)
		db.Exec(`DROP ROLE ` + role)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	return u.String()
}

func buildWeb(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "archive-web")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mxarchive/mxarchive/cmd/archive-web").CombinedOutput(); err != nil {
		t.Fatalf("go build archive-web: %v\n%s", err, out)
	}
	return bin
}

// startReplica starts (or restarts, on the same data directory) an
// archive-web with the archiver's config file, its own data directory and
// port, and the given database URI, and waits until /readyz says it is
// ready.
func (w *world) startReplica(bin string, r *replica, dbURI string) {
	w.t.Helper()
	if r.url == "" {
		port, release := heldPort(w.t)
		release() // archive-web binds it next
		r.url = fmt.Sprintf("http://127.0.0.1:%d", port)
		r.log = filepath.Join(w.dir, r.name+".log")
	}
	logs, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logs.Close()
	r.cmd = exec.Command(bin, "-c", filepath.Join(w.dir, "config.yaml"))
	r.cmd.Env = append(os.Environ(), w.env...)
	// The archiver's media directory, as a replica on another machine
	// mounts it: archive-web refuses to start without one.
	r.cmd.Env = append(r.cmd.Env, "MXARCHIVE_DATA_DIR="+r.dir, "MXARCHIVE_MEDIA_DIR="+filepath.Join(w.dir, "data", "media"),
		"MXARCHIVE_DATABASE_TYPE=postgres", "MXARCHIVE_DATABASE_URI="+dbURI,
		"MXARCHIVE_WEB_LISTEN="+strings.TrimPrefix(r.url, "http://"), "MXARCHIVE_SEARCH_ENABLED=true", "MXARCHIVE_LOG_LEVEL=info")
	r.cmd.Stdout, r.cmd.Stderr = logs, logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	cmd, exited := r.cmd, make(chan struct{})
	r.exited = exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	w.t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
		if w.t.Failed() {
			b, _ := os.ReadFile(r.log)
			w.t.Logf("%s log (last 3000 bytes):\n%s", r.name, tail(string(b), 3000))
		}
	})
	w.waitFor(r.name+" to be ready", 60*time.Second, func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(r.log)
			w.t.Fatalf("%s exited: %s", r.name, tail(string(b), 1000))
		default:
		}
		code, _ := fetch(r.url + "/readyz")
		return code == http.StatusOK
	})
}

func fetch(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// finds says whether the replica's search finds the event for the word.
func (r *replica) finds(word, eventID string) bool {
	code, body := fetch(r.url + "/api/v1/search?q=" + url.QueryEscape(word))
	return code == http.StatusOK && strings.Contains(body, eventID)
}

// shows says whether the replica serves the event with the word in it.
func (r *replica) shows(word, eventID string) bool {
	code, body := fetch(r.url + "/api/v1/events/" + url.PathEscape(eventID))
	return code == http.StatusOK && strings.Contains(body, word)
}

// Two archive-web replicas, each with its own data directory, on the
// archiver's PostgreSQL database under a role that may only SELECT (so a
// write would fail, and be logged): both serve the same rooms, both
// indexes converge, a redaction leaves both within a second of being
// stored, and a replica killed and restarted catches up.
func TestWebReplicasOnOnePostgres(t *testing.T) {
	webBin := buildWeb(t)
	dsn := pgtest.NewDatabase(t)
	w := newWorld(t, "MXARCHIVE_DATABASE_TYPE=postgres", "MXARCHIVE_DATABASE_URI="+dsn)
	room := w.publicRoom("replicas", "world_readable")
	w.inviteBot(room)
	w.matchesHomeserver(room, 60*time.Second)
	roDSN := readOnlyRole(t, dsn)
	replicas := []*replica{{name: "web1", dir: t.TempDir()}, {name: "web2", dir: t.TempDir()}}
	for _, r := range replicas {
		w.startReplica(webBin, r, roDSN)
	}

	// Both indexes converge on a new message.
	sent := time.Now()
	msg := w.alice.Send(t, room, "m.room.message", text("quokka arrives on both replicas"))
	for _, r := range replicas {
		for !r.finds("quokka", msg) {
			if time.Since(sent) > 30*time.Second {
				t.Fatalf("%s: search does not find a new message after %s", r.name, time.Since(sent))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: search finds a new message %s after it was sent to the homeserver", r.name, time.Since(sent).Round(time.Millisecond))
	}

	// Both serve the same rooms, and the same day.
	slug := w.slugOf(w.st, room)
	day := time.Now().UTC().Format("2006-01-02")
	for _, path := range []string{"/api/v1/rooms", "/api/v1/rooms/" + slug + "/events?date=" + day, "/api/v1/events/" + msg} {
		c1, b1 := fetch(replicas[0].url + path)
		c2, b2 := fetch(replicas[1].url + path)
		if c1 != http.StatusOK || c1 != c2 || b1 != b2 || !strings.Contains(b1, room) {
			t.Errorf("%s: web1 %d, web2 %d; the same body: %v\n%s", path, c1, c2, b1 == b2, tail(b1, 500))
		}
	}

	// A redaction: gone from both replicas' pages and searches within 1 s
	// of the archiver storing it.
	secret := w.alice.Send(t, room, "m.room.message", text("wombat secret to be redacted"))
	for _, r := range replicas {
		w.waitFor(r.name+" to show and find the secret", 30*time.Second, func() bool { return r.shows("wombat", secret) && r.finds("wombat", secret) })
	}
	redactSent := time.Now()
	w.alice.Redact(t, room, secret, "oops")
	// Measured from when the archiver applied it (its own clock, this
	// machine's), not from when this test noticed.
	var stored time.Time
	for stored.IsZero() {
		if time.Since(redactSent) > 30*time.Second {
			t.Fatal("the archiver did not store the redaction in 30 s")
		}
		red, err := w.st.RedactionOf(context.Background(), id.EventID(secret))
		if err == nil {
			stored = red.AppliedAt
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, r := range replicas {
		for r.shows("wombat", secret) || r.finds("wombat", secret) {
			if time.Since(stored) > time.Second {
				t.Fatalf("%s still shows the redacted message %s after the archiver stored the redaction", r.name, time.Since(stored))
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: redacted message gone %s after the archiver stored the redaction, %s after the redaction was sent to the homeserver",
			r.name, time.Since(stored).Round(time.Millisecond), time.Since(redactSent).Round(time.Millisecond))
	}

	// One replica killed the hard way; messages arrive while it is down;
	// restarted on its data directory, it catches up.
	down := replicas[1]
	down.kill()
	var missed []string
	for i := range 3 {
		missed = append(missed, w.alice.Send(t, room, "m.room.message", text(fmt.Sprintf("platypus %d while web2 is down", i))))
	}
	w.waitFor("web1 to find the messages sent while web2 was down", 30*time.Second, func() bool {
		for _, ev := range missed {
			if !replicas[0].finds("platypus", ev) {
				return false
			}
		}
		return true
	})
	restarted := time.Now()
	w.startReplica(webBin, down, roDSN)
	ready := time.Now()
	for _, ev := range missed {
		for !down.finds("platypus", ev) {
			if time.Since(ready) > 30*time.Second {
				t.Fatalf("web2 has not caught up %s after its restart", time.Since(restarted))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("web2: ready %s after its restart, caught up %s later", ready.Sub(restarted).Round(time.Millisecond), time.Since(ready).Round(time.Millisecond))

	// Neither ever tried to write: the role would have refused it, and
	// the refusal would be in its log.
	for _, r := range replicas {
		b, err := os.ReadFile(r.log)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"permission denied", "level=ERROR"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s logged %q:\n%s", r.name, bad, tail(string(b), 2000))
			}
		}
	}
}
