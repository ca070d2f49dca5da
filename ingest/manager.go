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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// BackfillMaxBytes caps the bytes of events one backfill spools (the
	// spool file's size); a backfill that reaches it stops there, and the
	// room's history is recorded as incomplete before that point.
	BackfillMaxBytes int64
	// BackfillRetry is the first wait before a failed backfill or join is
	// tried again; it doubles with each failure, up to maxRetryWait.
	BackfillRetry time.Duration
	// LeaveNonPublicAfter: the bot leaves a room whose history has not been
	// world-readable for this long (0: never). Until then such a room is
	// not swept unless it holds archived messages.
	LeaveNonPublicAfter time.Duration
	// SweepInterval is how often each room is swept forward with
	// /messages for anything transactions missed.
	SweepInterval time.Duration
	// OptInWait is how long after a user's own opt-out a direct-message
	// opt-in is taken at the earliest (0: at once; the configuration's
	// archive.optin_wait, an hour by default). Each opt-out and opt-in
	// makes every process re-read the user's messages (the search index
	// on every archive-web) and moves every page's cache key: a member
	// toggling in a loop made the archive do that without end. An opt-out
	// is never delayed.
	OptInWait time.Duration
	// SyncTimeout is the /sync long-poll timeout.
	SyncTimeout time.Duration
	// SpoolDir holds backfill spool files while they are imported.
	SpoolDir string
}

// DefaultBackfillMaxBytes bounds a backfill's spool file when the
// configuration does not.
const DefaultBackfillMaxBytes = 1 << 30

// maxRetryWait caps the back-off of failed backfills and joins.
const maxRetryWait = 6 * time.Hour

// retryWait is the wait after the n-th consecutive failure (n >= 1).
func retryWait(first time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < maxRetryWait; i++ {
		d *= 2
	}
	return min(d, maxRetryWait)
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
	// spoolSwept: the first backfill removed the spool files killed
	// processes left (removeStaleSpools).
	spoolSwept sync.Once
	// optInWait is how long after a user's own opt-out a direct message
	// may undo it (ManagerConfig.OptInWait).
	optInWait time.Duration
	// encNotes bounds the answers to encrypted direct messages.
	encNotes encryptedNotes
	// deniedSeen: rooms on the deny lists whose dropped events were
	// logged (Archivable), under mu.
	deniedSeen map[id.RoomID]bool
}

type job struct {
	target  string // room ID or alias to join
	via     []string
	kind    joinKind
	inviter id.UserID // joinByInvite: who invited the bot
	// predecessor (joinByTombstone) is the room whose tombstone names
	// target: the replacement's m.room.create must name it back.
	predecessor id.RoomID
	attempts    int // failed attempts so far (pending_joins)
}

// joinKind says who asked the archive to join, which decides what must be
// checked before archiving (design rule 8).
type joinKind string

const (
	joinByOperator  joinKind = "operator"  // archive.join: the operator's word
	joinByInvite    joinKind = "invite"    // a member invited the bot
	joinByTombstone joinKind = "tombstone" // an archived room was upgraded
)

// NewManager returns a manager acting as bot through client.
func NewManager(cfg ManagerConfig, client *Client, in *Ingester, st *store.Store, bot id.UserID, log *slog.Logger) *Manager {
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 30 * time.Second
	}
	if cfg.BackfillRetry <= 0 {
		cfg.BackfillRetry = time.Minute
	}
	if cfg.BackfillMaxBytes <= 0 {
		cfg.BackfillMaxBytes = DefaultBackfillMaxBytes
	}
	return &Manager{cfg: cfg, client: client, in: in, st: st, bot: bot, log: log,
		jobs: make(chan job, 1024), busy: map[string]bool{}, answers: make(chan answer, 256), optInWait: cfg.OptInWait,
		deniedSeen: map[id.RoomID]bool{}}
}

