package media

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// DefaultMaxSize is media.max_size's default: 50 MiB.
const DefaultMaxSize = 50 << 20

// Fetcher downloads queued media from the homeserver into Blobs and
// deletes the bytes of blobs no event refers to any more. The archiver runs
// one (Run); `archiver media fetch` drains the queue with it (Drain).
type Fetcher struct {
	store *store.Store
	blobs Blobs
	http  *http.Client
	base  *url.URL
	token string
	user  id.UserID
	log   *slog.Logger
	// MaxSize bounds one file (bytes past it are not read); Concurrency
	// bounds downloads in flight; Poll is how often the queue and orphans
	// are looked at.
	MaxSize     int64
	Concurrency int
	Poll        time.Duration
	// MaxTotal bounds the media store's bytes (0: no bound): a fetch that
	// would pass it waits for space ("quota"); nothing stored is deleted
	// to make room.
	MaxTotal int64
	// OnFetch, if set, is told each finished fetch's result ("fetched",
	// "failed", "gave_up", "quota") and the bytes stored: the archiver's
	// metrics.
	OnFetch func(result string, bytes int64)
	// quotaMu guards reserved: the bytes downloads in flight may still
	// write, counted against MaxTotal so that concurrent downloads cannot
	// pass it together.
	quotaMu  sync.Mutex
	reserved int64
	// minRate (bytes a second) is the least a download's body must
	// deliver in each rateWindow once the homeserver has answered; a
	// slower one is cut off and retried like any failure (tests shorten
	// the window).
	minRate    int64
	rateWindow time.Duration
	now        func() time.Time
	// owner names this fetcher's claims on queued fetches
	// (Store.ClaimMedia), which another process's fetcher leaves alone.
	owner string
	// decodes holds a place for each thumbnail being decoded
	// (thumbnailDecodes).
	decodes chan struct{}
}

// claimLease is how long a claim on a queued fetch lasts unless renewed
// (every claimLease/3 while the fetcher works): the delay after which a
// killed process's claims pass to another.
const claimLease = 30 * time.Second

// NewFetcher returns a fetcher using the homeserver at address as user
// (the archive bot) with the appservice token.
func NewFetcher(st *store.Store, blobs Blobs, address, asToken string, user id.UserID, log *slog.Logger) (*Fetcher, error) {
	u, err := url.Parse(strings.TrimRight(address, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("homeserver.address %q is not an http(s) URL", address)
	}
	var owner [12]byte
	if _, err := rand.Read(owner[:]); err != nil {
		return nil, fmt.Errorf("media fetcher: %w", err)
	}
	return &Fetcher{
		store: st, blobs: blobs, base: u, token: asToken, user: user, log: log, owner: hex.EncodeToString(owner[:]),
		// A stalled homeserver must not hold a download slot forever; a
		// 50 MiB file at 1 Mbit/s takes ~7 minutes.
		http:    &http.Client{Timeout: 15 * time.Minute, CheckRedirect: tokenStaysHome(u)},
		minRate: defaultMinRate, rateWindow: defaultRateWindow,
		MaxSize: DefaultMaxSize, Concurrency: 4, Poll: 2 * time.Second, now: time.Now,
		decodes: make(chan struct{}, thumbnailDecodes),
	}, nil
}

// tokenStaysHome is the fetcher's redirect policy: a download the
// homeserver redirects (to a bucket, a CDN, a media repository) is
// followed, at most maxRedirects times, but the appservice token, which
// is the appservice's whole power over the homeserver, goes only to the
// homeserver's own origin (scheme, host and port). Go's client strips
// the Authorization header on a redirect to another host name only: it
// kept it for the same name on another port, over plain HTTP from HTTPS,
// and for every subdomain. It runs on every hop, after the client has
// copied the first request's headers to the next: a hop back to the
// homeserver carries the token again, and only that one.
func tokenStaysHome(home *url.URL) func(*http.Request, []*http.Request) error {
	want := origin(home)
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if origin(req.URL) != want {
			req.Header.Del("Authorization")
		}
		return nil
	}
}

// maxRedirects is as many redirects as Go's client follows by default.
const maxRedirects = 10

