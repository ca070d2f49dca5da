package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/retention"
)

// MediaState says what the archive may do with an mxc URI.
type MediaState int

const (
	// MediaUnknown: no archived event ever referred to it (404).
	MediaUnknown MediaState = iota
	// MediaGone: known, but no event that may be shown refers to it any
	// more (redacted, taken down, expired, opted out, erased, room hidden
	// or purged): 410.
	MediaGone
	// MediaPending: a visible event refers to it but its bytes are not
	// (yet) in the media store: not fetched, failing, or too large.
	MediaPending
	// MediaReady: visible and stored.
	MediaReady
)

// Media is what the store knows of one mxc URI's copy.
type Media struct {
	event.MXC
	State       MediaState
	SHA256      string
	Size        int64
	ContentType string
	FetchedAt   time.Time
	// ThumbSHA256 and ThumbType: a thumbnail the archive made ("" if none).
	ThumbSHA256 string
	ThumbType   string
	// Error is the last fetch error while Pending.
	Error string
}

// MediaJob is one queued fetch.
type MediaJob struct {
	event.MXC
	RoomID   id.RoomID
	Attempts int
	site     string // mediaSite(Server), as queued
}

const (
	insertMediaRefSQL = `INSERT INTO media_refs (event_id, room_id, server, media_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id, server, media_id) DO NOTHING`
	// A URI is queued unless it is already stored (the same file in
	// another event); one erased before is fetched again.
	enqueueMediaSQL = `INSERT INTO media_queue (server, media_id, room_id, site) SELECT $1, $2, $3, $4
		WHERE NOT EXISTS (SELECT 1 FROM media WHERE server = $1 AND media_id = $2 AND erased_at = 0)
		ON CONFLICT (server, media_id) DO NOTHING`
	dropMediaRefsSQL = `DELETE FROM media_refs WHERE event_id = $1 RETURNING server, media_id`
	mediaRefsLeftSQL = `SELECT COUNT(*) FROM media_refs WHERE server = $1 AND media_id = $2`
	mediaBySHASQL    = `SELECT COUNT(*) FROM media WHERE sha256 = $1 OR thumb_sha256 = $1`
	insertOrphanSQL  = `INSERT INTO media_orphans (sha256, since) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING`
	mediaRowSQL      = `SELECT sha256, size, content_type, fetched_at, erased_at, thumb_sha256, thumb_type FROM media WHERE server = $1 AND media_id = $2`
)

// MediaRefEvents returns the events that refer to the media at mxc (its
// media_refs), at most limit of them.
func (s *Store) MediaRefEvents(ctx context.Context, mxc event.MXC, limit int) ([]id.EventID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	ids, err := scanStrings(s.db.QueryContext(ctx, `SELECT event_id FROM media_refs WHERE server = $1 AND media_id = $2 ORDER BY event_id LIMIT $3`,
		mxc.Server, mxc.MediaID, limit))
	if err != nil {
		return nil, fmt.Errorf("media %s events: %w", mxc, err)
	}
	out := make([]id.EventID, len(ids))
	for i, e := range ids {
		out[i] = id.EventID(e)
	}
	return out, nil
}

// shownRoomSQL is Room.Shown for the rooms row r, with $8 the operator's
// ShowFormerlyPublic: not purged, not hidden by the operator, the archive
// bot neither banned nor gone (Room.Hiding's order; any other membership
// is shown, as there) and the history world-readable, or once so where
// the operator shows what was archived then. It must say what
// Room.Hiding says (TestShownRefFollowsRoomHiding).
const shownRoomSQL = `NOT r.purged AND NOT r.hidden AND r.bot_membership NOT IN ('ban', 'leave', 'invite')
	AND (r.history_visibility IN ('', 'world_readable') OR $8 = 1)`

// refCutoffSQL is the retention cutoff (ms) of the rooms row r, as
// Store.expiredBefore computes it from retention.Policy: $3 for a room
// with no max_lifetime of its own (the operator's default, 0: none); for
// one with its own, none unless $4 is 1 (retention enabled), else $5
// (now) less its max_lifetime clamped to [$6, $7] (allowed_lifetime_min
// and _max; mediaCutoffArgs), a max_lifetime longer than a
// time.Duration holds (some 292 years; a room may ask for up to 2^53-1
// ms) held at retention.MaxRoomLifetime, as Policy.MaxLifetime holds it.
var refCutoffSQL = `CASE WHEN r.retention_max_lifetime IS NULL THEN $3 WHEN $4 = 0 THEN 0
	ELSE $5 - CASE WHEN ` + refOwnLifetimeSQL + ` < $6 THEN $6 WHEN ` + refOwnLifetimeSQL + ` > $7 THEN $7 ELSE ` + refOwnLifetimeSQL + ` END END`

