package store_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// lockProxy forwards TCP to the server, for tests of what the network
// does to the archiver lock's sessions. freeze stops forwarding on the
// connections open then, both ways, and keeps their server side open (a
// network cut; their backends live on). The first time a client asks who
// holds the lock (holderSQL), onHolder runs first. After loseAnswerTo, the
// next connection to prepare a statement holding that text is frozen once
// it has sent its Execute: the server runs it and its answer is lost.
type lockProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	frozen   []*atomic.Bool
	servers  []net.Conn // server side of each connection, same index as frozen
	all      []net.Conn
	fired    atomic.Bool
	onHolder func() // set before the first connection
	// dropAfter is loseAnswerTo's text (under mu).
	dropAfter []byte
	dropped   atomic.Bool
}

// loseAnswerTo makes the answer to the next statement holding text lost.
func (p *lockProxy) loseAnswerTo(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAfter = []byte(text)
}

func (p *lockProxy) dropText() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropAfter
}

// hasExecute reports whether a packet of frontend messages (a type byte
// and a length each) holds an Execute.
func hasExecute(b []byte) bool {
	for len(b) >= 5 {
		n := int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4])
		if b[0] == 'E' {
			return true
		}
		if n < 4 || 1+n > len(b) {
			return false
		}
		b = b[1+n:]
	}
	return false
}

func startLockProxy(t *testing.T, target string) *lockProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lockProxy{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.all {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f := new(atomic.Bool)
			p.mu.Lock()
			p.frozen = append(p.frozen, f)
			p.servers = append(p.servers, s)
			p.all = append(p.all, s, c)
			p.mu.Unlock()
			go func() { // client -> server
				buf := make([]byte, 32<<10)
				pending := false
				for {
					n, err := c.Read(buf)
					if n > 0 && !f.Load() {
						if text := p.dropText(); text != nil && !p.dropped.Load() && bytes.Contains(buf[:n], text) {
							pending = true
						}
						if pending && hasExecute(buf[:n]) && p.dropped.CompareAndSwap(false, true) {
							pending = false
							s.Write(buf[:n])
							f.Store(true) // its answer is lost; the backend lives on
							continue
						}
						if bytes.Contains(buf[:n], []byte("LIMIT 1")) && bytes.Contains(buf[:n], []byte("pg_stat_get_activity(l.pid) a WHERE")) &&
							p.onHolder != nil && p.fired.CompareAndSwap(false, true) {
							p.onHolder()
						}
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if !f.Load() {
							s.Close()
						}
						return
					}
				}
			}()
			go func() { // server -> client
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 && !f.Load() {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if !f.Load() {
							c.Close()
						}
						return
					}
				}
			}()
		}
	}()
	return p
}

