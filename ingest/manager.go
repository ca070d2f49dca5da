package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// ManagerConfig says which rooms to archive and how to follow them.
type ManagerConfig struct {
	// Join lists rooms (IDs or aliases) to join at start, besides invites.
	Join []string
	// Allow and deny lists by room (ID or alias) and by server (of the
	// room's creator, its ID, or the inviter). A deny always wins; non-empty
	// allow lists admit only what they name.
	AllowRooms, DenyRooms     []string
	AllowServers, DenyServers []string
	// BackfillLimit caps the events read per backfill; 0 reads to creation.
	BackfillLimit int
	// SweepInterval is how often each room is swept forward with
	// /messages for anything transactions missed.
	SweepInterval time.Duration
	// SyncTimeout is the /sync long-poll timeout.
	SyncTimeout time.Duration
	// SpoolDir holds backfill spool files while they are imported.
	SpoolDir string
}

// joinReason is shown to the room with the bot's join.
const joinReason = "mxarchive publishes this room's world-readable history as a web archive. " +
	"To stop it, make the history non-public or remove this user."

// Manager follows the rooms the archive bot is in: it joins on invite,
// reads state, backfills history, and runs the second path that catches
// what transactions miss (a filtered /sync long-poll for redactions and
// membership, and a forward /messages sweep of every room).
type Manager struct {
	cfg    ManagerConfig
	client *Client
	in     *Ingester
	st     *store.Store
	log    *slog.Logger
	bot    id.UserID

	jobs chan job
	mu   sync.Mutex
	busy map[string]bool // rooms with a queued join, to drop repeats
	// answers are the bot's replies to "!archive …" commands, sent in Run.
	answers chan answer
}

type job struct {
	target  string // room ID or alias to join
	via     []string
	inviter id.UserID
}

// NewManager returns a manager acting as bot through client.
func NewManager(cfg ManagerConfig, client *Client, in *Ingester, st *store.Store, bot id.UserID, log *slog.Logger) *Manager {
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 30 * time.Second
	}
	return &Manager{cfg: cfg, client: client, in: in, st: st, bot: bot, log: log,
		jobs: make(chan job, 1024), busy: map[string]bool{}, answers: make(chan answer, 256)}
}

// Committed implements Notifier: it queues a join for each invite of the
// bot and each tombstone of a room the bot follows, and carries out each
// "!archive" command before the transaction is acknowledged (an opt-out
// acknowledged and then lost would never come again); only the bot's
// answer is sent later, from Run.
func (m *Manager) Committed(ctx context.Context, evs []*event.Event) error {
	for _, ev := range evs {
		switch {
		case ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(m.bot):
			if event.StringField(ev.Content, "membership") == "invite" {
				m.enqueue(job{target: string(ev.RoomID), via: serversOf(ev.Sender), inviter: ev.Sender})
			}
		case ev.Type == event.TypeMessage && ev.Sender != m.bot && isCommand(ev):
			a, err := m.command(ctx, ev)
			if err != nil {
				return err
			}
			if a == nil {
				continue
			}
			select {
			case m.answers <- *a:
			default:
				m.log.Warn("answer queue full; the command was carried out but is not answered", "room_id", ev.RoomID, "sender", ev.Sender)
			}
		case ev.Type == event.TypeTombstone && ev.StateKey != nil && *ev.StateKey == "":
			if next := event.StringField(ev.Content, "replacement_room"); strings.HasPrefix(next, "!") {
				m.log.Info("room upgraded; following it", "room_id", ev.RoomID, "replacement", next)
				m.enqueue(job{target: next, via: serversOf(ev.Sender)})
			}
		}
	}
	return nil
}

func serversOf(users ...id.UserID) []string {
	var out []string
	for _, u := range users {
		if s := event.ServerName(u); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (m *Manager) enqueue(j job) {
	m.mu.Lock()
	if m.busy[j.target] {
		m.mu.Unlock()
		return
	}
	m.busy[j.target] = true
	m.mu.Unlock()
	select {
	case m.jobs <- j:
	default:
		// The queue is full; /sync will report the invite again.
		m.mu.Lock()
		delete(m.busy, j.target)
		m.mu.Unlock()
		m.log.Warn("join queue full; will retry from /sync", "room", j.target)
	}
}

// Run follows rooms until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.waitForHomeserver(ctx); err != nil {
		return err
	}
	for _, r := range m.cfg.Join {
		m.enqueue(job{target: r})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.syncLoop(ctx) }()
	go func() { defer wg.Done(); m.sweepLoop(ctx) }()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case a := <-m.answers:
			if err := a.send(ctx, m.client); err != nil && ctx.Err() == nil {
				m.log.Error("answering a command failed", "room_id", a.room, "err", err)
			}
		case j := <-m.jobs:
			if err := m.join(ctx, j); err != nil && ctx.Err() == nil {
				m.log.Error("joining room failed", "room", j.target, "err", err)
			}
			m.mu.Lock()
			delete(m.busy, j.target)
			m.mu.Unlock()
		}
	}
}