// refOwnLifetimeSQL is the rooms row r's own max_lifetime, held at
// retention.MaxRoomLifetime.
var refOwnLifetimeSQL = `(CASE WHEN r.retention_max_lifetime > ` + strconv.FormatInt(retention.MaxRoomLifetime, 10) + ` THEN ` + strconv.FormatInt(retention.MaxRoomLifetime, 10) + ` ELSE r.retention_max_lifetime END)`

// visibleRefSQL is one event that refers to a media item ($1, $2) and
// may be shown: in a room that is shown (shownRoomSQL), public,
// unredacted, sent at its room's retention cutoff or later
// (refCutoffSQL) and not by an opted-out sender; an event is found by its
// ID's hash (idh) on SQLite. Everything is judged here, in one query, not
// room by room after a limit: anyone can make references to someone
// else's file that are not shown (sent after opting out, in a room made
// private, expired), and 50 such references, then 200 rooms of them (the
// first by room ID), made a file still shown answer 410. Each reference
// costs index probes (its room by key, its event by ID), one query for
// them all. No order: any one will do.
//
// SQLite joins in the order written (CROSS JOIN): the references on
// media_refs_mxc, each one's room by its key, then its event.
var visibleRefSQL = `SELECT ` + qualified(eventColumns, "e") + ` FROM media_refs m
	CROSS JOIN rooms r CROSS JOIN events e
	WHERE m.server = $1 AND m.media_id = $2 AND r.room_id = m.room_id AND ` + shownRoomSQL + `
		AND idh(e.event_id) = idh(m.event_id) AND e.event_id = m.event_id AND e.public AND NOT e.redacted
		AND e.origin_ts >= ` + refCutoffSQL + `
		AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.user_id = e.sender)
	LIMIT 1`

// visibleRefPostgres is visibleRefSQL as PostgreSQL plans it soundly.
// The references are read first, in a subquery with OFFSET 0, and each
// one's room and event are looked up from them (LATERAL, once per
// reference): archive-web's sessions plan once for any arguments, and
// that generic plan hashed the references and scanned the events table
// for them, which for a file posted lately is the whole table (131 ms at
// 60,000 events). The room's subquery has OFFSET 0 too: joined as a
// table, with few rooms, the generic plan scanned the rooms and then
// media_refs for each (TestShownRefGenericPlanProbesTheEvents).
var visibleRefPostgres = `SELECT e.* FROM
	(SELECT event_id, room_id FROM media_refs WHERE server = $1 AND media_id = $2 OFFSET 0) m
	CROSS JOIN LATERAL (SELECT r.retention_max_lifetime FROM rooms r WHERE r.room_id = m.room_id AND ` + shownRoomSQL + ` OFFSET 0) r
	CROSS JOIN LATERAL (SELECT ` + eventColumns + ` FROM events
		WHERE idh(event_id) = idh(m.event_id) AND event_id = m.event_id AND public AND NOT redacted
			AND origin_ts >= ` + refCutoffSQL + `
			AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.user_id = events.sender)) e
	LIMIT 1`

// mediaCutoffArgs are visibleRefSQL's $3-$8: the operator's retention
// policy at this moment, and ShowFormerlyPublic.
func (s *Store) mediaCutoffArgs() []any {
	p := s.opts.Retention
	// The clamp's bounds in ms; none is [0, max]. A minimum above the
	// maximum (which Validate refuses) gives the maximum, as
	// Policy.MaxLifetime does.
	lo, hi := time.Duration(p.AllowedLifetimeMin).Milliseconds(), int64(math.MaxInt64)
	if p.AllowedLifetimeMax > 0 {
		hi = time.Duration(p.AllowedLifetimeMax).Milliseconds()
	}
	lo = min(lo, hi)
	// The flags are 0 or 1: the direct reads bind no bool.
	enabled, formerly := 0, 0
	if p.Enabled {
		enabled = 1
	}
	if s.opts.ShowFormerlyPublic {
		formerly = 1
	}
	now := s.now()
	return []any{p.ExpiredBefore(now, nil), enabled, now.UnixMilli(), lo, hi, formerly}
}