// origin is u's scheme, host and port, in one form for every way of
// writing them (case, a default port left out).
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// A download whose body brings less than defaultMinRate bytes a second,
// averaged over each defaultRateWindow, is abandoned and retried later: a
// server dripping a file holds a download slot for a window, not for the
// client's 15 minutes. 1 KiB/s is far below any link that could deliver
// the 50 MiB a file may have within those 15 minutes (57 KiB/s), so only
// a stalled or hostile sender trips it; the window is long enough to ride
// out a pause (a garbage collection, a busy disk) on the homeserver.
const (
	defaultMinRate    = 1 << 10
	defaultRateWindow = 30 * time.Second
)

// errTooSlow ends a download below the minimum rate.
var errTooSlow = errors.New("download slower than the minimum rate")

// fetchError is a failed download: permanent ones are not retried
// automatically.
type fetchError struct {
	status    int
	errcode   string
	permanent bool
	err       error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// Download fetches one mxc URI through the authenticated client media API
// (MSC3916), falling back to the legacy endpoint when the homeserver does
// not know the new one, and stores it. It returns the blob and the content
// type sniffed from its bytes.
func (f *Fetcher) Download(ctx context.Context, m event.MXC) (Blob, string, error) {
	return f.download(ctx, m, f.MaxSize)
}

// download is Download reading at most limit bytes (<= 0: no limit).
func (f *Fetcher) download(ctx context.Context, m event.MXC, limit int64) (Blob, string, error) {
	// Validated again here: this is where the URI becomes a URL, and
	// nothing the room sent may choose another path or host.
	if _, ok := event.ParseMXC(m.String()); !ok {
		return Blob{}, "", &fetchError{permanent: true, err: fmt.Errorf("invalid mxc URI %q", m.String())}
	}
	path := "/" + url.PathEscape(m.Server) + "/" + url.PathEscape(m.MediaID)
	b, ct, err := f.get(ctx, "/_matrix/client/v1/media/download"+path, nil, limit)
	var fe *fetchError
	if errors.As(err, &fe) && (fe.status == http.StatusNotFound && fe.errcode == "M_UNRECOGNIZED" ||
		fe.status == http.StatusBadRequest || fe.status == http.StatusMethodNotAllowed) {
		b, ct, err = f.get(ctx, "/_matrix/media/v3/download"+path, url.Values{"allow_remote": {"true"}}, limit)
	}
	return b, ct, err
}

// headBuffer keeps the first SniffLen bytes written to it.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if n := SniffLen - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (f *Fetcher) get(ctx context.Context, path string, q url.Values, limit int64) (Blob, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := f.request(ctx, path, q)
	if err != nil {
		return Blob{}, "", err
	}
	defer resp.Body.Close()
	if limit > 0 && resp.ContentLength > limit {
		return Blob{}, "", &fetchError{permanent: true, err: fmt.Errorf("%w: %d bytes announced", ErrTooLarge, resp.ContentLength)}
	}
	body := &countingReader{r: resp.Body}
	stop := f.watchRate(body, cancel)
	defer stop()
	head := &headBuffer{}
	b, err := f.blobs.Put(ctx, io.TeeReader(body, head), limit)
	if errors.Is(err, ErrTooLarge) {
		return Blob{}, "", &fetchError{permanent: true, err: err}
	}
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, errTooSlow) {
		err = cause
	}
	if err != nil {
		return Blob{}, "", &fetchError{err: fmt.Errorf("GET %s: %w", path, err)}
	}
	return b, Sniff(head.b), nil
}

// countingReader counts the bytes read through it, and whether it has
// ended, for watchRate.
type countingReader struct {
	r     io.Reader
	n     atomic.Int64
	ended atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil {
		c.ended.Store(true)
	}
	return n, err
}

