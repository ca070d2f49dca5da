package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SetNow sets the store's clock; call it before the store is used.
func (s *Store) SetNow(now func() time.Time) { s.now = now }

// Refused exposes the test that tells a refused value from an outage.
var Refused = refused

// Conn takes one connection from the pool.
func (s *Store) Conn(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }

// TimelineMessageSQL exposes the SQL statement of "a timeline message", so
// a test can hold it to Event.Displayable.
const TimelineMessageSQL = timelineMessageSQL

// ReadStateSQL exposes the query of a room's change-feed position and
// sync state, for a test of its plan.
const ReadStateSQL = readStateSQL

// SetDirect chooses whether events are read through SQLite's API
// (direct.go) or pgx's rows (directpg.go), or through database/sql.
func (s *Store) SetDirect(on bool) { s.noDirect = !on }

// SetConsentLoading sets a function run while screening loads its copy of
// the opt-outs and policies, after it has read the feed's head.
func (s *Store) SetConsentLoading(f func()) { s.consentLoading = f }

// DirectReads is how many reads of events went the direct way.
func (s *Store) DirectReads() int64 { return s.directReads.Load() }

// SetMaxIdleConns and SetMaxOpenConns change the pool's bounds.
func (s *Store) SetMaxIdleConns(n int) { s.db.SetMaxIdleConns(n) }
func (s *Store) SetMaxOpenConns(n int) { s.db.SetMaxOpenConns(n) }

// DirectConns is how many connections have statements of the direct path.
func (s *Store) DirectConns() int {
	s.direct.mu.Lock()
	defer s.direct.mu.Unlock()
	return len(s.direct.byConn)
}

// SetQueryTimeout changes the bound on each read query.
func (s *Store) SetQueryTimeout(d time.Duration) { s.queryTimeout = d }

// SlowInQuery runs inQuery over ids with a PostgreSQL query that sleeps
// for the given seconds per chunk of the IN list.
func (s *Store) SlowInQuery(ctx context.Context, seconds float64, ids []id.EventID) ([]Event, error) {
	// The sleep is the outer side of a lateral join, so it runs even when
	// no event matches.
	return s.inQuery(ctx, fmt.Sprintf(`SELECT e.* FROM (SELECT pg_sleep(%g)::text AS s OFFSET 0) z
		CROSS JOIN LATERAL (SELECT `+eventColumns+` FROM events WHERE event_id IN (%%[1]s) AND z.s IS NOT NULL OFFSET 0) e`, seconds), ids, true)
}

// MaxIDsPerQuery is the longest IN list of one query.
const MaxIDsPerQuery = maxIDsPerQuery

// RelatedInSQL exposes RelatedIn's query on st's database, for a test of
// its plan.
func RelatedInSQL(st *Store) string { return st.relatedInQuery(false) }

// PreviousMembershipSQL and PreviousStateSQL expose the queries of the
// member and state event an event replaced, for a test of their plans.
var PreviousMembershipSQL, PreviousStateSQL = previousMembershipSQL, previousStateSQL

// MemberRows exposes previousMembershipSQL's rows on st's database.
func MemberRows(st *Store, evs []*Event) (string, []any, error) { return memberRows(st.dialect, evs) }

// MeetingStartsSQL exposes MeetingStarts' query, for a test of its plan.
func MeetingStartsSQL(st *Store) string {
	if st.dialect == sqlite {
		return meetingStartsSQLite
	}
	return meetingStartsSQL
}

// RoomReadConsentSQL exposes RoomToRead's statement when it also looks at
// the change feed, and its arguments for room after position pos (pos the
// anchor too), for a test of PostgreSQL's plan cache.
func RoomReadConsentSQL(room string, pos int64) (string, []any) {
	return roomReadConsentSQL, roomReadConsentArgs(room, pos, pos)
}

// RoomReadSQL is RoomToRead's statement without the change-feed look.
const RoomReadSQL = roomReadSQL

// SpaceChildrenSQL is SpaceChildren's query, for a test of its plan.
const SpaceChildrenSQL = spaceChildrenSQL