// anyMediaRefSQL says whether any event refers to a media item (1) or
// none (0), reading one reference at most.
const anyMediaRefSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM media_refs WHERE server = $1 AND media_id = $2 LIMIT 1) r`

// addMediaRefs records the media a new public event refers to and queues
// their fetch, in the event's own transaction: the ack never waits for a
// download, and a crash loses no fetch. Non-public events (history not
// world-readable, encrypted rooms) have no refs, so their media is never
// fetched.
func (w *writer) addMediaRefs(ctx context.Context, ev *Event) error {
	if !ev.Public {
		return nil
	}
	for _, m := range event.EventMediaRefs(ev.Type, ev.Raw) {
		if _, err := w.tx.ExecContext(ctx, insertMediaRefSQL, string(ev.ID), string(ev.RoomID), m.Server, m.MediaID); err != nil {
			return fmt.Errorf("media ref: %w", err)
		}
		if _, err := w.tx.ExecContext(ctx, enqueueMediaSQL, m.Server, m.MediaID, string(ev.RoomID), mediaSite(m.Server)); err != nil {
			return fmt.Errorf("media queue: %w", err)
		}
	}
	return nil
}

// dropEditFallbackRefs removes the references edits made to files named
// in their fallback alone (migration 039): an edit refers to those of its
// m.new_content (event.MediaRefs). A file left with no reference is
// erased, as dropMediaRefs erases one (eraseIfUnreferenced): the
// message that showed it was redacted while the edit still referred to
// it.
func dropEditFallbackRefs(ctx context.Context, tx *sql.Tx) error {
	// Each edit, then its references by media_refs' key (SQLite keeps
	// the order of a CROSS JOIN; no index finds an event by its ID's
	// text alone).
	rows, err := tx.QueryContext(ctx, `SELECT e.event_id, e.type, e.raw, m.server, m.media_id FROM events e
		CROSS JOIN media_refs m
		WHERE m.event_id = e.event_id AND e.rel_type = '`+event.RelReplace+`' AND e.type IN ('`+event.TypeMessage+`', '`+event.TypeSticker+`')`)
	if err != nil {
		return err
	}
	type ref struct{ event, server, mediaID string }
	var stale []ref
	for rows.Next() {
		var r ref
		var typ, raw string
		if err := rows.Scan(&r.event, &typ, &raw, &r.server, &r.mediaID); err != nil {
			rows.Close()
			return err
		}
		if !slices.Contains(event.EventMediaRefs(typ, []byte(raw)), event.MXC{Server: r.server, MediaID: r.mediaID}) {
			stale = append(stale, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	w := &writer{tx: safeTx{tx}, now: time.Now().UnixMilli()}
	for _, r := range stale {
		if _, err := tx.ExecContext(ctx, `DELETE FROM media_refs WHERE event_id = $1 AND server = $2 AND media_id = $3`, r.event, r.server, r.mediaID); err != nil {
			return err
		}
		if err := w.eraseIfUnreferenced(ctx, event.MXC{Server: r.server, MediaID: r.mediaID}); err != nil {
			return err
		}
	}
	return nil
}

// dropMediaRefs removes an erased event's media refs. A URI left with no
// reference is marked erased, its queued fetch dropped, and its blob, if
// no other URI shares it, handed to the archiver for deletion
// (media_orphans) in this same transaction.
func (w *writer) dropMediaRefs(ctx context.Context, eventID string) error {
	rows, err := w.tx.QueryContext(ctx, dropMediaRefsSQL, eventID)
	if err != nil {
		return fmt.Errorf("media refs of %s: %w", eventID, err)
	}
	var dropped []event.MXC
	for rows.Next() {
		var m event.MXC
		if err := rows.Scan(&m.Server, &m.MediaID); err != nil {
			rows.Close()
			return err
		}
		dropped = append(dropped, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range dropped {
		if err := w.eraseIfUnreferenced(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// eraseIfUnreferenced erases a URI no event refers to any more: its
// queued fetch dropped, its row marked erased (kept, so that its URL
// answers 410 rather than 404) and its blobs, if no other URI shares
// them, handed to the archiver for deletion (media_orphans).
func (w *writer) eraseIfUnreferenced(ctx context.Context, m event.MXC) error {
	var left int
	if err := w.tx.QueryRowContext(ctx, mediaRefsLeftSQL, m.Server, m.MediaID).Scan(&left); err != nil {
		return err
	}
	if left > 0 {
		return nil
	}
	if _, err := w.tx.ExecContext(ctx, `DELETE FROM media_queue WHERE server = $1 AND media_id = $2`, m.Server, m.MediaID); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO media (server, media_id, sha256, size, content_type, fetched_at, erased_at)
		VALUES ($1, $2, '', 0, '', 0, $3) ON CONFLICT (server, media_id) DO NOTHING`, m.Server, m.MediaID, w.now); err != nil {
		return err
	}
	var sha, thumb string
	if err := w.tx.QueryRowContext(ctx, `SELECT sha256, thumb_sha256 FROM media WHERE server = $1 AND media_id = $2`, m.Server, m.MediaID).Scan(&sha, &thumb); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE media SET erased_at = $3, sha256 = '', size = 0, thumb_sha256 = '', thumb_type = ''
		WHERE server = $1 AND media_id = $2`, m.Server, m.MediaID, w.now); err != nil {
		return err
	}
	for _, h := range []string{sha, thumb} {
		if err := w.orphanIfUnused(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// orphanIfUnused hands a blob to the archiver for deletion when no media
// row names it any more.
func (w *writer) orphanIfUnused(ctx context.Context, sha string) error {
	if sha == "" {
		return nil
	}
	var users int
	if err := w.tx.QueryRowContext(ctx, mediaBySHASQL, sha).Scan(&users); err != nil {
		return err
	}
	if users > 0 {
		return nil
	}
	_, err := w.tx.ExecContext(ctx, insertOrphanSQL, sha, w.now)
	return err
}

// MediaFor says whether the media at mxc may be served, checked against
// the events that refer to it now: at least one must be public,
// unredacted, within its room's retention, not from an opted-out sender,
// and in a room that is shown. Like search hits, nothing is trusted from
// an earlier decision.
func (s *Store) MediaFor(ctx context.Context, mxc event.MXC) (Media, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	out := Media{MXC: mxc}
	var erasedAt, fetchedAt int64
	err := s.db.QueryRowContext(ctx, mediaRowSQL, mxc.Server, mxc.MediaID).Scan(&out.SHA256, &out.Size, &out.ContentType, &fetchedAt, &erasedAt, &out.ThumbSHA256, &out.ThumbType)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("media %s: %w", mxc, err)
	}
	// One query judges every reference (visibleRefSQL): the file is
	// served while any shown event refers to it, whatever else does.
	q := visibleRefSQL
	if s.dialect == postgres {
		q = visibleRefPostgres
	}
	evs, err := s.queryEvents(ctx, q, append([]any{mxc.Server, mxc.MediaID}, s.mediaCutoffArgs()...)...)
	if err != nil {
		return out, fmt.Errorf("media %s refs: %w", mxc, err)
	}
	// Screened as every read is: the query's opt-out and cutoff are
	// the same rules, read again.
	if evs, err = s.screen(ctx, evs, false); err != nil {
		return out, fmt.Errorf("media %s refs: %w", mxc, err)
	}
	visible := len(evs) > 0 && !evs[0].OptedOut
	switch {
	case visible && known && erasedAt == 0 && out.SHA256 != "":
		out.State = MediaReady
		out.FetchedAt = time.UnixMilli(fetchedAt).UTC()
	case visible:
		out.State = MediaPending
		out.SHA256, out.Size, out.ContentType = "", 0, ""
		err := s.db.QueryRowContext(ctx, `SELECT error FROM media_queue WHERE server = $1 AND media_id = $2`, mxc.Server, mxc.MediaID).Scan(&out.Error)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return out, fmt.Errorf("media %s queue: %w", mxc, err)
		}
	case known:
		out.State = MediaGone
	default:
		var refs int
		if err := s.db.QueryRowContext(ctx, anyMediaRefSQL, mxc.Server, mxc.MediaID).Scan(&refs); err != nil {
			return out, fmt.Errorf("media %s refs: %w", mxc, err)
		}
		if refs > 0 {
			out.State = MediaGone
		}
	}
	if out.State != MediaReady {
		out.SHA256, out.Size, out.ContentType, out.ThumbSHA256, out.ThumbType = "", 0, "", "", ""
	}
	return out, nil
}

// DueMedia returns up to limit queued fetches whose time has come (all of
// room's, retries included, when room is set: `archiver media fetch`).
func (s *Store) DueMedia(ctx context.Context, room id.RoomID, now time.Time, limit int) ([]MediaJob, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT server, media_id, room_id, attempts, site FROM media_queue
		WHERE NOT gave_up AND next_at <= $1 AND ($2 = '' OR room_id = $2) ORDER BY next_at, server, media_id LIMIT $3`,
		now.UnixMilli(), string(room), limit)
	if err != nil {
		return nil, fmt.Errorf("media queue: %w", err)
	}
	defer rows.Close()
	var out []MediaJob
	for rows.Next() {
		var j MediaJob
		var roomID string
		if err := rows.Scan(&j.Server, &j.MediaID, &roomID, &j.Attempts, &j.site); err != nil {
			return nil, fmt.Errorf("media queue: %w", err)
		}
		j.RoomID = id.RoomID(roomID)
		out = append(out, j)
	}
	return out, rows.Err()
}