// watchRate cancels a download (with errTooSlow) at the end of the first
// rateWindow in which body delivered less than minRate a second; a timer,
// not a check in Read, because a sender that stops altogether never
// returns from Read. The watch ends with the body: storing it afterwards
// (an upload to a bucket) is not the sender's to hurry. stop ends it
// sooner.
func (f *Fetcher) watchRate(body *countingReader, cancel context.CancelCauseFunc) (stop func()) {
	if f.minRate <= 0 || f.rateWindow <= 0 {
		return func() {}
	}
	want := f.minRate * int64(f.rateWindow) / int64(time.Second)
	var mu sync.Mutex
	var t *time.Timer
	stopped, last := false, int64(0)
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || body.ended.Load() {
			return
		}
		n := body.n.Load()
		if n-last < want {
			cancel(fmt.Errorf("%w: %d bytes in %s (minimum %d bytes/s)", errTooSlow, n-last, f.rateWindow, f.minRate))
			return
		}
		last = n
		t = time.AfterFunc(f.rateWindow, check)
	}
	mu.Lock()
	t = time.AfterFunc(f.rateWindow, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// request GETs path from the homeserver as the bot: a 200 response, whose
// body the caller closes, or a *fetchError.
func (f *Fetcher) request(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("user_id", string(f.user))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base.String()+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, &fetchError{permanent: true, err: err}
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, &fetchError{err: fmt.Errorf("GET %s: %w", path, err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var me struct {
			ErrCode string `json:"errcode"`
			Error   string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&me)
		// 4xx but rate limits is the homeserver's final word on this file
		// (not found, forbidden, too large for it).
		perm := resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests
		return nil, &fetchError{status: resp.StatusCode, errcode: me.ErrCode, permanent: perm,
			err: fmt.Errorf("GET %s: homeserver answered %d %s %s", path, resp.StatusCode, me.ErrCode, me.Error)}
	}
	return resp, nil
}

// maxRemoteThumbnail bounds the bytes of a thumbnail the homeserver makes.
const maxRemoteThumbnail = 4 << 20

// remoteThumbnail asks the homeserver for a thumbnail of m fitting the
// page (authenticated endpoint, then the legacy one) and accepts it only if
// its bytes are an inline image type whose header is within ThumbnailWidth
// × ThumbnailHeight: the homeserver's word on what it sent is not trusted
// any more than the room's.
func (f *Fetcher) remoteThumbnail(ctx context.Context, m event.MXC) ([]byte, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	path := "/" + url.PathEscape(m.Server) + "/" + url.PathEscape(m.MediaID)
	size := func() url.Values {
		return url.Values{"width": {strconv.Itoa(ThumbnailWidth)}, "height": {strconv.Itoa(ThumbnailHeight)}, "method": {"scale"}}
	}
	resp, err := f.request(ctx, "/_matrix/client/v1/media/thumbnail"+path, size())
	var fe *fetchError
	if errors.As(err, &fe) && (fe.status == http.StatusNotFound && fe.errcode == "M_UNRECOGNIZED" ||
		fe.status == http.StatusBadRequest || fe.status == http.StatusMethodNotAllowed) {
		q := size()
		q.Set("allow_remote", "true")
		resp, err = f.request(ctx, "/_matrix/media/v3/thumbnail"+path, q)
	}
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body := &countingReader{r: resp.Body}
	stop := f.watchRate(body, cancel)
	defer stop()
	b, err := io.ReadAll(io.LimitReader(body, maxRemoteThumbnail+1))
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, errTooSlow) {
		err = cause
	}
	if err != nil {
		return nil, "", fmt.Errorf("homeserver thumbnail: %w", err)
	}
	if len(b) > maxRemoteThumbnail {
		return nil, "", fmt.Errorf("homeserver thumbnail: %w", ErrTooLarge)
	}
	ct := Sniff(b)
	if !IsImage(ct) {
		return nil, "", fmt.Errorf("homeserver thumbnail is %s, not an image shown inline", ct)
	}
	cfg, _, err := CheckPixels(bytes.NewReader(b), MaxPixels)
	if err != nil {
		return nil, "", fmt.Errorf("homeserver thumbnail: %w", err)
	}
	if cfg.Width > ThumbnailWidth || cfg.Height > ThumbnailHeight {
		return nil, "", fmt.Errorf("homeserver thumbnail is %d×%d, larger than asked", cfg.Width, cfg.Height)
	}
	return b, ct, nil
}

// backoff is the wait before retry n (1-based): 30 s doubling, at most 6 h.
func backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// maxAttempts: after this many failures a fetch waits for `archiver media
// fetch`; permanent failures give up after permanentAttempts (a remote
// homeserver may be briefly unreachable behind a 404).
const (
	maxAttempts       = 12
	permanentAttempts = 3
)

// fetch runs one job and records its outcome.
//
// Deleting orphaned bytes (Collect) does not wait for it: a download that
// finds its bytes already stored (dedup) while a deletion pass removes
// them sees them missing when it records them (MediaFetched checks under
// the database's write lock, which DeleteOrphans holds) and downloads
// them again, as against another process's deletion pass.
func (f *Fetcher) fetch(ctx context.Context, j store.MediaJob) error {
	log := f.log.With("room_id", j.RoomID, "mxc", j.String())
	limit, release, ok, err := f.reserve(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return f.waitForSpace(ctx, j, log)
	}
	defer release()
	b, ct, err := f.download(ctx, j.MXC, limit)
	if errors.Is(err, ErrTooLarge) && limit != f.MaxSize {
		// Within media.max_size but not within what the quota leaves.
		return f.waitForSpace(ctx, j, log)
	}
	var kept bool
	if err == nil {
		kept, err = f.store.MediaFetched(ctx, j.MXC, b.Hash, b.Size, ct, f.present(ctx, b.Hash))
		if errors.Is(err, ErrNotFound) {
			// Another process's deletion pass removed the bytes this
			// download found already on disk, before they were recorded:
			// download them again, once.
			log.Info("media bytes deleted by another process while recording them; fetching again")
			if b, ct, err = f.download(ctx, j.MXC, limit); err == nil {
				kept, err = f.store.MediaFetched(ctx, j.MXC, b.Hash, b.Size, ct, f.present(ctx, b.Hash))
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: the job stays queued as it was
		}
		var fe *fetchError
		perm := errors.As(err, &fe) && fe.permanent
		n := j.Attempts + 1
		giveUp := n >= maxAttempts || perm && n >= permanentAttempts
		log.Warn("media fetch failed", "attempt", n, "gave_up", giveUp, "err", err)
		f.report(map[bool]string{false: "failed", true: "gave_up"}[giveUp], 0)
		return f.store.MediaFailed(ctx, j.MXC, err.Error(), f.now().Add(backoff(n)), giveUp)
	}
	f.report("fetched", b.Size)
	log.Debug("media fetched", "sha256", b.Hash, "size", b.Size, "content_type", ct, "kept", kept)
	if kept {
		if err := f.thumbnail(ctx, j.MXC, b, ct); err != nil {
			// Pages then show the image itself: a thumbnail is an
			// optimisation, not a condition for serving.
			log.Warn("media thumbnail not made", "err", err)
		}
	}
	return nil
}

// quotaRetry is how long a fetch refused for space waits before it is
// tried again, unless space frees up first (Collect).
const quotaRetry = 10 * time.Minute

// reserve returns how many bytes the next download may write: MaxSize, or
// less when MaxTotal leaves less (ok false: nothing left), and the release
// of that reservation.
func (f *Fetcher) reserve(ctx context.Context) (limit int64, release func(), ok bool, err error) {
	if f.MaxTotal <= 0 {
		return f.MaxSize, func() {}, true, nil
	}
	st, err := f.store.MediaStats(ctx)
	if err != nil {
		return 0, nil, false, err
	}
	f.quotaMu.Lock()
	defer f.quotaMu.Unlock()
	left := f.MaxTotal - st.Bytes - f.reserved
	if left <= 0 {
		return 0, nil, false, nil
	}
	limit = f.MaxSize
	if limit <= 0 || left < limit {
		limit = left
	}
	f.reserved += limit
	return limit, func() {
		f.quotaMu.Lock()
		f.reserved -= limit
		f.quotaMu.Unlock()
	}, true, nil
}

// waitForSpace records a fetch refused because the media store is full.
func (f *Fetcher) waitForSpace(ctx context.Context, j store.MediaJob, log *slog.Logger) error {
	log.Warn("media fetch refused: the media store is full (media.max_total); waiting for space", "max_total", f.MaxTotal)
	f.report("quota", 0)
	return f.store.MediaWaitsForSpace(ctx, j.MXC, fmt.Sprintf("the media store is full (media.max_total %d bytes)", f.MaxTotal), f.now().Add(quotaRetry))
}

// report tells OnFetch, if set, a fetch's result.
func (f *Fetcher) report(result string, bytes int64) {
	if f.OnFetch != nil {
		f.OnFetch(result, bytes)
	}
}

// present returns the check MediaFetched makes, under the database's
// write lock, that the blob hash is still on disk.
func (f *Fetcher) present(ctx context.Context, hash string) func() error {
	return func() error {
		fl, err := f.blobs.Open(ctx, hash)
		if err != nil {
			return err
		}
		return fl.Close()
	}
}

// Thumbnails are made for images larger than ThumbnailAbove bytes, to fit
// ThumbnailWidth×ThumbnailHeight: what a page shows inline.
const (
	ThumbnailAbove  = 256 << 10
	ThumbnailWidth  = 800
	ThumbnailHeight = 800
)

// thumbnailDecodes is how many of a fetcher's own thumbnails are decoded
// at once, whatever Concurrency says: each may take up to MaxDecodeBytes
// and a core, while a download slot mostly waits on the network.
const thumbnailDecodes = 1

// thumbnail makes and records a thumbnail of a stored image: the
// homeserver's first (it has often made one already, and decoding a
// large image here costs memory and time), else the archive's own, one
// decode at a time (thumbnailDecodes).
func (f *Fetcher) thumbnail(ctx context.Context, m event.MXC, b Blob, ct string) error {
	remote := func(ctx context.Context) ([]byte, string, error) { return f.remoteThumbnail(ctx, m) }
	return storeThumbnail(ctx, f.store, f.blobs, m, b, ct, remote, f.decodes, f.log)
}

// StoreThumbnail makes and records the archive's thumbnail of an image
// stored for m as b (content type ct), when it is worth one (an inline
// image over ThumbnailAbove bytes), as the fetcher does after a download:
// an import of the same file must leave it as a fetch would. It returns
// nil when none is wanted or none would be smaller than the image.
func StoreThumbnail(ctx context.Context, st *store.Store, blobs Blobs, m event.MXC, b Blob, ct string, log *slog.Logger) error {
	return storeThumbnail(ctx, st, blobs, m, b, ct, nil, nil, log)
}

// storeThumbnail is StoreThumbnail asking remote first, if set, and
// holding a place in decodes, if set, while it decodes.
//
// Whether a thumbnail is worth making is decided on bytes, not only on
// pixels: an image of page size may still be large (a 32×32 icon padded
// with a 40 MiB ancillary chunk was skipped as "already page-sized", and
// /thumbnail, in every page's <img>, served the 40 MiB to each reader).
// So every image over ThumbnailAbove bytes is thumbnailed, re-encoded at
// its own size if it is no larger than the box, and the thumbnail is kept
// only when it is smaller than the image.
func storeThumbnail(ctx context.Context, st *store.Store, blobs Blobs, m event.MXC, b Blob, ct string,
	remote func(context.Context) ([]byte, string, error), decodes chan struct{}, log *slog.Logger) error {
	if !IsImage(ct) || b.Size <= ThumbnailAbove {
		return nil
	}
	src, err := blobs.Open(ctx, b.Hash)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, _, err := CheckPixels(src, MaxPixels); err != nil {
		return err
	}
	var out []byte
	if remote != nil {
		var rerr error
		if out, ct, rerr = remote(ctx); rerr == nil && int64(len(out)) >= b.Size {
			rerr = fmt.Errorf("homeserver thumbnail of %d bytes is no smaller than the image", len(out))
		}
		if rerr != nil {
			log.Debug("media: no usable homeserver thumbnail; making one", "mxc", m.String(), "err", rerr)
			out = nil
		}
	}
	if out == nil {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if decodes != nil {
			select {
			case decodes <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		out, ct, err = Thumbnail(src, ThumbnailWidth, ThumbnailHeight, MaxPixels)
		if decodes != nil {
			<-decodes
		}
		if err != nil {
			return err
		}
		if int64(len(out)) >= b.Size {
			log.Debug("media: thumbnail no smaller than the image; none kept", "mxc", m.String(), "size", b.Size, "thumbnail_size", len(out))
			return nil
		}
	}
	tb, err := blobs.Put(ctx, bytes.NewReader(out), 0)
	if err != nil {
		return err
	}
	// A thumbnail lost to another process's deletion pass is not made
	// again: pages then show the image itself.
	_, err = st.MediaThumbnail(ctx, m, tb.Hash, ct, func() error {
		fl, err := blobs.Open(ctx, tb.Hash)
		if err != nil {
			return err
		}
		return fl.Close()
	})
	return err
}

// Collect deletes the bytes of blobs no media row names any more, then
// forgets them. It returns how many it deleted. It runs beside downloads
// in flight (see fetch), so a slow one never delays an erasure.
func (f *Fetcher) Collect(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := f.store.DeleteOrphans(ctx, 100, func(h string) error { return f.blobs.Delete(ctx, h) })
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			if total > 0 && f.MaxTotal > 0 {
				// Fetches waiting for space may fit now.
				return total, f.store.MediaSpaceFreed(ctx)
			}
			return total, nil
		}
	}
}

// work fetches the jobs due (of room, or all) with up to Concurrency in
// flight, claiming more as each finishes (and every Poll while a slot is
// free), until none is due and none is in flight, at most limit jobs when
// limit > 0, or the first error. It returns how many it ran. Jobs are claimed
// as slots free, not in batches waited for whole, so one slow download
// holds its own slot and no other file.
func (f *Fetcher) work(ctx context.Context, room id.RoomID, limit int, progress func(done int)) (int, error) {
	slots := max(1, f.Concurrency)
	finished := make(chan error, slots)
	inflight, started, done := 0, 0, 0
	var firstErr error
	var renewing chan struct{}
	defer func() {
		if renewing == nil {
			return
		}
		close(renewing)
		// Claims not ended by their job (shutdown, an error) are given
		// back at once rather than left to lapse.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := f.store.ReleaseMedia(rctx, f.owner); err != nil {
			f.log.Warn("media: releasing claims", "err", err)
		}
	}()
	poll := time.NewTicker(cmp.Or(max(f.Poll, 0), 2*time.Second))
	defer poll.Stop()
	for {
		want := slots - inflight
		if limit > 0 {
			want = min(want, limit-started)
		}
		if want > 0 && firstErr == nil && ctx.Err() == nil {
			jobs, err := f.store.ClaimMedia(ctx, f.owner, room, f.now(), claimLease, want)
			if err != nil {
				firstErr = err
			}
			if len(jobs) > 0 && renewing == nil {
				renewing = make(chan struct{})
				go f.renewClaims(ctx, renewing)
			}
			for _, j := range jobs {
				inflight++
				started++
				go func() { finished <- f.fetch(ctx, j) }()
			}
		}
		if inflight == 0 {
			if firstErr == nil {
				firstErr = ctx.Err()
			}
			return done, firstErr
		}
		select {
		case err := <-finished:
			inflight--
			done++
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if progress != nil {
				progress(done)
			}
		case <-poll.C:
		}
	}
}

// renewClaims extends this fetcher's claims every claimLease/3 until stop
// is closed or ctx ends.
func (f *Fetcher) renewClaims(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(claimLease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.store.RenewMedia(ctx, f.owner, f.now().Add(claimLease)); err != nil && ctx.Err() == nil {
				f.log.Warn("media: renewing claims", "err", err)
			}
		}
	}
}