// proxiedArchiver opens an archiver's store on a new database through a
// lockProxy (its statements time out after 1 s, its lock is checked every
// 100 ms) and takes the lock; direct is another store on the database,
// not through the proxy, to look and to kill. before, if set, runs on the
// proxy before its first connection.
func proxiedArchiver(t *testing.T, before func(p *lockProxy, direct *store.Store)) (p *lockProxy, st, direct *store.Store, lock *store.ArchiverLock) {
	t.Helper()
	uri := pgtest.NewDatabase(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	p = startLockProxy(t, u.Host)
	direct = openLockStore(t, uri, time.Hour)
	if before != nil {
		before(p, direct)
	}
	pu := *u
	pu.Host = p.ln.Addr().String()
	st, err = store.Open(context.Background(), store.Config{Type: "postgres", URI: pu.String(), QueryTimeout: time.Second}, t.TempDir(), storetest.Logger(t), store.Options{LockCheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if lock, err = st.LockArchiver(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release() })
	return p, st, direct, lock
}

func (p *lockProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
}

// closeFrozen closes the server side of the frozen connections: their
// backends read EOF and exit.
func (p *lockProxy) closeFrozen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.frozen {
		if f.Load() {
			p.servers[i].Close()
		}
	}
}

// When the lock's connection breaks but its backend lives on (a network
// cut; a check that timed out), the lock held by that backend is this
// archiver's, not another's: it ends that session and takes the lock again,
// rather than stop saying another archiver took it and leave a
// supervisor's restart refused until the server drops the backend (TCP
// keepalive: hours by default). helper-81's review.
func TestArchiversOwnLiveSessionIsNotAnotherArchiver(t *testing.T) {
	ctx := context.Background()
	p, st, direct, lock := proxiedArchiver(t, nil)
	oldPID := archiverLockPID(t, direct)
	p.freeze()
	select {
	case <-lock.Taken():
		holder := archiverLockPID(t, direct)
		t.Errorf("Taken closed (\"another archiver took the archiver lock\"), but the holder is backend %d, this archiver's own old lock session (%d)", holder, oldPID)
	case <-time.After(3 * time.Second):
	}
	for deadline := time.Now().Add(10 * time.Second); !lock.Held() || archiverLockPID(t, direct) == oldPID; {
		if time.Now().After(deadline) {
			t.Fatalf("the archiver did not take its lock again (held %v, holder %d, old %d)", lock.Held(), archiverLockPID(t, direct), oldPID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := st.OptOut(ctx, "@after:example.org", "test"); err != nil {
		t.Fatalf("write once the lock is taken again: %v", err)
	}
}

// The archiver's own session, alive after its connection broke, ending
// between the try of the lock (busy) and the question who holds it (no
// one now) is not another archiver: the lock is taken again (helper-82's
// review: the goroutine took "no holder", or any error asking, for
// another archiver, and the archiver stopped).
func TestArchiversOwnSessionEndingMeanwhileIsNotAnotherArchiver(t *testing.T) {
	p, _, direct, lock := proxiedArchiver(t, func(p *lockProxy, direct *store.Store) {
		p.onHolder = func() {
			p.closeFrozen()
			for deadline := time.Now().Add(5 * time.Second); archiverLockPID(t, direct) != 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	p.freeze()
	select {
	case <-lock.Taken():
		t.Fatalf("Taken closed (\"another archiver took the archiver lock\"), but no session holds it (holder %d): the archiver's own zombie ended between the try and lockHolder", archiverLockPID(t, direct))
	case <-time.After(5 * time.Second):
	}
	if !p.fired.Load() {
		t.Fatal("the holder query was never sent")
	}
	if !lock.Held() {
		t.Errorf("the archiver did not take its free lock again")
	}
}

// A try to take the lock again whose answer was lost (a network cut, a
// time limit) may have taken it: the session that holds it then is the
// archiver's own, known before it asked, and is ended, not taken for
// another archiver's (helper-83's review: the session was known only from
// the answer, and the archiver stopped with no other archiver about).
func TestArchiversSessionWhoseLockAnswerWasLostIsItsOwn(t *testing.T) {
	ctx := context.Background()
	p, st, direct, lock := proxiedArchiver(t, nil)
	p.loseAnswerTo("pg_try_advisory_lock")
	killArchiverLockSession(t, direct)
	// The try whose answer is lost, and the session it leaves holding
	// the lock.
	lost := lostTry(t, p, direct)
	select {
	case <-lock.Taken():
		t.Fatalf("Taken closed (\"another archiver took the archiver lock\"), but the holder, backend %d, is the archiver's own try", lost)
	case <-time.After(4 * time.Second):
	}
	for deadline := time.Now().Add(10 * time.Second); !lock.Held() || archiverLockPID(t, direct) == lost; {
		if time.Now().After(deadline) {
			t.Fatalf("the archiver did not take its lock again (held %v, holder %d, the lost try's %d)", lock.Held(), archiverLockPID(t, direct), lost)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := st.OptOut(ctx, "@after:example.org", "test"); err != nil {
		t.Fatalf("write once the lock is taken again: %v", err)
	}
}

// Release while the lock is being taken again, just after a try whose
// answer was lost (its session, the archiver's own, holds the lock on the
// server), ends that session: the next archiver starts, rather than be
// refused (ErrArchiverRunning) until the server drops that backend (TCP
// keepalive: hours). helper-84's review.
func TestReleaseDuringRetakeEndsTheArchiversOwnSession(t *testing.T) {
	ctx := context.Background()
	p, _, direct, lock := proxiedArchiver(t, nil)
	p.loseAnswerTo("pg_try_advisory_lock")
	killArchiverLockSession(t, direct)
	lost := lostTry(t, p, direct)
	// The operator stops the archiver now.
	if err := lock.Release(); err != nil {
		t.Logf("Release: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if h := archiverLockPID(t, direct); h != 0 {
		_, lerr := direct.LockArchiver(ctx)
		t.Errorf("after Release the archiver's own session (backend %d, its lost try %d) still holds the archiver lock; the next archiver: %v", h, lost, lerr)
	}
}

// lostTry waits for the try to take the lock whose answer p loses, and
// returns the backend it left holding the lock.
func lostTry(t *testing.T, p *lockProxy, direct *store.Store) int64 {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p.dropped.Load() {
			if lost := archiverLockPID(t, direct); lost != 0 {
				return lost
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no try's answer was lost (dropped %v)", p.dropped.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