// Committed implements Notifier: it queues a join for each invite of the
// bot and each tombstone of a room the bot follows, and carries out each
// "!archive" command before the transaction is acknowledged (an opt-out
// acknowledged and then lost would never come again); only the bot's
// answer is sent later, from Run. An encrypted message in a direct message
// is answered that the bot cannot read it (m.encrypted).
func (m *Manager) Committed(ctx context.Context, evs []*event.Event) error {
	for _, ev := range evs {
		switch {
		case ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(m.bot):
			if event.StringField(ev.Content, "membership") == "invite" {
				current, err := m.inviteInForce(ctx, ev)
				if err != nil {
					return err
				}
				if !current {
					// Acted on before, and since replaced by a join or a
					// leave (or a later invite): /sync's timeline and a
					// redelivered transaction bring old invites again, and
					// judging one anew would undo what a later one did.
					m.log.Info("ignoring an invite that is no longer the bot's membership",
						"room_id", ev.RoomID, "event_id", ev.ID, "inviter", ev.Sender)
					continue
				}
				if err := m.request(ctx, job{target: string(ev.RoomID), via: serversOf(ev.Sender), kind: joinByInvite, inviter: ev.Sender}); err != nil {
					return err
				}
			}
		case ev.Type == event.TypeMessage && ev.Sender != m.bot && isCommand(ev):
			a, err := m.command(ctx, ev)
			if err != nil {
				return err
			}
			m.queue(a)
		case ev.Type == event.TypeEncrypted && ev.Sender != m.bot:
			m.queueCourtesy(m.encrypted(ctx, ev))
		case ev.Type == event.TypeTombstone && ev.StateKey != nil && *ev.StateKey == "":
			if next := event.StringField(ev.Content, "replacement_room"); strings.HasPrefix(next, "!") && next != string(ev.RoomID) {
				m.log.Info("room upgraded; following it if the new room names this one as its predecessor", "room_id", ev.RoomID, "replacement", next)
				if err := m.request(ctx, job{target: next, via: serversOf(ev.Sender), kind: joinByTombstone, predecessor: ev.RoomID}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// queueCourtesy queues an answer to no command (an encrypted message's),
// only while the queue is less than half full: a member with many direct
// messages, each sending one encrypted message, must not crowd out the
// answers to commands (whose commands are carried out either way).
func (m *Manager) queueCourtesy(a *answer) {
	if a != nil && len(m.answers) >= cap(m.answers)/2 {
		m.log.Warn("answer queue half full; not answering an encrypted message", "room_id", a.room, "event_id", a.command)
		return
	}
	m.queue(a)
}

// queue queues an answer (nil: none) for Run to send.
func (m *Manager) queue(a *answer) {
	if a == nil {
		return
	}
	select {
	case m.answers <- *a:
	default:
		// A command was carried out all the same.
		m.log.Warn("answer queue full; not answering", "room_id", a.room, "event_id", a.command)
	}
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

// request records a join in the store before queueing it: an invite or a
// tombstone acknowledged and then lost to a crash would never come again.
func (m *Manager) request(ctx context.Context, j job) error {
	if err := m.st.AddPendingJoin(ctx, store.PendingJoin{Target: j.target, Kind: string(j.kind),
		Inviter: j.inviter, Predecessor: j.predecessor, Via: j.via}); err != nil {
		return err
	}
	m.enqueue(j)
	return nil
}

// inviteInForce reports whether the invite is the bot's membership in its
// room as the archive knows it (the latest m.room.member of the bot; the
// invite was stored before Committed is called). A room the store knows
// no membership of counts as in force: the invite is all there is.
func (m *Manager) inviteInForce(ctx context.Context, invite *event.Event) (bool, error) {
	cur, err := m.st.CurrentStateID(ctx, invite.RoomID, event.TypeMember, string(m.bot))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("the bot's membership in %s: %w", invite.RoomID, err)
	}
	return cur == invite.ID, nil
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
		// The queue is full; the join is in pending_joins, retried from there.
		m.mu.Lock()
		delete(m.busy, j.target)
		m.mu.Unlock()
		m.log.Warn("join queue full; will retry from the pending joins", "room", j.target)
	}
}

// Run follows rooms until ctx ends. Joins and backfill retries run in one
// goroutine (each reads and writes a room's state), the bot's answers in
// another, so that a slow join never holds an answer, nor the other way
// round; /sync and the sweeps have their own.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.waitForHomeserver(ctx); err != nil {
		return err
	}
	for _, r := range m.cfg.Join {
		// Recorded like any other join, so that a failed one is retried.
		if err := m.request(ctx, job{target: r, kind: joinByOperator}); err != nil {
			m.log.Error("recording a join from archive.join; trying it once", "room", r, "err", err)
			m.enqueue(job{target: r, kind: joinByOperator})
		}
	}
	m.leaveDeniedRooms(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.syncLoop(ctx) }()
	go func() { defer wg.Done(); m.sweepLoop(ctx) }()
	go func() { defer wg.Done(); m.answerLoop(ctx) }()
	m.followLoop(ctx)
	wg.Wait()
	return nil
}

// leaveDeniedRooms leaves, at start-up, the joined rooms the operator has
// put on the deny lists since the bot joined them; sweepLoop leaves any
// found later (or whose leave failed here).
func (m *Manager) leaveDeniedRooms(ctx context.Context) {
	if len(m.cfg.DenyRooms) == 0 && len(m.cfg.DenyServers) == 0 {
		return
	}
	rooms, err := m.st.JoinedRooms(ctx)
	if err != nil {
		m.log.Error("listing rooms to check against the deny lists; the sweeps check them", "err", err)
		return
	}
	for _, r := range rooms {
		if ctx.Err() != nil {
			return
		}
		m.leaveIfDenied(ctx, r)
	}
}

func (m *Manager) answerLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-m.answers:
			if err := a.send(ctx, m.client); err != nil && ctx.Err() == nil {
				m.log.Error("answering a command failed", "room_id", a.room, "err", err)
			}
		}
	}
}

// followLoop carries out joins as they come, and every retry tick the
// joins and backfills that failed before (or were left by a crash).
func (m *Manager) followLoop(ctx context.Context) {
	tick := time.NewTicker(min(m.cfg.BackfillRetry, 30*time.Second))
	defer tick.Stop()
	m.retryDue(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-m.jobs:
			m.runJob(ctx, j)
		case <-tick.C:
			m.retryDue(ctx)
		}
	}
}

// retryBatch bounds what one retry tick takes on.
const retryBatch = 16

func (m *Manager) retryDue(ctx context.Context) {
	now := time.Now()
	pending, err := m.st.DuePendingJoins(ctx, now, retryBatch)
	if err != nil {
		m.log.Error("reading pending joins", "err", err)
	}
	for _, p := range pending {
		m.enqueue(job{target: p.Target, via: p.Via, kind: joinKind(p.Kind), inviter: p.Inviter,
			predecessor: p.Predecessor, attempts: p.Attempts})
	}
	rooms, err := m.st.BackfillDue(ctx, now, retryBatch)
	if err != nil {
		m.log.Error("listing rooms to backfill", "err", err)
		return
	}
	for _, r := range rooms {
		if ctx.Err() != nil {
			return
		}
		m.backfillRoom(ctx, r)
	}
}

