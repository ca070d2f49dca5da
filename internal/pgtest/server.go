package pgtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// dirPrefix starts the name of every cluster directory, followed by the pid
// of the test binary that owns it, so leftovers can be recognised.
const dirPrefix = "mxarchive-pgtest-"

// server is a running postgres process owned by this test binary.
type server struct {
	dir    string // data directory, also holding the socket and the log
	url    string // admin URL: superuser "postgres", database "postgres"
	proc   *os.Process
	exited chan struct{} // closed once the process has been reaped
}

// errPortInUse means another process took the port between our choosing it
// and postgres binding it; starting again with a new port fixes that.
var errPortInUse = errors.New("port already in use")

// startServer creates and starts a throwaway cluster.
func startServer() (*server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}

	removeStaleDirs()
	// Under os.TempDir rather than t.TempDir: the postgres user must be able
	// to reach it, and it is shared by all tests of the binary.
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	s, err := initAndStart(bin, dir, cred)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func initAndStart(bin, dir string, cred *syscall.Credential) (*server, error) {
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", dir,
		"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir // our working directory may be unreadable to postgres
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		s, err := startPostgres(bin, dir, cred)
		if !errors.Is(err, errPortInUse) || attempt == 3 {
			return s, err
		}
	}
}

// startPostgres runs postgres on a free loopback port and waits until it
// accepts connections.
func startPostgres(bin, dir string, cred *syscall.Credential) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy

	// Durability is pointless for a throwaway cluster and costs time.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", dir, "-k", dir,
		"-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig kills the server when the test binary dies, even by SIGKILL,
	// when Main cannot stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}

	s := &server{
		dir:    dir,
		url:    fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		exited: make(chan struct{}),
	}
	started := make(chan error)
	go func() {
		// Linux sends the parent-death signal when the *thread* that forked
		// the child exits, and Go may retire threads at will. So fork from a
		// locked thread and keep it (blocked in Wait) until the server is
		// gone; leaving the goroutine locked then lets that thread exit.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		s.proc = cmd.Process
		started <- nil
		cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}

	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "could not bind") {
				return nil, errPortInUse
			}
			return nil, fmt.Errorf("postgres exited before accepting connections (%v); its log:\n%s", cmd.ProcessState, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.proc.Kill()
			<-s.exited
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections within %v (last error: %v); its log:\n%s", timeout, err, log)
		}
	}
}

// stop shuts the server down and removes its directory.
func (s *server) stop() error {
	// SIGINT is a fast shutdown: it does not wait for clients that tests
	// leaked, unlike SIGTERM's smart shutdown.
	s.proc.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.proc.Kill()
		<-s.exited
	}
	return os.RemoveAll(s.dir)
}

// findBinDir returns the directory holding initdb and postgres: the one of
// postgres in $PATH, else the newest /usr/lib/postgresql/*/bin (Debian's
// layout, which is not in $PATH).
func findBinDir() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return -compareVersions(a, b) })
	for _, dir := range append(dirs, debian...) {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("no initdb and postgres found in $PATH or /usr/lib/postgresql/*/bin")
}

// compareVersions compares /usr/lib/postgresql/<version>/bin paths
// numerically, so that 10 sorts above 9.6.
func compareVersions(a, b string) int {
	va := strings.Split(filepath.Base(filepath.Dir(a)), ".")
	vb := strings.Split(filepath.Base(filepath.Dir(b)), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		na, _ := strconv.Atoi(va[i])
		nb, _ := strconv.Atoi(vb[i])
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(va), len(vb))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// postgresUser returns the credentials of the "postgres" system user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, but there is no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user has non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeStaleDirs deletes what test binaries that were killed left behind.
// Pdeathsig stopped their servers, but nobody removed the directory (about
// 40 MB) or the small System V shared memory segment postgres keeps as an
// interlock, which would pile up until the kernel refuses new ones.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		owner, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		if !dead(owner) {
			continue
		}
		// postmaster.pid: line 1 is the server's pid, line 7 "<key> <shmid>".
		pidFile, _ := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
		lines := strings.Split(string(pidFile), "\n")
		if len(lines) >= 7 {
			if !dead(lines[0]) {
				continue
			}
			removeSegment(strings.Fields(lines[6]))
		}
		os.RemoveAll(dir)
	}
}

// dead reports whether no process has the given pid. Pids are reused, so a
// false "alive" only means something is kept a little longer.
func dead(pid string) bool {
	n, err := strconv.Atoi(strings.TrimSpace(pid))
	return err == nil && n > 0 && errors.Is(syscall.Kill(n, 0), syscall.ESRCH)
}

// removeSegment removes the shared memory segment "<key> <shmid>" if it is
// still the one postgres created and nothing is attached to it.
func removeSegment(keyAndID []string) {
	if len(keyAndID) != 2 {
		return
	}
	key, err1 := strconv.ParseUint(keyAndID[0], 10, 64)
	id, err2 := strconv.Atoi(keyAndID[1])
	if err1 != nil || err2 != nil {
		return
	}
	// key_t is a 32-bit int that postgres prints as an unsigned long.
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil || desc.Perm.Key != int32(key) || desc.Nattch != 0 {
		return
	}
	unix.SysvShmCtl(id, unix.IPC_RMID, nil)
}