// RetryMedia makes every given-up and waiting fetch (of room, or all) due
// now: the operator's catch-up. It returns how many are queued.
func (s *Store) RetryMedia(ctx context.Context, room id.RoomID) (int64, error) {
	var n int64
	err := s.inWrite(ctx, func(w *writer) error {
		if _, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET gave_up = FALSE, next_at = 0 WHERE $1 = '' OR room_id = $1`, string(room)); err != nil {
			return err
		}
		return w.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM media_queue WHERE $1 = '' OR room_id = $1`, string(room)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("retry media: %w", err)
	}
	return n, nil
}

// MediaFetched records the blob fetched for a job and takes it off the
// queue. It reports false, recording nothing, when no event refers to the
// URI any more (erased while downloading): the blob is then recorded as an
// orphan unless another URI names it, and the archiver deletes it.
//
// present, if not nil, is asked inside the write transaction whether the
// blob's bytes are still on disk (see DeleteOrphans); its error aborts.
func (s *Store) MediaFetched(ctx context.Context, mxc event.MXC, sha256 string, size int64, contentType string, present func() error) (bool, error) {
	kept := false
	err := s.inWrite(ctx, func(w *writer) error {
		// Under the write lock, which DeleteOrphans also holds: bytes a
		// deletion pass removed before this point are seen missing here,
		// and none can be removed after this commits names them.
		if present != nil {
			if err := present(); err != nil {
				return err
			}
		}
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM media_queue WHERE server = $1 AND media_id = $2`, mxc.Server, mxc.MediaID); err != nil {
			return err
		}
		var refs int
		if err := w.tx.QueryRowContext(ctx, mediaRefsLeftSQL, mxc.Server, mxc.MediaID).Scan(&refs); err != nil {
			return err
		}
		if refs == 0 {
			// Erased while downloading: the bytes are an orphan unless
			// another URI names them.
			return w.orphanIfUnused(ctx, sha256)
		}
		kept = true
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO media (server, media_id, sha256, size, content_type, fetched_at, erased_at)
			VALUES ($1, $2, $3, $4, $5, $6, 0)
			ON CONFLICT (server, media_id) DO UPDATE SET sha256 = $3, size = $4, content_type = $5, fetched_at = $6, erased_at = 0,
				thumb_sha256 = '', thumb_type = ''`,
			mxc.Server, mxc.MediaID, sha256, size, contentType, w.now); err != nil {
			return err
		}
		// The blob is named again: it is no orphan any more.
		_, err := w.tx.ExecContext(ctx, `DELETE FROM media_orphans WHERE sha256 = $1`, sha256)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("media %s fetched: %w", mxc, err)
	}
	return kept, nil
}

// MediaThumbnail records the thumbnail made of a stored file. It reports
// false, recording nothing, when the file was erased meanwhile (the blob is
// then orphaned). present is as for MediaFetched.
func (s *Store) MediaThumbnail(ctx context.Context, mxc event.MXC, sha256, contentType string, present func() error) (bool, error) {
	kept := false
	err := s.inWrite(ctx, func(w *writer) error {
		if present != nil {
			if err := present(); err != nil {
				return err
			}
		}
		res, err := w.tx.ExecContext(ctx, `UPDATE media SET thumb_sha256 = $3, thumb_type = $4
			WHERE server = $1 AND media_id = $2 AND erased_at = 0`, mxc.Server, mxc.MediaID, sha256, contentType)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if kept = n > 0; !kept {
			return w.orphanIfUnused(ctx, sha256)
		}
		_, err = w.tx.ExecContext(ctx, `DELETE FROM media_orphans WHERE sha256 = $1`, sha256)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("media %s thumbnail: %w", mxc, err)
	}
	return kept, nil
}

// MediaFailed records a failed fetch: retried at next, or never again
// automatically when giveUp.
func (s *Store) MediaFailed(ctx context.Context, mxc event.MXC, cause string, next time.Time, giveUp bool) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET attempts = attempts + 1, next_at = $3, error = $4, gave_up = $5,
			quota = FALSE, lease_owner = '', lease_until = 0
			WHERE server = $1 AND media_id = $2`, mxc.Server, mxc.MediaID, next.UnixMilli(), cause, giveUp)
		return err
	})
	if err != nil {
		return fmt.Errorf("media %s failed: %w", mxc, err)
	}
	return nil
}

// ClaimMedia takes up to limit queued fetches whose time has come (of
// room, or all) and that no other fetcher holds, for owner until
// now+lease: `archiver media fetch` and `archiver run` share the queue,
// and a file is downloaded by one of them. A claim ends with
// MediaFetched, MediaFailed, MediaWaitsForSpace or ReleaseMedia, or
// lapses (a killed process); RenewMedia extends owner's claims.
//
// The files of one site (the owner of the mxc URI's server name,
// mediaSite) hold at most MediaClaimsPerSite claims at once, counted over
// every fetcher's live claims: a due file of a site at its bound is passed
// over, and the next due file of another site is taken in its place.
func (s *Store) ClaimMedia(ctx context.Context, owner string, room id.RoomID, now time.Time, lease time.Duration, limit int) ([]MediaJob, error) {
	// Looked at without the write lock first: the fetcher polls every
	// few seconds, and an idle queue must cost no write (SQLite has one
	// writer, and live transactions need it), nor does a queue whose due
	// files are all of sites at their bound.
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	var due int
	if err := s.db.QueryRowContext(rctx, claimLookSQL, now.UnixMilli(), string(room), MediaClaimsPerSite).Scan(&due); err != nil {
		return nil, fmt.Errorf("claim media: %w", err)
	}
	if due == 0 {
		return nil, nil
	}
	var out []MediaJob
	err := s.inWrite(ctx, func(w *writer) error {
		// Writers are serialized (the write lock, across processes), so
		// the claims counted here are all there are until this commits.
		held := map[string]int{}
		rows, err := w.tx.QueryContext(ctx, heldClaimsSQL, now.UnixMilli())
		if err != nil {
			return err
		}
		for rows.Next() {
			var site string
			var n int
			if err := rows.Scan(&site, &n); err != nil {
				rows.Close()
				return err
			}
			held[site] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Each round reads the due files of sites below their bound, in
		// order, and takes them while their site stays below it; a site
		// that reaches its bound in a round leaves the rest of its files
		// there, and the next round reads past them (the claims made so
		// far are counted by then). Every round but the last fills the
		// bound of at least one site, so there are at most limit of them.
		for len(out) < limit {
			jobs, err := w.dueMediaJobs(ctx, now, room, limit-len(out))
			if err != nil {
				return err
			}
			passed := false
			for _, j := range jobs {
				if held[j.site] >= MediaClaimsPerSite {
					passed = true
					continue
				}
				if _, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET lease_owner = $3, lease_until = $4 WHERE server = $1 AND media_id = $2`,
					j.Server, j.MediaID, owner, now.Add(lease).UnixMilli()); err != nil {
					return err
				}
				held[j.site]++
				out = append(out, j)
			}
			if !passed {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim media: %w", err)
	}
	return out, nil
}