// ConnMutex is the SQLite mutex of the connection c (0 when it has none),
// read from the handle dropConnMutex finds.
func ConnMutex(c *sql.Conn) (uintptr, error) {
	var m uintptr
	err := c.Raw(func(dc any) error {
		db, err := connHandle(dc)
		if err != nil {
			return err
		}
		tls := libc.NewTLS()
		defer tls.Close()
		m = sqlite3.Xsqlite3_db_mutex(tls, db)
		return nil
	})
	return m, err
}

// DropConnMutex exposes dropConnMutex.
var DropConnMutex = dropConnMutex

// The queries of shown messages that read events_shown, for a test of
// their plans, and the index's condition.
const (
	HourCountsSQL  = hourCountsSQL
	CappedCountSQL = cappedCountSQL
	ShownIndexCond = shownIndexCond
)

var RoomDaysSQL = roomDaysSQL

// The queries of shown polls that read events_polls, and its condition.
const (
	CappedPollCountSQL = cappedPollCountSQL
	LatestPollsSQL     = latestPollsSQL
	PrevShownSQL       = prevShownSQL
	NextShownSQL       = nextShownSQL
	PollIndexCond      = pollIndexCond
)

var PollDaysSQL = pollDaysSQL

// DirectReprepares is how many times SQLite has compiled again the
// statements the direct path keeps (SQLITE_STMTSTATUS_REPREPARE).
func (s *Store) DirectReprepares() int {
	tls := libc.NewTLS()
	defer tls.Close()
	s.direct.mu.Lock()
	defer s.direct.mu.Unlock()
	n := 0
	for _, m := range s.direct.byConn {
		for _, stmt := range m {
			n += int(sqlite3.Xsqlite3_stmt_status(tls, stmt, sqlite3.SQLITE_STMTSTATUS_REPREPARE, 0))
		}
	}
	return n
}

// EventIDLookups are the queries that find events by ID (idh), each with
// arguments, formatted for st's database, for a test of their plans.
func EventIDLookups(st *Store) map[string][]any {
	list, args, err := idList(st.dialect, []id.EventID{"$a", "$b"})
	if err != nil {
		panic(err)
	}
	amongArg := any(`["$a","$b"]`)
	amongQuery := sqliteAmong(markRelatedSQL)
	probe, visibleRef := sqliteProbeSQL, visibleRefSQL
	if st.dialect == postgres {
		amongArg, amongQuery, probe, visibleRef = []string{"$a", "$b"}, postgresAmong(markRelatedSQL), postgresProbeSQL, visibleRefPostgres
	}
	withList := func(q string) string { return fmt.Sprintf(q, list, idhList(st.dialect, list)) }
	return map[string][]any{
		eventByIDSQL:               {"$a"},
		redactionTargetSQL:         {"$a"},
		redactedByIDSQL:            {"$a"},
		nidByIDSQL:                 {"$a"},
		runBoundsSQL:               {"$a", "$b"},
		rejudgeTargetsSQL:          {"!r:example.org", 10},
		roomRedactionsSQL:          {"!r:example.org", int64(0), "$a", 10, int64(0)},
		visibleRef:                 {"example.org", "m", int64(0), 1, int64(0), int64(0), int64(1 << 62), 0},
		MeetingStartsSQL(st):       {"!r:example.org", 10, 1 << 62},
		amongQuery:                 {amongArg},
		probe:                      {amongArg},
		withList(eventTimesSQL):    args,
		withList(eventsByIDSQL):    args,
		withList(st.relatedText()): args,
	}
}

// SQLiteRelatedQuery is Related's statement on SQLite for two IDs, and
// its arguments.
func SQLiteRelatedQuery() (string, []any) {
	list, args, err := idList(sqlite, []id.EventID{"$a", "$b"})
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(sqliteRelatedSQL, list, idhList(sqlite, list)), args
}

// SQLiteProbeSQL is writer.probe's statement on SQLite, PostgresProbeSQL
// on PostgreSQL.
var SQLiteProbeSQL, PostgresProbeSQL = sqliteProbeSQL, postgresProbeSQL

