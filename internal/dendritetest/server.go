package dendritetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	// readyTimeout bounds the wait for GET /_matrix/client/versions to
	// answer 200 after the process is started.
	readyTimeout = 60 * time.Second
	// stopGrace is how long Dendrite gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// failureLogLines is how much of the log a failed test shows.
	failureLogLines = 100
)

// Options configures Start.
type Options struct {
	// ServerName is the homeserver's server_name (the part after ':' in
	// user IDs). Default "hs.test". It is not resolvable; federation is off.
	ServerName string
	// Registrations are appservice registration YAML files to load
	// (app_service_api.config_files). See Registration.Write.
	Registrations []string
	// Configure, if set, may change the generated dendrite.yaml (as a
	// generic YAML tree) before it is written, e.g.
	// cfg["global"].(map[string]any)["jetstream"].(map[string]any)["in_memory"] = true.
	Configure func(cfg map[string]any)
}

// Server is a running Dendrite homeserver. Its methods may be called from
// one goroutine at a time; Users made from it may be used concurrently.
type Server struct {
	// URL is the client-server API base, http://127.0.0.1:PORT (no slash).
	URL string
	// ServerName is the homeserver's server_name.
	ServerName string
	// Dir holds the state: dendrite.yaml, matrix_key.pem, the SQLite
	// databases, jetstream/, media/ and dendrite.log.
	Dir string
	// SharedSecret is the registration_shared_secret.
	SharedSecret string

	addr    string // 127.0.0.1:PORT
	config  string // path of dendrite.yaml
	logPath string
	binDir  string
	client  *http.Client

	mu   sync.Mutex
	proc *process // nil while stopped

	logShown atomic.Bool // a failure message already holds the log's tail

	sentMu sync.Mutex
	sent   map[string]string // room ID → the last event a User sent there
}

// noteSent records eventID as the last event a User of s sent in roomID.
func (s *Server) noteSent(roomID, eventID string) {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	if s.sent == nil {
		s.sent = map[string]string{}
	}
	s.sent[roomID] = eventID
}

// LastSent is the last event the Users of s sent in roomID (with Send,
// SendState or Redact), "" for none. The homeserver accepted it, but its
// room history (/messages) catches up asynchronously: a test comparing
// with that history first waits until it shows this event.
func (s *Server) LastSent(roomID string) string {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	return s.sent[roomID]
}

// process is one run of the dendrite binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// Start runs a fresh Dendrite monolith for t on 127.0.0.1 and waits until it
// answers GET /_matrix/client/versions. It is stopped, and its state removed,
// when t ends; if t failed, the last lines of its log are logged first.
// Failing to start fails the test (skipping is only for a missing build, see
// Binaries).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binaries(t)
	if opts.ServerName == "" {
		opts.ServerName = "hs.test"
	}

	dir, err := stateDir(t)
	if err != nil {
		t.Fatalf("dendritetest: %v", err)
	}
	s := &Server{
		ServerName:   opts.ServerName,
		Dir:          dir,
		SharedSecret: randomHex(16),
		config:       filepath.Join(dir, "dendrite.yaml"),
		logPath:      filepath.Join(dir, "dendrite.log"),
		binDir:       bin,
		client:       &http.Client{Timeout: 2 * time.Minute},
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("dendritetest: stopping Dendrite: %v", err)
		}
		if t.Failed() && !s.logShown.Load() {
			t.Logf("dendritetest: last %d lines of %s:\n%s", failureLogLines, s.logPath, s.LogTail(failureLogLines))
		}
		s.client.CloseIdleConnections()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("dendritetest: %v", err)
		}
	})

	if out, err := exec.Command(filepath.Join(bin, "generate-keys"),
		"-private-key", filepath.Join(dir, "matrix_key.pem")).CombinedOutput(); err != nil {
		t.Fatalf("dendritetest: generate-keys: %v\n%s", err, out)
	}
	for _, reg := range opts.Registrations {
		if _, err := os.Stat(reg); err != nil {
			t.Fatalf("dendritetest: appservice registration: %v", err)
		}
	}

	// The free port is found by binding :0 and closing it, so another
	// process may take it before Dendrite binds it: retry with a new port.
	if err := s.writeConfig(opts); err != nil {
		t.Fatalf("dendritetest: %v", err)
	}
	began := time.Now()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("dendritetest: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "http://" + s.addr
		err = s.start()
		if err == nil {
			break
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Fatalf("dendritetest: starting Dendrite: %v", err)
	}
	t.Logf("dendritetest: Dendrite %s (%s) ready in %v, state in %s",
		s.URL, s.ServerName, time.Since(began).Round(time.Millisecond), dir)
	return s
}

// Restart stops Dendrite (SIGTERM) and starts it again on the same port with
// the same state: whatever it had not yet delivered to appservices is
// delivered after the restart. Access tokens stay valid.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	began := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("dendritetest: restart: stopping: %v", err)
	}
	stopped := time.Now()
	if err := s.start(); err != nil {
		t.Fatalf("dendritetest: restart: %v", err)
	}
	t.Logf("dendritetest: Dendrite restarted (stop %v, start %v)",
		stopped.Sub(began).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
}

// Stop stops Dendrite now (it is stopped at cleanup anyway); Restart starts
// it again. Stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("dendritetest: stopping Dendrite: %v", err)
	}
}

// PID returns the process id of the running dendrite, or 0 if stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// LogPath is the file receiving Dendrite's stdout and stderr, across
// restarts.
func (s *Server) LogPath() string { return s.logPath }

// LogTail returns the last n lines of Dendrite's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	return lastLines(string(b), n)
}

