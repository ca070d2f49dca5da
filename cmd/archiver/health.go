package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mxarchive/mxarchive/store"
)

// health answers /healthz and /readyz on the appservice listener, for
// systemd or Kubernetes probes. /healthz means the process serves HTTP;
// /readyz also needs the database and the homeserver to answer. Answering
// at all proves the appservice listener is up.
type health struct {
	st    *store.Store
	hsURL string
	every time.Duration
	log   *slog.Logger
	http  *http.Client
	now   func() time.Time
	// lockHeld, if set, is the archiver lock's Held: not ready while
	// its database session is being replaced.
	lockHeld func() bool

	mu      sync.Mutex
	probed  time.Time
	hsError error
}

// newHealth probes the homeserver's /versions at most once per every:
// probes arrive every few seconds, and the homeserver should not pay for
// them.
func newHealth(st *store.Store, homeserver string, every time.Duration, log *slog.Logger) *health {
	return &health{st: st, hsURL: strings.TrimRight(homeserver, "/"), every: every, log: log,
		http: &http.Client{Timeout: 5 * time.Second}, now: time.Now}
}

// wrap serves the probes and passes everything else to the appservice.
func (h *health) wrap(app http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", h.readyz)
	return mux
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := h.st.Ping(r.Context()); err != nil {
		h.log.Warn("readiness: the database is not answering", "err", err)
		http.Error(w, "not ready: the database is not answering", http.StatusServiceUnavailable)
		return
	}
	if h.lockHeld != nil && !h.lockHeld() {
		http.Error(w, "not ready: the archiver lock's database session ended; it is being taken again", http.StatusServiceUnavailable)
		return
	}
	if err := h.homeserver(r.Context()); err != nil {
		http.Error(w, "not ready: the homeserver is not answering: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

// homeserver returns the outcome of the latest /versions probe, probing
// again once the last one is older than h.every.
func (h *health) homeserver(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.probed.IsZero() && h.now().Sub(h.probed) < h.every {
		return h.hsError
	}
	h.probed = h.now()
	h.hsError = h.probe(ctx)
	if h.hsError != nil {
		h.log.Warn("readiness: the homeserver is not answering", "err", h.hsError)
	}
	return h.hsError
}

func (h *health) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.hsURL+"/_matrix/client/versions", nil)
	if err != nil {
		return fmt.Errorf("probe /versions: %w", err)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return fmt.Errorf("probe /versions: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe /versions: HTTP %d", resp.StatusCode)
	}
	return nil
}