// dueMediaJobs reads up to limit claimable fetches (ClaimMedia), in
// order.
func (w *writer) dueMediaJobs(ctx context.Context, now time.Time, room id.RoomID, limit int) ([]MediaJob, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT server, media_id, room_id, attempts, site FROM media_queue`+claimableSQL+`
		ORDER BY next_at, server, media_id LIMIT $4`, now.UnixMilli(), string(room), MediaClaimsPerSite, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MediaJob
	for rows.Next() {
		var j MediaJob
		var roomID string
		if err := rows.Scan(&j.Server, &j.MediaID, &roomID, &j.Attempts, &j.site); err != nil {
			return nil, err
		}
		j.RoomID = id.RoomID(roomID)
		out = append(out, j)
	}
	return out, rows.Err()
}

// MediaClaimsPerSite bounds the fetches of one site's files in flight at
// once (the servers one owner names, mediaSite), over every fetcher
// sharing the queue: a hostile server may send each file just above the
// minimum rate (1 KiB/s over each 30 s window) for the client's whole 15
// minutes, and with four files queued it held every download slot, so
// that no other server's media was fetched. Half of media.concurrency's
// default 4 slots: one site's backlog is fetched two at a time at most,
// and the other half is left to every other site. A fixed number, not one derived from each fetcher's
// slots, so that it is one bound for `archiver run` and `archiver media
// fetch` together (8 slots between them by default), whatever either is
// configured with.
const MediaClaimsPerSite = 2

// claimableSQL selects the queued fetches due at $1 (of room $2, or all)
// that nobody holds and whose site holds fewer than $3 live claims
// (heldClaimsSQL's sites, the few with claims, found on the partial index
// media_queue_site_leased, migration 032).
const claimableSQL = ` WHERE NOT gave_up AND next_at <= $1 AND lease_until <= $1 AND ($2 = '' OR room_id = $2)
	AND site NOT IN (SELECT site FROM media_queue WHERE lease_until > 0 AND lease_until > $1 GROUP BY site HAVING COUNT(*) >= $3)`

// claimLookSQL says whether ClaimMedia has anything to claim ($1-$3 as
// for claimableSQL).
const claimLookSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM media_queue` + claimableSQL + ` LIMIT 1) d`

// heldClaimsSQL counts the live claims (of every fetcher) at $1 by site.
// "lease_until > 0" names media_queue_site_leased's rows: a lapsed claim
// is in it until its file is claimed again or done, a live one is what
// the fetchers have in flight.
const heldClaimsSQL = `SELECT site, COUNT(*) FROM media_queue WHERE lease_until > 0 AND lease_until > $1 GROUP BY site`

// RenewMedia extends owner's claims to until.
func (s *Store) RenewMedia(ctx context.Context, owner string, until time.Time) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET lease_until = $2 WHERE lease_owner = $1 AND lease_until > 0`, owner, until.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("renew media claims: %w", err)
	}
	return nil
}