// runJob joins, and keeps the pending join for a later try when the
// homeserver failed (not when it refused, nor when the archive did).
func (m *Manager) runJob(ctx context.Context, j job) {
	defer func() {
		m.mu.Lock()
		delete(m.busy, j.target)
		m.mu.Unlock()
	}()
	err := m.join(ctx, j)
	if ctx.Err() != nil {
		return // still pending: carried out after the restart
	}
	if err != nil && Temporary(err) {
		wait := retryWait(m.cfg.BackfillRetry, j.attempts+1)
		m.log.Warn("joining room failed; will retry", "room", j.target, "in", wait, "attempts", j.attempts+1, "err", err)
		if perr := m.st.PostponePendingJoin(ctx, j.target, time.Now().Add(wait), err.Error()); perr != nil {
			m.log.Error("recording a failed join", "room", j.target, "err", perr)
		}
		return
	}
	if err != nil {
		m.log.Error("joining room failed; not retrying", "room", j.target, "err", err)
	}
	if derr := m.st.DonePendingJoin(ctx, j.target); derr != nil {
		m.log.Error("forgetting a pending join", "room", j.target, "err", derr)
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

// join joins a room if policy allows and whoever asked had the power to
// (design rule 8), records its state and backfills it. An invite is
// checked once the bot is in (the invite's stripped state holds no power
// levels): against the room's current state, the inviter must hold the
// power to send m.room.history_visibility, which is the power to make the
// history public or not. A tombstone is followed only if the replacement's
// m.room.create names the old room as its predecessor. Otherwise the bot
// leaves, saying why.
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
	why := m.denied(roomID, state, serversOf(j.inviter))
	if why == notAllowed {
		ok, err := m.allowedByAlias(ctx, roomID)
		if err != nil {
			return fmt.Errorf("look up the allow list's aliases for %s: %w", roomID, err)
		}
		if ok {
			why = ""
		}
	}
	if why != "" {
		return m.refuse(ctx, roomID, why)
	}
	switch j.kind {
	case joinByInvite:
		if why := inviterMayNot(state, j.inviter); why != "" {
			return m.refuse(ctx, roomID, why)
		}
	case joinByTombstone:
		if why := notSuccessorOf(state, j.predecessor); why != "" {
			return m.refuse(ctx, roomID, why)
		}
	}
	if _, err := m.in.IngestFrom(ctx, store.SourceState, state); err != nil {
		return fmt.Errorf("store state of %s: %w", roomID, err)
	}
	if vis := currentValue(state, event.TypeHistoryVisibility, "history_visibility"); vis != "world_readable" {
		log.Warn("joined, but the room's history is not world-readable: recording nothing until it is",
			"history_visibility", vis, "asked_by", j.kind, "inviter", j.inviter)
	} else {
		log.Info("joined room; archiving its world-readable history", "asked_by", j.kind, "inviter", j.inviter)
	}
	m.backfillRoom(ctx, roomID)
	return nil
}

// inviterMayNot returns why the inviter may not ask for the room to be
// archived, or "" if they may.
func inviterMayNot(state []*event.Event, inviter id.UserID) string {
	if inviter == "" {
		return "the archive could not tell who invited it"
	}
	var pl json.RawMessage
	var create *event.Event
	for _, ev := range state {
		if ev.StateKey == nil || *ev.StateKey != "" {
			continue
		}
		switch ev.Type {
		case event.TypePowerLevels:
			pl = ev.Content
		case event.TypeCreate:
			create = ev
		}
	}
	if create == nil {
		return "the room's state has no m.room.create event"
	}
	version := event.StringField(create.Content, "room_version")
	if version == "" {
		version = "1"
	}
	creators := []id.UserID{create.Sender}
	var extra struct {
		AdditionalCreators []id.UserID `json:"additional_creators"`
	}
	if json.Unmarshal(create.Content, &extra) == nil {
		creators = append(creators, extra.AdditionalCreators...)
	}
	if !event.MaySendState(version, pl, creators, inviter, event.TypeHistoryVisibility) {
		return string(inviter) + " invited the archive but lacks the power to change the room's history visibility; a room admin must invite it"
	}
	return ""
}

// notSuccessorOf returns why the room is not the replacement of
// predecessor, or "" if its m.room.create names predecessor.
func notSuccessorOf(state []*event.Event, predecessor id.RoomID) string {
	for _, ev := range state {
		if ev.Type != event.TypeCreate || ev.StateKey == nil || *ev.StateKey != "" {
			continue
		}
		var c struct {
			Predecessor struct {
				RoomID id.RoomID `json:"room_id"`
			} `json:"predecessor"`
		}
		if json.Unmarshal(ev.Content, &c) == nil && predecessor != "" && c.Predecessor.RoomID == predecessor {
			return ""
		}
		return "the room was named as the replacement of " + string(predecessor) + ", but its m.room.create does not name that room as its predecessor"
	}
	return "the room's state has no m.room.create event"
}

// backfillRoom backfills a room and records the outcome: a failure is
// retried after a back-off that doubles with each failure.
func (m *Manager) backfillRoom(ctx context.Context, roomID id.RoomID) {
	if m.leaveIfDenied(ctx, roomID) {
		return
	}
	rep, err := m.Backfill(ctx, roomID, nil)
	if ctx.Err() != nil {
		return
	}
	m.in.metrics.backfill(rep.Events, err)
	if err == nil {
		return
	}
	rs, rerr := m.st.RoomSync(ctx, roomID)
	if rerr != nil {
		m.log.Error("backfill failed, and reading its record failed", "room_id", roomID, "err", err, "read_err", rerr)
		return
	}
	rs.Backfill = store.BackfillFailed
	rs.BackfillAttempts++
	wait := retryWait(m.cfg.BackfillRetry, rs.BackfillAttempts)
	rs.BackfillNextAt = time.Now().Add(wait)
	rs.BackfillError = truncateString(err.Error(), 1000)
	if serr := m.st.SetRoomSync(ctx, rs); serr != nil {
		m.log.Error("recording a failed backfill", "room_id", roomID, "err", serr)
	}
	m.log.Warn("backfill failed; will retry", "room_id", roomID, "attempts", rs.BackfillAttempts, "in", wait, "err", err)
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// refuse leaves (or declines the invite to) a room the policy excludes.
func (m *Manager) refuse(ctx context.Context, roomID id.RoomID, why string) error {
	m.log.Info("not archiving room", "room_id", roomID, "reason", why)
	// Until the leave arrives the room may look joined: the backfill
	// retry must not read it meanwhile.
	rs, err := m.st.RoomSync(ctx, roomID)
	if err == nil {
		rs.Backfill = store.BackfillRefused
		err = m.st.SetRoomSync(ctx, rs)
	}
	if err != nil {
		return err
	}
	if err := m.client.Leave(ctx, roomID, "This archive does not archive this room: "+why); err != nil && !IsForbidden(err) {
		return err
	}
	return nil
}

// notAllowed is denied's answer for a room on no allow list, which an
// alias on it may still name (allowedByAlias).
const notAllowed = "the room is on no allow list"

// denied applies the allow and deny lists; it returns why a room is
// excluded, or "". state may be nil before joining. The room's aliases
// as its state claims them (m.room.canonical_alias, which any of its
// admins writes) may deny it, never allow it: a room made on evil.org
// claiming #ansible:matrix.org passed an allow list of that alias. An
// alias on the allow list allows the room the directory says it names
// (allowedByAlias), after denied.
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
	if why := m.onDenyList(names, append(slices.Clone(servers), inviterServers...)); why != "" {
		return why
	}
	if len(m.cfg.AllowRooms) == 0 && len(m.cfg.AllowServers) == 0 {
		return ""
	}
	if slices.Contains(m.cfg.AllowRooms, string(roomID)) {
		return ""
	}
	for _, s := range servers {
		if hasServer(m.cfg.AllowServers, s) {
			return ""
		}
	}
	if state == nil {
		return "" // aliases and creator are known only after joining; decide then
	}
	return notAllowed
}

// hasServer reports whether list names the server s. Server names are
// host names, which DNS compares without case: deny_servers [SPAM.example]
// denied nothing of spam.example.
func hasServer(list []string, s string) bool {
	return slices.ContainsFunc(list, func(l string) bool { return strings.EqualFold(l, s) })
}

// onDenyList returns why one of a room's names (ID, aliases) or servers
// is on the deny lists, or "".
func (m *Manager) onDenyList(names, servers []string) string {
	for _, n := range names {
		if n != "" && slices.Contains(m.cfg.DenyRooms, n) {
			return "the room " + n + " is on the deny list"
		}
	}
	for _, s := range servers {
		if s != "" && hasServer(m.cfg.DenyServers, s) {
			return "the server " + s + " is on the deny list"
		}
	}
	return ""
}

// deniedJoined returns why a room the archive already holds is on the deny
// lists (its ID, its aliases or its creator's server, as the archive last
// recorded them), or "". The lists were read only on joining: a room the
// operator denied after the bot joined went on being archived and
// published. The allow lists are not applied again here (an alias on them
// needs the directory's word, asked on joining).
func (m *Manager) deniedJoined(ctx context.Context, roomID id.RoomID) (string, error) {
	if len(m.cfg.DenyRooms) == 0 && len(m.cfg.DenyServers) == 0 {
		return "", nil
	}
	names := []string{string(roomID)}
	var servers []string
	if _, srv, ok := strings.Cut(string(roomID), ":"); ok {
		servers = append(servers, srv)
	}
	room, err := m.st.Room(ctx, roomID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return "", fmt.Errorf("deny lists: %w", err)
	default:
		names = append(append(names, room.CanonicalAlias), room.AltAliases...)
		servers = append(servers, serversOf(room.Creator)...)
	}
	return m.onDenyList(names, servers), nil
}

// Archivable returns the events of evs the archive may store: all but
// those of rooms on the deny lists (deniedJoined), of which it keeps the
// bot's own membership (its leave takes the room off the joined rooms)
// and redactions (what was archived before the room was denied stays
// until the operator purges it, and must still lose what its senders
// redact). Each denied room is logged once; sweepLoop leaves it.
func (m *Manager) Archivable(ctx context.Context, evs []*event.Event) ([]*event.Event, error) {
	if len(m.cfg.DenyRooms) == 0 && len(m.cfg.DenyServers) == 0 {
		return evs, nil
	}
	why := map[id.RoomID]string{}
	out := make([]*event.Event, 0, len(evs))
	dropped := map[id.RoomID]int{}
	for _, ev := range evs {
		w, ok := why[ev.RoomID]
		if !ok {
			var err error
			if w, err = m.deniedJoined(ctx, ev.RoomID); err != nil {
				return nil, err
			}
			why[ev.RoomID] = w
		}
		botMember := ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(m.bot)
		if w == "" || botMember || ev.Type == event.TypeRedaction {
			out = append(out, ev)
			continue
		}
		dropped[ev.RoomID]++
	}
	for roomID, n := range dropped {
		m.mu.Lock()
		first := !m.deniedSeen[roomID]
		m.deniedSeen[roomID] = true
		m.mu.Unlock()
		if first {
			m.log.Warn("not archiving events of a room on the deny lists; leaving it", "room_id", roomID,
				"reason", why[roomID], "events", n)
		} else {
			m.log.Debug("not archiving events of a room on the deny lists", "room_id", roomID, "events", n)
		}
	}
	return out, nil
}

// leaveIfDenied leaves a joined room on the deny lists, and reports
// whether it was one (then it is not swept nor backfilled).
func (m *Manager) leaveIfDenied(ctx context.Context, roomID id.RoomID) bool {
	why, err := m.deniedJoined(ctx, roomID)
	if err != nil {
		m.log.Warn("checking a room against the deny lists failed; next time", "room_id", roomID, "err", err)
		return true // neither swept nor backfilled until known
	}
	if why == "" {
		return false
	}
	if err := m.refuse(ctx, roomID, why); err != nil {
		m.log.Warn("leaving a room on the deny lists failed; next time", "room_id", roomID, "err", err)
	}
	return true
}

// allowedByAlias reports whether an alias on the allow list names roomID
// in the homeserver's directory, which the alias's own server answers
// for. An error is one that may pass (the join is tried again), returned
// only when no alias named the room: one alias's server being down must
// not hold back a room another alias names.
func (m *Manager) allowedByAlias(ctx context.Context, roomID id.RoomID) (bool, error) {
	var errs []error
	for _, a := range m.cfg.AllowRooms {
		if !strings.HasPrefix(a, "#") {
			continue
		}
		room, err := resolveAlias(ctx, m.client, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if room == roomID {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
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

// inviterIn finds who invited the bot in a /sync invite's stripped state
// (homeservers include the invite event itself); "" if it is not there or
// names two inviters, and then the invite is declined.
func (m *Manager) inviterIn(invite json.RawMessage) id.UserID {
	var inv struct {
		State struct {
			Events []struct {
				Type     string          `json:"type"`
				StateKey *string         `json:"state_key"`
				Sender   id.UserID       `json:"sender"`
				Content  json.RawMessage `json:"content"`
			} `json:"events"`
		} `json:"invite_state"`
	}
	if json.Unmarshal(invite, &inv) != nil {
		return ""
	}
	// The stripped state is the inviting server's, unsigned; the
	// homeserver adds the invite itself. A hostile server may put another
	// invite of the bot in it, sent by a room's admin on a trusted server
	// (the first was taken: the allow and deny lists and the power check
	// judged the admin): two inviters are no inviter, and the invite is
	// declined.
	var inviter id.UserID
	for _, ev := range inv.State.Events {
		if ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(m.bot) &&
			event.StringField(ev.Content, "membership") == "invite" {
			if inviter != "" && ev.Sender != inviter {
				return ""
			}
			inviter = ev.Sender
		}
	}
	return inviter
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
	Bytes         int64
	ReachedCreate bool
	// Bounded: the backfill stopped at backfill_limit or
	// backfill_max_bytes, short of the room's creation.
	Bounded bool
	Import  ImportReport
}

// backfillPage is the page size; Synapse caps /messages at 1,000.
const backfillPage = 1000

// messages asks for a page of at most *limit events from the homeserver,
// and again for half as many, down to one, while the page is larger than
// the client reads (ErrResponseTooLarge). A page of 1,000 events of up to
// 64 KiB each, and their unsigned data (prev_content doubles a state event
// in the client format), can pass the 64 MiB it reads, and the same page
// asked again failed again: the room's sweep or backfill never moved.
// *limit keeps the size that passed for the rest of the sweep or backfill.
//
// One event larger than the client reads is not skipped: the token past
// it is the page's end, which a homeserver may send after the chunk (Synapse
// does), in the part not read. It cannot come from a homeserver that keeps
// Matrix's 64 KiB bound on events, and event.Parse refuses any event past
// event.MaxEventSize anyway.
func (m *Manager) messages(ctx context.Context, roomID id.RoomID, from, dir string, limit *int) (MessagesPage, error) {
	for {
		page, err := m.client.Messages(ctx, roomID, from, dir, *limit)
		if !errors.Is(err, ErrResponseTooLarge) {
			if page.LeftOut > 0 {
				m.log.Warn("leaving out events nested deeper than the archive accepts", "room_id", roomID,
					"from", from, "events", page.LeftOut, "max_depth", event.MaxDepth)
			}
			return page, err
		}
		if *limit == 1 {
			m.log.Error("one event from the homeserver is larger than the archiver reads of a response; the room's history cannot be read past it",
				"room_id", roomID, "from", from, "dir", dir, "limit_bytes", m.client.maxResponse)
			return page, err
		}
		*limit /= 2
		m.log.Warn("a /messages page was larger than the archiver reads of a response; asking for fewer events",
			"room_id", roomID, "from", from, "dir", dir, "limit", *limit)
	}
}

// A backfill's spool file is named spoolPrefix…spoolSuffix in SpoolDir.
const (
	spoolPrefix = "backfill-"
	spoolSuffix = ".ndjson"
)

// staleSpool is the age past which a spool file is a killed backfill's: a
// live one is written page by page, then read back by its import (a
// backfill run by `archiver backfill` beside `archiver run` is another
// process's, which this one cannot tell from a killed one but by its age).
const staleSpool = time.Hour

// removeStaleSpools removes the spool files that no backfill has written
// for staleSpool: a backfill removes its own when it ends, but one killed
// meanwhile (the OOM killer, systemd's SIGKILL after TimeoutStopSec, a
// power cut) left up to archive.backfill_max_bytes of the data disk to
// nothing, each crash more. It runs before this manager's first backfill
// makes a spool file, so a file it finds is no backfill's of this
// process; an error only leaves the files for the next start.
func (m *Manager) removeStaleSpools() {
	entries, err := os.ReadDir(m.cfg.SpoolDir)
	if err != nil {
		m.log.Warn("reading the backfill spool directory for stale spool files", "dir", m.cfg.SpoolDir, "err", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, spoolPrefix) || !strings.HasSuffix(name, spoolSuffix) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) <= staleSpool {
			continue
		}
		path := filepath.Join(m.cfg.SpoolDir, name)
		if err := os.Remove(path); err != nil {
			m.log.Warn("removing a stale backfill spool file", "path", path, "err", err)
			continue
		}
		m.log.Info("removed the spool file of a backfill that did not end (the archiver was killed meanwhile)",
			"path", path, "bytes", info.Size(), "modified", info.ModTime())
	}
}

// Backfill pages the room's history backwards as the bot, to its creation
// or the configured bounds (events, spool bytes), into a spool file, and
// imports that: the
// importer reads state first, so every event is judged by the state in
// force when it was sent even though pages arrive newest first, and by
// the history visibility in force before it in the order the pages give
// (historyOrder), which no timestamp can change. It is idempotent, and
// records how far back history is complete.
func (m *Manager) Backfill(ctx context.Context, roomID id.RoomID, progress func(events int)) (BackfillReport, error) {
	rep := BackfillReport{Room: roomID}
	if err := os.MkdirAll(m.cfg.SpoolDir, 0o750); err != nil {
		return rep, fmt.Errorf("backfill %s: %w", roomID, err)
	}
	m.spoolSwept.Do(m.removeStaleSpools)
	spool, err := os.CreateTemp(m.cfg.SpoolDir, spoolPrefix+"*"+spoolSuffix)
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
	limit := backfillPage
	var order historyOrder
	if order.newest, err = m.st.ArrivedVisibility(ctx, roomID); err != nil {
		return rep, err
	}
	// seen holds the end tokens given so far, and empty counts the empty
	// pages in a row: a page may be empty and yet not the end (below), so
	// a homeserver that goes round in circles, or gives empty pages
	// without end, must not keep the backfill paging for ever.
	seen := map[string]bool{}
	empty := 0
	for {
		page, err := m.messages(ctx, roomID, from, "b", &limit)
		if err != nil {
			return rep, fmt.Errorf("backfill %s: %w", roomID, err)
		}
		rep.Pages++
		if forward == "" {
			forward = page.Start // "now": where forward sweeps begin
		}
		for _, raw := range page.Chunk {
			line := append(compact(raw), '\n')
			// The bounds are checked per event: one page of 1,000 events
			// can be far past them.
			if (m.cfg.BackfillLimit > 0 && rep.Events >= m.cfg.BackfillLimit) || rep.Bytes+int64(len(line)) > m.cfg.BackfillMaxBytes {
				rep.Bounded = true
				break
			}
			// Read as the importer reads it (event.Parse matches keys
			// exactly; encoding/json took "State_key" for "state_key"),
			// which reports a malformed one.
			if ev, err := event.Parse(line[:len(line)-1]); err == nil {
				if ev.Type == event.TypeCreate {
					rep.ReachedCreate = true
				}
				if event.IsHistoryVisibility(ev) {
					prev, ok := event.PreviousHistoryVisibility(line[:len(line)-1])
					order.add(rep.Events+1, event.HistoryVisibility(ev.Content), prev, ok) // the spool's line, from 1
				}
				if ev.OriginTS > 0 && (oldest == 0 || ev.OriginTS < oldest) {
					oldest = ev.OriginTS
				}
			}
			if _, err := w.Write(line); err != nil {
				return rep, fmt.Errorf("backfill %s: spool: %w", roomID, err)
			}
			rep.Events++
			rep.Bytes += int64(len(line))
		}
		if progress != nil {
			progress(rep.Events)
		}
		// Only a page without end is the end of what the bot may see
		// (MATRIX.md, /messages). An empty page with an end is a stretch
		// the bot may not see: Synapse filters a page after reading it
		// and answers one whose events were all hidden (members-only
		// years between public ones) with no events and an end. Stopping
		// there left the public history before it, and the room's
		// creation, unread for good, the backfill recorded complete.
		if rep.Bounded || page.End == "" || page.End == from {
			break
		}
		if seen[page.End] {
			m.log.Warn("the homeserver gave a /messages position it had given before; ending the backfill there",
				"room_id", roomID, "pages", rep.Pages)
			break
		}
		seen[page.End] = true
		if len(page.Chunk) == 0 {
			empty++
		} else {
			empty = 0
		}
		if empty >= maxEmptyPages {
			m.log.Warn("the homeserver gave page after page with no event the bot may see; ending the backfill there, older history unread",
				"room_id", roomID, "pages", rep.Pages, "empty_pages", empty)
			break
		}
		from = page.End
	}
	if err := w.Flush(); err != nil {
		return rep, fmt.Errorf("backfill %s: spool: %w", roomID, err)
	}
	if rep.Events > 0 {
		// A backfill is written while the archiver's own transactions
		// come in: its batches stay small, so none of them waits long
		// for SQLite's write lock.
		order.complete = rep.ReachedCreate
		rep.Import, err = m.in.ImportFile(ctx, spool.Name(), ImportOptions{Format: FormatNDJSON, Source: store.SourceBackfill,
			BatchSize: backfillBatch, order: &order})
		if err != nil && !errors.Is(err, ErrNoEvents) {
			return rep, fmt.Errorf("backfill %s: %w", roomID, err)
		}
	}
	if rs.ForwardToken == "" {
		// Sweeps start at the spool's newest end, under the newest
		// visibility it holds.
		rs.ForwardToken, rs.SweepVisibility = forward, order.newest
		if len(order.values) > 0 {
			rs.SweepVisibility = order.values[0]
		}
	}
	if rs.ForwardToken == "" {
		// Without a position the room would never be swept: fail, and
		// the retry asks again.
		return rep, fmt.Errorf("backfill %s: the homeserver gave no position to sweep from", roomID)
	}
	rs.Backfill, rs.BackfillAttempts, rs.BackfillNextAt, rs.BackfillError = store.BackfillComplete, 0, time.Time{}, ""
	if oldest > 0 && (rs.CompleteFrom.IsZero() || time.UnixMilli(oldest).Before(rs.CompleteFrom)) {
		rs.CompleteFrom = time.UnixMilli(oldest).UTC()
	}
	rs.ReachedCreate = rs.ReachedCreate || rep.ReachedCreate
	rs.BackfilledAt = time.Now()
	if err := m.st.SetRoomSync(ctx, rs); err != nil {
		return rep, err
	}
	m.log.Info("backfilled room", "room_id", roomID, "events", rep.Events, "bytes", rep.Bytes, "stored", rep.Import.Stored,
		"already_archived", rep.Import.Duplicates, "not_public", rep.Import.NotPublic, "reached_create", rep.ReachedCreate)
	if rep.Bounded {
		m.log.Warn("backfill stopped at its bound (archive.backfill_limit, archive.backfill_max_bytes): older history is not archived",
			"room_id", roomID, "events", rep.Events, "bytes", rep.Bytes)
	}
	return rep, nil
}

// maxEmptyPages bounds the empty pages in a row a backfill reads: up to
// ten million events the bot may not see at Synapse's 1,000 a page, and
// no more requests than that from a homeserver that never says the end.
const maxEmptyPages = 10_000

// sweepMaxPages bounds the pages one sweep of one room reads: the sweep
// loop sweeps rooms in turn, and a homeserver whose forward positions
// never end (two tokens in turn, each page one archived event) held it in
// one room for ever. The next sweep carries on from where this one
// stopped, so a room far behind is caught up over a few sweeps.
const sweepMaxPages = 100

// backfillBatch is a backfill's events per transaction.
const backfillBatch = 10_000

// compact puts an event on one line for the spool file.
func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return bytes.ReplaceAll(raw, []byte("\n"), []byte(" ")) // one line; the importer will report it
	}
	return b.Bytes()
}

// Sweep reads a room forward from its last position, at most
// sweepMaxPages pages, and stores whatever is missing: events a homeserver
// did not push, redactions included.
func (m *Manager) Sweep(ctx context.Context, roomID id.RoomID) (int, error) {
	rs, err := m.st.RoomSync(ctx, roomID)
	if err != nil || rs.ForwardToken == "" {
		return 0, err // not backfilled yet: the backfill sets the position
	}
	from, n := rs.ForwardToken, 0
	limit := backfillPage
	// The room's visibility in its order, page to page (ingestSweep),
	// from where the last sweep (or the backfill) left it.
	carry := map[id.RoomID]string{roomID: rs.SweepVisibility}
	for pages := 1; ; pages++ {
		page, err := m.messages(ctx, roomID, from, "f", &limit)
		if err != nil {
			return n, fmt.Errorf("sweep %s: %w", roomID, err)
		}
		if len(page.Chunk) > 0 {
			res, err := m.in.ingestSweep(ctx, parseAll(page.Chunk, m.log.With("room_id", roomID)), carry)
			if err != nil {
				return n, fmt.Errorf("sweep %s: %w", roomID, err)
			}
			n += res.Stored
		}
		// As in Backfill, an empty page with an end is a stretch the bot
		// may not see, not the end: stopping there kept the position
		// before it, and every sweep asked the same page again.
		if page.End == "" || page.End == from {
			break
		}
		from = page.End
		if pages >= sweepMaxPages {
			m.log.Info("sweep read its most pages of a room; the next sweep carries on", "room_id", roomID, "pages", pages)
			break
		}
	}
	// Written only when the position moved: a quiet room costs no write
	// (SQLite has one writer, and live transactions need it).
	if from != rs.ForwardToken {
		rs.ForwardToken, rs.SweepVisibility, rs.SweptAt = from, carry[roomID], time.Now()
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
			if ctx.Err() != nil {
				return
			}
			if m.leaveIfDenied(ctx, r) {
				continue
			}
			sweep, err := m.notePublic(ctx, r)
			if err != nil {
				m.log.Warn("checking whether a room is public failed; next time", "room_id", r, "err", err)
				continue
			}
			if !sweep {
				continue // nothing to record; /sync brings a change of visibility
			}
			_, err = m.Sweep(ctx, r)
			if ctx.Err() != nil {
				return
			}
			m.in.metrics.run("sweep", err)
			if err != nil {
				m.log.Warn("sweep failed; next time", "room_id", r, "err", err)
			}
		}
	}
}

// notPublicReason is the bot's leave reason for a room that stayed
// non-public.
const notPublicReason = "This room's history has not been world-readable for a long time, so the archive stops following it. " +
	"A room admin can invite it again after making the history world-readable."

// notePublic reports whether a joined room is worth sweeping: its history
// is world-readable (and the room not encrypted), or it holds messages
// archived while it was, whose redactions must still reach the archive. A
// room that is not public is remembered with the time it was first seen
// so, and left once that is longer ago than LeaveNonPublicAfter: a room
// that will never be public costs nothing for ever after.
func (m *Manager) notePublic(ctx context.Context, roomID id.RoomID) (bool, error) {
	room, err := m.st.Room(ctx, roomID)
	if err != nil {
		return false, err
	}
	public := room.HistoryVisibility == "world_readable" && !room.Encrypted
	sweep := public || room.MessageCount > 0
	rs, err := m.st.RoomSync(ctx, roomID)
	if err != nil {
		return sweep, err
	}
	now := time.Now()
	switch {
	case public && !rs.NotPublicSince.IsZero():
		rs.NotPublicSince = time.Time{}
		return sweep, m.st.SetRoomSync(ctx, rs)
	case public:
		return sweep, nil
	case rs.NotPublicSince.IsZero():
		rs.NotPublicSince = now
		return sweep, m.st.SetRoomSync(ctx, rs)
	case m.cfg.LeaveNonPublicAfter > 0 && now.Sub(rs.NotPublicSince) >= m.cfg.LeaveNonPublicAfter:
		m.log.Info("leaving a room whose history has not been world-readable", "room_id", roomID,
			"since", rs.NotPublicSince, "history_visibility", room.HistoryVisibility, "encrypted", room.Encrypted)
		if err := m.client.Leave(ctx, roomID, notPublicReason); err != nil && !IsForbidden(err) {
			return sweep, fmt.Errorf("leave %s: %w", roomID, err)
		}
		// The leave event, pushed or synced, records the membership.
		return false, nil
	}
	return sweep, nil
}

// syncFilter asks /sync only for what transactions may miss and the archive
// must not: redactions, membership (invites, kicks, bans of the bot), and
// the state that decides what is public; at most limit timeline events a
// room.
func syncFilter(limit int) string {
	return `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"ephemeral":{"types":[]},` +
		`"account_data":{"types":[]},"state":{"types":[]},"timeline":{"limit":` + strconv.Itoa(limit) + `,"types":["m.room.redaction",` +
		`"m.room.member","m.room.history_visibility","m.room.encryption","m.room.tombstone","m.room.power_levels",` +
		`"m.room.create","m.room.retention","org.matrix.msc1763.retention"]}}}`
}

// syncTimelineLimit is syncFilter's timeline limit when /sync answers fit
// what the client reads.
const syncTimelineLimit = 100

// errNoNextBatch is a /sync answer that names no next_batch, or names the
// since it was asked with before the long-poll timeout: asking again at
// once brings the same answer at once.
var errNoNextBatch = errors.New("the homeserver's /sync answer named no next position")

// syncLoop long-polls /sync as the bot: redactions reach the archive within
// seconds even from a homeserver that never pushes them (Dendrite).
//
// An answer larger than the client reads (ErrResponseTooLarge) is asked
// again with half the timeline limit, down to one event a room, as
// Manager.messages does for /messages: asked again as it was, the same
// since and filter brought the same answer for ever (a hundred member
// events with 64 KiB display names in each of a few rooms pass 64 MiB).
// The limit doubles back after each answer that fits.
func (m *Manager) syncLoop(ctx context.Context) {
	since := ""
	delay := time.Second
	limit := syncTimelineLimit
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
		asked := time.Now()
		resp, err := m.client.Sync(ctx, since, syncFilter(limit), m.cfg.SyncTimeout)
		if errors.Is(err, ErrResponseTooLarge) && limit > 1 {
			limit /= 2
			m.log.Warn("a /sync answer was larger than the archiver reads of a response; asking for fewer timeline events a room",
				"since", since, "timeline_limit", limit)
			continue
		}
		// A homeserver (or a proxy before it) that answers at once with
		// no next_batch, or with the since it was asked with, was asked
		// again at once, thousands of times a second. The same since
		// after a long-poll's whole wait is a quiet homeserver.
		if err == nil && (resp.NextBatch == "" || (resp.NextBatch == since && time.Since(asked) < m.cfg.SyncTimeout/2)) {
			err = errNoNextBatch
		}
		if err != nil {
			if ctx.Err() == nil {
				m.in.metrics.run("sync", err)
			}
			if ctx.Err() != nil || !backoff("sync failed; retrying", err) {
				return
			}
			continue
		}
		if resp.LeftOut > 0 {
			m.log.Warn("leaving out events nested deeper than the archive accepts", "since", since,
				"events", resp.LeftOut, "max_depth", event.MaxDepth)
		}
		var evs []*event.Event
		for roomID, r := range resp.Rooms.Join {
			evs = append(evs, parseAll(inRoom(r.Timeline.Events, roomID), m.log.With("room_id", roomID))...)
		}
		for roomID, r := range resp.Rooms.Leave {
			evs = append(evs, parseAll(inRoom(r.Timeline.Events, roomID), m.log.With("room_id", roomID))...)
		}
		evs, err = m.Archivable(ctx, evs)
		if err == nil && len(evs) > 0 {
			var res Result
			res, err = m.in.IngestFrom(ctx, store.SourceSync, evs)
			if err == nil {
				err = m.Committed(ctx, res.Kept(evs))
			}
		}
		if err != nil {
			m.in.metrics.run("sync", err)
			// The same since token brings them again.
			if !backoff("storing events from sync failed; not advancing", err) {
				return
			}
			continue
		}
		m.in.metrics.run("sync", nil)
		delay = time.Second
		var inviteErr error
		for roomID, inv := range resp.Rooms.Invite {
			j := job{target: string(roomID), kind: joinByInvite, inviter: m.inviterIn(inv)}
			j.via = serversOf(j.inviter)
			if err := m.request(ctx, j); err != nil {
				inviteErr = err
			}
		}
		if inviteErr != nil {
			// Not advancing: the same since brings the invites again.
			if !backoff("recording an invite from sync failed; not advancing", inviteErr) {
				return
			}
			continue
		}
		since = resp.NextBatch
		limit = min(limit*2, syncTimelineLimit)
	}
}