// start runs the dendrite binary and waits until it is ready. On failure
// the process is gone and the error holds the tail of its log.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== dendritetest: starting %s on %s at %s ===\n",
		filepath.Join(s.binDir, "dendrite"), s.addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(filepath.Join(s.binDir, "dendrite"),
		"-config", s.config,
		"-http-bind-address", s.addr)
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	logf.Close() // the child has its own copy
	if err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := s.waitReady(p); err != nil {
		_ = s.kill(p)
		s.proc = nil
		s.logShown.Store(true)
		return fmt.Errorf("%w\nlast %d lines of %s:\n%s", err, failureLogLines, s.logPath, s.LogTail(failureLogLines))
	}
	return nil
}

// waitReady polls /_matrix/client/versions until it answers 200.
func (s *Server) waitReady(p *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("dendrite exited before it was ready: %v", p.err)
		default:
		}
		resp, err := client.Get(s.URL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /_matrix/client/versions: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits, then SIGKILL after stopGrace.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil // a non-zero exit status after SIGTERM is fine
	case <-time.After(stopGrace):
	}
	if err := s.kill(p); err != nil {
		return err
	}
	appendLog(s.logPath, "=== dendritetest: no exit %v after SIGTERM; killed ===\n", stopGrace)
	return nil
}

func (s *Server) kill(p *process) error {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("dendrite (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

func appendLog(path, format string, args ...any) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format, args...)
}

// stateDir makes the state directory: on tmpfs (/dev/shm) when there is
// one, since Dendrite's SQLite and JetStream are fsync-bound, else under
// the test's temporary directory. The caller removes it.
func stateDir(t testing.TB) (string, error) {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		sweepShm()
		if dir, err := os.MkdirTemp("/dev/shm", shmPrefix); err == nil {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
				os.RemoveAll(dir)
				return "", err
			}
			return dir, nil
		}
	}
	return os.MkdirTemp(t.TempDir(), "dendrite-")
}

const (
	shmPrefix = "dendritetest-"
	// ownerFile holds the pid of the test binary owning a state directory.
	ownerFile = "owner.pid"
)

var sweepOnce sync.Once

// sweepShm removes, once per test binary, the state directories in
// /dev/shm left by test binaries that died without cleaning up (killed by
// a -timeout panic, say: their Dendrite dies with them, but tmpfs keeps
// its files until removed).
func sweepShm() {
	sweepOnce.Do(func() {
		dirs, _ := filepath.Glob(filepath.Join("/dev/shm", shmPrefix+"*"))
		for _, dir := range dirs {
			b, err := os.ReadFile(filepath.Join(dir, ownerFile))
			if err != nil {
				continue // not ours, or being created
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid == os.Getpid() || processAlive(pid) {
				continue
			}
			os.RemoveAll(dir)
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// writeConfig writes dendrite.yaml for s.
func (s *Server) writeConfig(opts Options) error {
	db := func(name string) map[string]any {
		return map[string]any{"connection_string": "file:" + filepath.Join(s.Dir, name+".db")}
	}
	registrations := []string{}
	for _, r := range opts.Registrations {
		abs, err := filepath.Abs(r)
		if err != nil {
			return err
		}
		registrations = append(registrations, abs)
	}
	cfg := map[string]any{
		"version": 2,
		"global": map[string]any{
			"server_name":                    s.ServerName,
			"private_key":                    filepath.Join(s.Dir, "matrix_key.pem"),
			"key_validity_period":            "168h0m0s",
			"database":                       map[string]any{"connection_string": ""},
			"disable_federation":             true,
			"presence":                       map[string]any{"enable_inbound": false, "enable_outbound": false},
			"report_stats":                   map[string]any{"enabled": false},
			"server_notices":                 map[string]any{"enabled": false},
			"trusted_third_party_id_servers": []string{},
			"metrics":                        map[string]any{"enabled": false},
			"dns_cache":                      map[string]any{"enabled": false},
			"jetstream": map[string]any{
				"storage_path": filepath.Join(s.Dir, "jetstream"),
				"in_memory":    false,
				"topic_prefix": "Dendrite",
			},
		},
		"app_service_api": map[string]any{
			"disable_tls_validation": false,
			"legacy_auth":            false,
			"legacy_paths":           false,
			"config_files":           registrations,
		},
		"client_api": map[string]any{
			"registration_disabled":       true,
			"guests_disabled":             true,
			"registration_shared_secret":  s.SharedSecret,
			"enable_registration_captcha": false,
			"rate_limiting":               map[string]any{"enabled": false, "threshold": 20, "cooloff_ms": 500},
		},
		"federation_api": map[string]any{
			"database":         db("federationapi"),
			"key_perspectives": []any{},
		},
		"key_server": map[string]any{"database": db("keyserver")},
		"media_api": map[string]any{
			"database":                 db("mediaapi"),
			"base_path":                filepath.Join(s.Dir, "media"),
			"max_file_size_bytes":      10485760,
			"dynamic_thumbnails":       false,
			"max_thumbnail_generators": 1,
		},
		"room_server": map[string]any{"database": db("roomserver")},
		"sync_api": map[string]any{
			"database": db("syncapi"),
			"search": map[string]any{
				"enabled":    false,
				"index_path": filepath.Join(s.Dir, "searchindex"),
				"language":   "en",
			},
		},
		"user_api": map[string]any{
			"account_database": db("userapi_accounts"),
			"bcrypt_cost":      4,
		},
		"relay_api": map[string]any{"database": db("relayapi")},
		"mscs": map[string]any{
			"database": db("mscs"),
			"mscs":     []string{},
		},
		"tracing": map[string]any{"enabled": false},
		"logging": []any{map[string]any{"type": "std", "level": "info"}},
	}
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return os.WriteFile(s.config, buf.Bytes(), 0o600)
}