// ReleaseMedia gives up owner's remaining claims (a fetcher stopping):
// the rows stay queued as they were, for whoever comes next.
func (s *Store) ReleaseMedia(ctx context.Context, owner string) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1`, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release media claims: %w", err)
	}
	return nil
}

// DeleteOrphans deletes up to limit blobs no media row names, calling del
// for each, inside a write transaction: MediaFetched and MediaThumbnail
// check their blob's presence under the same lock, so a fetcher in another
// process that found the bytes already on disk either records them before
// this pass looks (and they are no orphan) or sees them gone and fetches
// again. It returns how many it deleted.
func (s *Store) DeleteOrphans(ctx context.Context, limit int, del func(sha string) error) (int, error) {
	n := 0
	err := s.inWrite(ctx, func(w *writer) error {
		shas, err := scanStrings(w.tx.QueryContext(ctx, orphansSQL, limit))
		if err != nil {
			return err
		}
		for _, h := range shas {
			if err := del(h); err != nil {
				return err
			}
			if _, err := w.tx.ExecContext(ctx, `DELETE FROM media_orphans WHERE sha256 = $1`, h); err != nil {
				return err
			}
		}
		n = len(shas)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete media orphans: %w", err)
	}
	return n, nil
}

const orphansSQL = `SELECT sha256 FROM media_orphans o
		WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.sha256 = o.sha256)
		  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.thumb_sha256 = o.sha256) ORDER BY since LIMIT $1`

// MediaWaitsForSpace records a fetch refused because the media store is
// full (media.max_total): not a failure (attempts and gave_up stay), tried
// again at next or as soon as space frees up (MediaSpaceFreed).
func (s *Store) MediaWaitsForSpace(ctx context.Context, mxc event.MXC, cause string, next time.Time) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET quota = TRUE, next_at = $3, error = $4, lease_owner = '', lease_until = 0
			WHERE server = $1 AND media_id = $2`, mxc.Server, mxc.MediaID, next.UnixMilli(), cause)
		return err
	})
	if err != nil {
		return fmt.Errorf("media %s waits for space: %w", mxc, err)
	}
	return nil
}