// ScanStrings exposes scanStrings: the one column of rows, as strings.
var ScanStrings = scanStrings

// DBForm exposes dbForm: a query as the store's database runs it.
func (s *Store) DBForm(query string) string { return s.dbForm(query) }

// DirectProbes exposes directProbes.
func (s *Store) DirectProbes(ctx context.Context, query string, args [][]any, read func(i int, col []byte)) (bool, error) {
	return s.directProbes(ctx, query, args, read)
}

// EventsByKeyQuery is EventsByKey's query for two keys, and its arguments.
func EventsByKeyQuery(st *Store) (string, []any) {
	expr, list, args, err := keyList(st.dialect, []uint64{1, 2})
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(eventsByKeySQL, expr, list), args
}

// SetBeforeInsertStatement sets a function called before each statement
// of a multi-row SQLite insert (nil: none); call it while no batch is
// being written.
func (s *Store) SetBeforeInsertStatement(f func()) { s.beforeInsertStatement = f }

// Len is how many distinct reads were noted.
func (n *ReadNotes) Len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.reads)
}

// Texts are the noted reads' texts, in the order they were first sent.
func (n *ReadNotes) Texts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, len(n.reads))
	for i, r := range n.reads {
		out[i] = r.query
	}
	return out
}

// RelatedSQL exposes Related's query on st's database for one event's
// relations, with its arguments.
func RelatedSQL(st *Store, evID id.EventID) (string, []any) {
	list, args, err := idList(st.dialect, []id.EventID{evID})
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(st.relatedText(), list, idhList(st.dialect, list)), args
}

// RelationRead is a query and its arguments.
type RelationRead struct {
	Query string
	Args  []any
}

// PollVotesQuery is PollVotes' query on st's database for polls.
func PollVotesQuery(st *Store, polls ...id.EventID) RelationRead {
	list, args, err := idList(st.dialect, polls)
	if err != nil {
		panic(err)
	}
	q := pollVotesSQL
	if st.dialect == sqlite {
		q = sqlitePollVotesSQL
	}
	return RelationRead{fmt.Sprintf(q, list, idhList(st.dialect, list)), args}
}

// RelationReadQueries are ThreadRoots', LatestEdits' and Related's
// queries on st's database for two IDs, by name.
func RelationReadQueries(st *Store) map[string]RelationRead {
	list, args, err := idList(st.dialect, []id.EventID{"$a", "$b"})
	if err != nil {
		panic(err)
	}
	out := map[string]RelationRead{}
	for name, q := range map[string]string{"ThreadRoots": threadRepliesSQL(st.dialect), "LatestEdits": editCandidatesSQL(st.dialect), "Related": st.relatedText()} {
		out[name] = RelationRead{fmt.Sprintf(q, list, idhList(st.dialect, list)), args}
	}
	return out
}

// PollIndexCondSQL is pollIndexCond, for a test that holds Event.PollStart to it.
const PollIndexCondSQL = pollIndexCond

// ReadableSQL is readableSQL, for a test that holds Event.Readable to
// it.
const ReadableSQL = readableSQL

// VisibleRefPostgres is MediaFor's query of one shown reference to a
// file, as PostgreSQL runs it.
var VisibleRefPostgres = visibleRefPostgres

// SetLockSession makes the archiver guard take the lock's session to be
// the backend pid started at start (a test's stand-in for a process ID
// reused after a restart).
func (s *Store) SetLockSession(pid int64, start time.Time) {
	if g := s.guard.Load(); g != nil {
		g.session.Store(&lockSession{pid: pid, start: start})
	}
}

// LockSession is the session the archiver guard takes to hold the lock
// (0 when none).
func (s *Store) LockSession() (pid int64, start time.Time) {
	if g := s.guard.Load(); g != nil {
		if sess := g.session.Load(); sess != nil {
			return sess.pid, sess.start
		}
	}
	return 0, time.Time{}
}

// LockedWriteSQL is the check of an archiver's write transactions.
const LockedWriteSQL = lockedWriteSQL