// Run fetches queued media and deletes orphaned bytes until ctx ends. The
// queue lives in the database, so a restart resumes where it stopped.
// Deleting runs on its own every Poll, so erasure never waits for the
// queue to empty.
func (f *Fetcher) Run(ctx context.Context) error {
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		t := time.NewTicker(f.Poll)
		defer t.Stop()
		for {
			if n, err := f.Collect(ctx); err != nil && ctx.Err() == nil {
				f.log.Error("media: deleting orphaned bytes", "err", err)
			} else if n > 0 {
				f.log.Info("media: deleted bytes no event refers to", "blobs", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { <-collected }()
	t := time.NewTicker(f.Poll)
	defer t.Stop()
	for {
		if _, err := f.work(ctx, "", 0, nil); err != nil && ctx.Err() == nil {
			f.log.Error("media fetch", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Drain makes every queued fetch of room (or all) due, runs them until none
// is due, deleting orphaned bytes first, and reports progress as it goes.
func (f *Fetcher) Drain(ctx context.Context, room id.RoomID, progress func(done, total int64)) (store.MediaStats, error) {
	if _, err := f.Collect(ctx); err != nil {
		return store.MediaStats{}, err
	}
	total, err := f.store.RetryMedia(ctx, room)
	if err != nil {
		return store.MediaStats{}, err
	}
	// A failure reschedules its job later, so work ends rather than wait
	// for it (the archiver's loop will retry); at most total jobs are run,
	// so files queued meanwhile are left to the archiver.
	if total > 0 {
		if _, err := f.work(ctx, room, int(total), func(d int) {
			if progress != nil {
				progress(int64(d), total)
			}
		}); err != nil {
			return store.MediaStats{}, err
		}
	}
	return f.store.MediaStats(ctx)
}
