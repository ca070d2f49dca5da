package store_test

import (
	"context"
	"io"
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

// freezingProxy forwards TCP to the server; freeze stops forwarding on the
// connections open then, both ways, and keeps their server side open: a
// network partition, the server's backends living on.
type freezingProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen []*atomic.Bool
	keep   []net.Conn
}

func startFreezingProxy(t *testing.T, target string) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.keep {
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
			p.keep = append(p.keep, s, c)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn, closeDst bool) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 && !f.Load() {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if err != io.EOF || !f.Load() {
							if closeDst && !f.Load() {
								dst.Close()
							}
						}
						return
					}
				}
			}
			go pipe(s, c, true)
			go pipe(c, s, false)
		}
	}()
	return p
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
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
	uri := pgtest.NewDatabase(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	p := startFreezingProxy(t, u.Host)
	pu := *u
	pu.Host = p.ln.Addr().String()
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: pu.String(), QueryTimeout: time.Second}, t.TempDir(), storetest.Logger(t), store.Options{LockCheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	direct := openLockStore(t, uri, time.Hour)
	lock, err := st.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
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