// waitForHomeserver tolerates an archiver that starts before its homeserver.
func (m *Manager) waitForHomeserver(ctx context.Context) error {
	delay := time.Second
	for {
		err := m.client.Versions(ctx)
		if err == nil {
			return nil
		}
		m.log.Warn("homeserver not reachable yet; retrying", "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// join joins a room if policy allows, records its state and backfills it.
func (m *Manager) join(ctx context.Context, j job) error {
	if strings.HasPrefix(j.target, "!") {
		if why := m.denied(id.RoomID(j.target), nil, serversOf(j.inviter)); why != "" {
			return m.refuse(ctx, id.RoomID(j.target), why)
		}
	}
	roomID, err := m.client.Join(ctx, j.target, j.via, joinReason)
	if err != nil {
		return fmt.Errorf("join %s: %w", j.target, err)
	}
	log := m.log.With("room_id", roomID)
	raw, err := m.client.State(ctx, roomID)
	if err != nil {
		return fmt.Errorf("state of %s: %w", roomID, err)
	}
	state := parseAll(raw, log)
	if why := m.denied(roomID, state, serversOf(j.inviter)); why != "" {
		return m.refuse(ctx, roomID, why)
	}
	if _, err := m.in.Ingest(ctx, state); err != nil {
		return fmt.Errorf("store state of %s: %w", roomID, err)
	}
	if vis := currentValue(state, event.TypeHistoryVisibility, "history_visibility"); vis != "world_readable" {
		log.Warn("joined, but the room's history is not world-readable: staying joined and recording nothing until it is",
			"history_visibility", vis)
	} else {
		log.Info("joined room; archiving its world-readable history")
	}
	_, err = m.Backfill(ctx, roomID, nil)
	return err
}

// refuse leaves (or declines the invite to) a room the policy excludes.
func (m *Manager) refuse(ctx context.Context, roomID id.RoomID, why string) error {
	m.log.Info("not archiving room", "room_id", roomID, "reason", why)
	if err := m.client.Leave(ctx, roomID, "This archive does not archive this room: "+why); err != nil && !IsForbidden(err) {
		return err
	}
	return nil
}

// denied applies the allow and deny lists; it returns why a room is
// excluded, or "". state may be nil before joining.
func (m *Manager) denied(roomID id.RoomID, state []*event.Event, inviterServers []string) string {
	names := []string{string(roomID)}
	var servers []string
	if _, srv, ok := strings.Cut(string(roomID), ":"); ok {
		servers = append(servers, srv)
	}
	for _, ev := range state {
		switch ev.Type {
		case event.TypeCanonicalAlias:
			var ca struct {
				Alias string   `json:"alias"`
				Alt   []string `json:"alt_aliases"`
			}
			if json.Unmarshal(ev.Content, &ca) == nil {
				names = append(names, ca.Alias)
				names = append(names, ca.Alt...)
			}
		case event.TypeCreate:
			servers = append(servers, serversOf(ev.Sender)...)
		}
	}
	for _, n := range names {
		if slices.Contains(m.cfg.DenyRooms, n) {
			return "the room " + n + " is on the deny list"
		}
	}
	for _, s := range append(slices.Clone(servers), inviterServers...) {
		if slices.Contains(m.cfg.DenyServers, s) {
			return "the server " + s + " is on the deny list"
		}
	}
	if len(m.cfg.AllowRooms) == 0 && len(m.cfg.AllowServers) == 0 {
		return ""
	}
	for _, n := range names {
		if slices.Contains(m.cfg.AllowRooms, n) {
			return ""
		}
	}
	for _, s := range servers {
		if slices.Contains(m.cfg.AllowServers, s) {
			return ""
		}
	}
	if state == nil {
		return "" // aliases and creator are known only after joining; decide then
	}
	return "the room is on no allow list"
}

func parseAll(raw []json.RawMessage, log *slog.Logger) []*event.Event {
	out := make([]*event.Event, 0, len(raw))
	for i, r := range raw {
		ev, err := event.Parse(r)
		if err != nil {
			log.Warn("skipping malformed event from the homeserver", "index", i, "err", err)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// inRoom gives /sync's events, which omit room_id, the room they are under.
func inRoom(raw []json.RawMessage, roomID id.RoomID) []json.RawMessage {
	out := make([]json.RawMessage, len(raw))
	for i, r := range raw {
		out[i] = event.InRoom(r, string(roomID))
	}
	return out
}

func currentValue(state []*event.Event, typ, key string) string {
	for _, ev := range state {
		if ev.Type == typ && ev.StateKey != nil && *ev.StateKey == "" {
			return event.StringField(ev.Content, key)
		}
	}
	return ""
}

// BackfillReport says what a backfill read and stored.
type BackfillReport struct {
	Room          id.RoomID
	Events        int
	Pages         int
	ReachedCreate bool
	Import        ImportReport
}

// backfillPage is the page size; Synapse caps /messages at 1,000.
const backfillPage = 1000

// Backfill pages the room's history backwards as the bot, to its creation
// or the configured limit, into a spool file, and imports that: the
// importer reads state first, so every event is judged by the state in
// force when it was sent even though pages arrive newest first. It is
// idempotent, and records how far back history is complete.
func (m *Manager) Backfill(ctx context.Context, roomID id.RoomID, progress func(events int)) (BackfillReport, error) {
	rep := BackfillReport{Room: roomID}
	if err := os.MkdirAll(m.cfg.SpoolDir, 0o750); err != nil {
		return rep, fmt.Errorf("backfill %s: %w", roomID, err)
	}
	spool, err := os.CreateTemp(m.cfg.SpoolDir, "backfill-*.ndjson")
	if err != nil {
		return rep, fmt.Errorf("backfill %s: %w", roomID, err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	w := bufio.NewWriterSize(spool, 1<<20)
	rs, err := m.st.RoomSync(ctx, roomID)
	if err != nil {
		return rep, err
	}
	var from, forward string
	oldest := int64(0)
	for {
		page, err := m.client.Messages(ctx, roomID, from, "b", backfillPage)
		if err != nil {
			return rep, fmt.Errorf("backfill %s: %w", roomID, err)
		}
		rep.Pages++
		if forward == "" {
			forward = page.Start // "now": where forward sweeps begin
		}
		for _, raw := range page.Chunk {
			var probe struct {
				Type string `json:"type"`
				TS   int64  `json:"origin_server_ts"`
			}
			_ = json.Unmarshal(raw, &probe) // the importer reports malformed events
			if probe.Type == event.TypeCreate {
				rep.ReachedCreate = true
			}
			if probe.TS > 0 && (oldest == 0 || probe.TS < oldest) {
				oldest = probe.TS
			}
			if _, err := w.Write(append(compact(raw), '\n')); err != nil {
				return rep, fmt.Errorf("backfill %s: spool: %w", roomID, err)
			}
			rep.Events++
		}
		if progress != nil {
			progress(rep.Events)
		}
		if page.End == "" || page.End == from || (m.cfg.BackfillLimit > 0 && rep.Events >= m.cfg.BackfillLimit) {
			break
		}
		from = page.End
	}
	if err := w.Flush(); err != nil {
		return rep, fmt.Errorf("backfill %s: spool: %w", roomID, err)
	}
	if rep.Events > 0 {
		rep.Import, err = m.in.ImportFile(ctx, spool.Name(), ImportOptions{Format: FormatNDJSON, Source: store.SourceBackfill})
		if err != nil && !errors.Is(err, ErrNoEvents) {
			return rep, fmt.Errorf("backfill %s: %w", roomID, err)
		}
	}
	if rs.ForwardToken == "" {
		rs.ForwardToken = forward
	}
	if oldest > 0 && (rs.CompleteFrom.IsZero() || time.UnixMilli(oldest).Before(rs.CompleteFrom)) {
		rs.CompleteFrom = time.UnixMilli(oldest).UTC()
	}
	rs.ReachedCreate = rs.ReachedCreate || rep.ReachedCreate
	rs.BackfilledAt = time.Now()
	if err := m.st.SetRoomSync(ctx, rs); err != nil {
		return rep, err
	}
	m.log.Info("backfilled room", "room_id", roomID, "events", rep.Events, "stored", rep.Import.Stored,
		"already_archived", rep.Import.Duplicates, "not_public", rep.Import.NotPublic, "reached_create", rep.ReachedCreate)
	return rep, nil
}

// compact puts an event on one line for the spool file.
func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return bytes.ReplaceAll(raw, []byte("\n"), []byte(" ")) // one line; the importer will report it
	}
	return b.Bytes()
}

// Sweep reads a room forward from its last position and stores whatever is
// missing: events a homeserver did not push, redactions included.
func (m *Manager) Sweep(ctx context.Context, roomID id.RoomID) (int, error) {
	rs, err := m.st.RoomSync(ctx, roomID)
	if err != nil || rs.ForwardToken == "" {
		return 0, err // not backfilled yet: the backfill sets the position
	}
	from, n := rs.ForwardToken, 0
	for {
		page, err := m.client.Messages(ctx, roomID, from, "f", backfillPage)
		if err != nil {
			return n, fmt.Errorf("sweep %s: %w", roomID, err)
		}
		if len(page.Chunk) > 0 {
			res, err := m.in.IngestFrom(ctx, store.SourceSweep, parseAll(page.Chunk, m.log.With("room_id", roomID)))
			if err != nil {
				return n, fmt.Errorf("sweep %s: %w", roomID, err)
			}
			n += res.Stored
		}
		if page.End == "" || page.End == from || len(page.Chunk) == 0 {
			break
		}
		from = page.End
	}
	// Written only when the position moved: a quiet room costs no write
	// (SQLite has one writer, and live transactions need it).
	if from != rs.ForwardToken {
		rs.ForwardToken, rs.SweptAt = from, time.Now()
		if err := m.st.SetRoomSync(ctx, rs); err != nil {
			return n, err
		}
	}
	if n > 0 {
		m.log.Info("sweep stored events the homeserver had not pushed", "room_id", roomID, "stored", n)
	}
	return n, nil
}

func (m *Manager) sweepLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rooms, err := m.st.JoinedRooms(ctx)
		if err != nil {
			m.log.Error("listing rooms to sweep", "err", err)
			continue
		}
		for _, r := range rooms {
			if _, err := m.Sweep(ctx, r); err != nil && ctx.Err() == nil {
				m.log.Warn("sweep failed; next time", "room_id", r, "err", err)
			}
		}
	}
}

// syncFilter asks /sync only for what transactions may miss and the archive
// must not: redactions, membership (invites, kicks, bans of the bot), and
// the state that decides what is public.
const syncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"ephemeral":{"types":[]},` +
	`"account_data":{"types":[]},"state":{"types":[]},"timeline":{"limit":100,"types":["m.room.redaction",` +
	`"m.room.member","m.room.history_visibility","m.room.encryption","m.room.tombstone","m.room.power_levels",` +
	`"m.room.create","m.room.retention","org.matrix.msc1763.retention"]}}}`

// syncLoop long-polls /sync as the bot: redactions reach the archive within
// seconds even from a homeserver that never pushes them (Dendrite).
func (m *Manager) syncLoop(ctx context.Context) {
	since := ""
	delay := time.Second
	// backoff waits before the next try, longer each time; false when ctx
	// ended.
	backoff := func(msg string, err error) bool {
		m.log.Warn(msg, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
		return true
	}
	for ctx.Err() == nil {
		resp, err := m.client.Sync(ctx, since, syncFilter, m.cfg.SyncTimeout)
		if err != nil {
			if ctx.Err() != nil || !backoff("sync failed; retrying", err) {
				return
			}
			continue
		}
		var evs []*event.Event
		for roomID, r := range resp.Rooms.Join {
			evs = append(evs, parseAll(inRoom(r.Timeline.Events, roomID), m.log.With("room_id", roomID))...)
		}
		for roomID, r := range resp.Rooms.Leave {
			evs = append(evs, parseAll(inRoom(r.Timeline.Events, roomID), m.log.With("room_id", roomID))...)
		}
		if len(evs) > 0 {
			res, err := m.in.IngestFrom(ctx, store.SourceSync, evs)
			if err == nil {
				err = m.Committed(ctx, res.Kept(evs))
			}
			if err != nil {
				// The same since token brings them again.
				if !backoff("storing events from sync failed; not advancing", err) {
					return
				}
				continue
			}
		}
		delay = time.Second
		for roomID := range resp.Rooms.Invite {
			m.enqueue(job{target: string(roomID)})
		}
		since = resp.NextBatch
	}
}