// MediaSpaceFreed makes the fetches waiting for space due now.
func (s *Store) MediaSpaceFreed(ctx context.Context) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, `UPDATE media_queue SET next_at = 0 WHERE quota`)
		return err
	})
	if err != nil {
		return fmt.Errorf("media space freed: %w", err)
	}
	return nil
}

// OrphanedBlobs returns up to limit blobs no media row names: their bytes
// are to be deleted, then ForgetOrphans called.
func (s *Store) OrphanedBlobs(ctx context.Context, limit int) ([]string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	out, err := scanStrings(s.db.QueryContext(ctx, orphansSQL, limit))
	if err != nil {
		return nil, fmt.Errorf("media orphans: %w", err)
	}
	return out, nil
}

// ForgetOrphans removes orphan rows whose bytes were deleted.
func (s *Store) ForgetOrphans(ctx context.Context, shas []string) error {
	if len(shas) == 0 {
		return nil
	}
	err := s.inWrite(ctx, func(w *writer) error {
		for _, h := range shas {
			if _, err := w.tx.ExecContext(ctx, `DELETE FROM media_orphans WHERE sha256 = $1`, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget media orphans: %w", err)
	}
	return nil
}

// MediaStats counts the media store for the operator: blobs and bytes
// stored, and fetches queued or given up.
type MediaStats struct {
	URIs, Blobs, Bytes, Queued, GaveUp int64
	// Quota: queued fetches waiting for space (media.max_total).
	Quota int64
}

// MediaStats returns the media store's counts.
func (s *Store) MediaStats(ctx context.Context) (MediaStats, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var st MediaStats
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM media WHERE erased_at = 0),
		(SELECT COUNT(DISTINCT sha256) FROM media WHERE erased_at = 0),
		(SELECT COALESCE(SUM(size), 0) FROM (SELECT sha256, MAX(size) AS size FROM media WHERE erased_at = 0 GROUP BY sha256) b),
		(SELECT COUNT(*) FROM media_queue WHERE NOT gave_up),
		(SELECT COUNT(*) FROM media_queue WHERE gave_up),
		(SELECT COUNT(*) FROM media_queue WHERE quota AND NOT gave_up)`).Scan(&st.URIs, &st.Blobs, &st.Bytes, &st.Queued, &st.GaveUp, &st.Quota)
	if err != nil {
		return st, fmt.Errorf("media stats: %w", err)
	}
	return st, nil
}

// MediaCopy is what the media store holds of an mxc URI, whoever refers to
// it: pages ask it for the messages they show (which are visible, so
// MediaFor's checks are already made).
type MediaCopy struct {
	// Stored: the bytes are in the media store.
	Stored bool
	// Queued: a fetch is to do; GaveUp: retries stopped (too large,
	// refused by the homeserver, failing) until `archiver media fetch`;
	// Quota: the last attempt found the media store full, and it waits
	// for space.
	Queued, GaveUp, Quota bool
}

// MediaCopies returns what the media store holds of each of uris. A URI
// missing from the result is neither stored nor queued (referred to only
// by events archived before media was kept, or erased).
func (s *Store) MediaCopies(ctx context.Context, uris []event.MXC) (map[event.MXC]MediaCopy, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	out := make(map[event.MXC]MediaCopy, len(uris))
	want := make(map[event.MXC]bool, len(uris))
	var ids []string
	for _, u := range uris {
		if !want[u] {
			want[u] = true
			ids = append(ids, u.MediaID)
		}
	}
	// By media ID only (one SQL text for both dialects, no row values);
	// the server is matched here.
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		ph, args, err := idList(s.dialect, ids[:n])
		if err != nil {
			return nil, fmt.Errorf("media copies: %w", err)
		}
		ids = ids[n:]
		rows, err := s.query(ctx, `SELECT server, media_id, TRUE, FALSE, FALSE, FALSE FROM media
			WHERE media_id IN (`+ph+`) AND erased_at = 0 AND sha256 <> ''
			UNION ALL SELECT server, media_id, FALSE, TRUE, gave_up, quota FROM media_queue WHERE media_id IN (`+ph+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("media copies: %w", err)
		}
		for rows.Next() {
			var m event.MXC
			var stored, queued, gaveUp, quota bool
			if err := rows.Scan(&m.Server, &m.MediaID, &stored, &queued, &gaveUp, &quota); err != nil {
				rows.Close()
				return nil, fmt.Errorf("media copies: %w", err)
			}
			if !want[m] {
				continue
			}
			c := out[m]
			c.Stored = c.Stored || stored
			if queued {
				c.Queued, c.GaveUp, c.Quota = true, gaveUp, quota
			}
			out[m] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("media copies: %w", err)
		}
	}
	return out, nil
}
