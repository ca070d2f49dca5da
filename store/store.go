package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"maunium.net/go/mautrix/id"
	moderncsqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/retention"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrSchemaTooNew  = errors.New("database schema is newer than this binary")
	ErrUnknownDBType = errors.New("unknown database type")
	// ErrNoArchive is Open's answer, with Options.MustExist, for a SQLite
	// database file that is not there.
	ErrNoArchive = errors.New("no archive")
)

// Config selects and tunes the database.
type Config struct {
	// Type is "sqlite" or "postgres".
	Type string `yaml:"type"`
	// URI is a file path (SQLite) or a postgres:// URL. For SQLite an empty
	// URI means DataDir/mxarchive.db.
	URI string `yaml:"uri"`
	// QueryTimeout bounds every read query; writes get WriteTimeout.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxOpenConns caps the connections the process opens (0: 8 on
	// SQLite, 32 on PostgreSQL); MaxIdleConns is how many of them stay open
	// between requests (0: as many as MaxOpenConns on PostgreSQL, where a
	// new connection costs a backend process and a round trip per request
	// burst; 2 on SQLite, where every idle connection keeps its own 64 MiB
	// page cache).
	MaxOpenConns int `yaml:"max_open_conns"`
	MaxIdleConns int `yaml:"max_idle_conns"`
}

// Options are what the process decides about its store beyond the
// database section: the zero value is every default (no bot, no retention,
// non-public rooms hidden), which is what tests and one-off commands want.
type Options struct {
	// Bot is the archive bot's user ID: its membership decides whether a
	// room is shown. Empty for a store that only imports or reads.
	Bot id.UserID
	// Retention is the operator's retention policy (the config's retention
	// section); the zero value honours no policy.
	Retention retention.Policy
	// ShowFormerlyPublic keeps showing what was archived while a room was
	// world-readable after it stops being so. Off by default: the room is
	// hidden until it is world-readable again.
	ShowFormerlyPublic bool
	// PurgeBatch is how many events one purge transaction deletes (0:
	// 1000): small enough that ingest never waits long for the write lock.
	PurgeBatch int
	// LockCheckInterval is how often the PostgreSQL archiver lock's
	// session is checked (0: 15 s).
	LockCheckInterval time.Duration
	// ReadMostly is for a process that reads (archive-web): on SQLite
	// nothing of the file is memory-mapped and each connection keeps a
	// 2 MiB page cache (sqliteDSN). Mapped pages count in the process's
	// resident memory, and a reindex, which reads the whole file, mapped
	// all of it (212 of 551 MiB peak RSS at 300k messages; up to the 1 GiB
	// mapping, per connection, at 1M); read with pread, the file's hot
	// pages stay in the kernel's page cache, shared and reclaimable, not in
	// the process.
	ReadMostly bool
	// ReadsWhole is for a ReadMostly process that reads the whole archive
	// once (archive-web reindex): its SQLite connections keep the 8 MiB
	// page cache a serving archive-web's had before it was given 2 MiB
	// (sqliteDSN), since alternated reindexes of the 1M replay could not
	// tell whether the smaller one slowed them.
	ReadsWhole bool
	// MustExist is for a process that only reads the archive (archive-web,
	// `archiver status`, `log`, `quarantine`): on SQLite, Open refuses a
	// database file that is not there (ErrNoArchive) instead of creating
	// an empty archive, as it does for the archiver, which records. Such a
	// process pointed at a data_dir with a typo, or at a volume that did
	// not mount, created a new empty mxarchive.db, migrated it and served
	// it (archive-web's /readyz said "ready", and every permalink was a
	// 404). A PostgreSQL database is the server's to create, and is left
	// as it was.
	MustExist bool
}

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// Store is the archive's database. It is safe for concurrent use.
type Store struct {
	db           *sql.DB
	dialect      dialect
	log          *slog.Logger
	queryTimeout time.Duration
	writeTimeout time.Duration
	now          func() time.Time
	// bot is Options.Bot, the user whose membership decides whether a room
	// is shown.
	bot id.UserID
	// noDirect reads events through database/sql, not through SQLite's
	// API (direct.go) or pgx's rows (directpg.go): for tests comparing
	// the two.
	noDirect bool
	// consentLoading, set by tests only, runs while screening loads its
	// copy, between the two looks at the feed's head (consentNow).
	consentLoading func()
	// direct holds the direct reads' prepared statements.
	direct directStmts
	// directReads counts the reads of events that went the direct way
	// (tests see by it that they did).
	directReads atomic.Int64
	// uri is the PostgreSQL connection string, for LISTEN (store/notify.go).
	uri string
	// path is the SQLite database file ("" in memory or on PostgreSQL),
	// beside which the archiver's lock file lives (store/lock.go).
	path string
	// opts are the Options it was opened with, their zeros replaced by
	// the defaults.
	opts    Options
	consent consent
	// keptExpired remembers, per room, the expired latest event the purge
	// already fed a change for (store/operator.go).
	keptExpired sync.Map
	// stmts are the prepared reads (stmts.go).
	stmts stmtCache
	// guard is set on an archiver's PostgreSQL store by LockArchiver:
	// its writes need the lock held (lock.go).
	guard atomic.Pointer[archiverGuard]
	// beforeInsertStatement, if set (tests), is called before each
	// statement of writer.insertRowsSQLite.
	beforeInsertStatement func()
}

// Open connects, applies pending migrations and refuses a schema newer than
// this binary. dataDir is where the default SQLite file lives.
func Open(ctx context.Context, cfg Config, dataDir string, log *slog.Logger, opts Options) (*Store, error) {
	opts.PurgeBatch = cmp.Or(opts.PurgeBatch, 1000)
	opts.LockCheckInterval = cmp.Or(opts.LockCheckInterval, 15*time.Second)
	s := &Store{log: log, queryTimeout: cfg.QueryTimeout, writeTimeout: cfg.WriteTimeout, now: time.Now, uri: cfg.URI, bot: opts.Bot, opts: opts}
	if s.queryTimeout <= 0 {
		s.queryTimeout = 10 * time.Second
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = 2 * time.Minute
	}
	var err error
	switch cfg.Type {
	case "", "sqlite", "sqlite3":
		s.dialect = sqlite
		path := cfg.URI
		if path == "" {
			if !opts.MustExist {
				if err := os.MkdirAll(dataDir, 0o750); err != nil {
					return nil, fmt.Errorf("open store: create data directory: %w", err)
				}
			}
			path = filepath.Join(dataDir, "mxarchive.db")
		}
		s.path = sqlitePath(path)
		if opts.MustExist {
			if err := archiveExists(s.path, cfg.URI == ""); err != nil {
				return nil, err
			}
		}
		s.db, err = sql.Open("sqlite", sqliteDSN(path, opts))
	case "postgres", "postgresql":
		s.dialect = postgres
		s.db, err = openPostgres(cfg.URI, opts.ReadMostly)
		if err != nil {
			return nil, fmt.Errorf("open store: connect to %s: %w", cfg.redacted(), err)
		}
	default:
		return nil, fmt.Errorf("open store: %w %q (want sqlite or postgres)", ErrUnknownDBType, cfg.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	maxOpen, maxIdle := cfg.MaxOpenConns, cfg.MaxIdleConns
	if s.dialect == sqlite {
		// One writer at a time is SQLite's model; readers run in parallel
		// under WAL. Keep a few connections so pages and writes overlap:
		// the archiver two idle, each with its 64 MiB page cache; a
		// ReadMostly process (archive-web) all of them. A connection
		// closed for want of an idle place takes its page cache and its
		// compiled statements with it, and the next one fills a new cache
		// page by page, each page a fault of fresh memory (10-12 µs on the
		// bench's machine): a day page reads beside its timeline, so two
		// idle places closed a connection every page or so, and 20 day
		// pages asked one after another (the 1M replay) took 2,800 faults,
		// against 172 with every connection kept (perf record -e
		// page-faults; TestReadMostlyKeepsItsConnections).
		maxOpen = cmp.Or(maxOpen, 8)
		if opts.ReadMostly {
			maxIdle = cmp.Or(maxIdle, maxOpen)
		}
		maxIdle = cmp.Or(maxIdle, 2)
	} else {
		maxOpen = cmp.Or(maxOpen, 32)
		maxIdle = cmp.Or(maxIdle, maxOpen)
		// Idle connections are still closed after a quiet while, so an idle
		// archive does not hold backends.
		s.db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s.db.SetMaxOpenConns(maxOpen)
	s.db.SetMaxIdleConns(min(maxIdle, maxOpen))
	pctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	if err := s.ping(pctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store: connect to %s: %w", cfg.redacted(), s.diskFull(err))
	}
	if err := connMutexFailure(); s.dialect == sqlite && err != nil {
		log.Warn("SQLite connections keep their mutex (reads are slower, as safe)", "err", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, s.diskFull(err)
	}
	// A timeout of its own: a long migration (018 copies the events
	// table) must not have spent the ping's.
	prepCtx, cancelPrep := context.WithTimeout(ctx, s.queryTimeout)
	defer cancelPrep()
	if err := s.prepareWrites(prepCtx); err != nil {
		s.closeStmts()
		s.db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// archiveExists is Options.MustExist's check of the SQLite file at path
// ("" for an in-memory database, which is always there). inDataDir says the
// path came from data_dir (database.uri was empty), for the message: the
// operator's mistake is in whichever of the two keys named it.
func archiveExists(path string, inDataDir bool) error {
	if path == "" {
		return nil
	}
	key := "database.uri"
	if inDataDir {
		key = "data_dir"
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open store: %w at %s: the file does not exist, and this command only reads an archive, "+
			"which the archiver creates (`archiver run`, or `archiver import FILE`; `make demo` imports the demo rooms first); "+
			"if the archive is elsewhere, check %s, and that its volume is mounted", ErrNoArchive, path, key)
	case err != nil:
		return fmt.Errorf("open store: %s (%s): %w", path, key, err)
	case fi.IsDir():
		return fmt.Errorf("open store: %w at %s: it is a directory, not the archive's database file (check %s)", ErrNoArchive, path, key)
	}
	return nil
}

// diskFull says so when err is SQLite's failure to write because the disk
// holding the database is full. SQLite reports it as such only for the
// database's own pages (SQLITE_FULL); the shared-memory file every
// connection of a WAL database first extends fails as a bare I/O error,
// "disk I/O error (4874)", which is all archive-web said when it could
// not start on a full disk. So on either, a small write beside the
// database tells whether there is room: ENOSPC there is named, with the
// directory. Any other error, or room enough, leaves err as it was.
func (s *Store) diskFull(err error) error {
	var liteErr *moderncsqlite.Error
	if s.dialect != sqlite || s.path == "" || !errors.As(err, &liteErr) {
		return err
	}
	if code := liteErr.Code() & 0xff; code != sqlite3.SQLITE_IOERR && code != sqlite3.SQLITE_FULL {
		return err
	}
	dir := filepath.Dir(s.path)
	f, perr := os.CreateTemp(dir, ".mxarchive-space-*")
	if perr == nil {
		defer os.Remove(f.Name())
		// 32 KiB: what SQLite extends the shared-memory file by at once.
		if _, perr = f.Write(make([]byte, 32<<10)); perr == nil {
			perr = f.Sync()
		}
		f.Close()
	}
	if errors.Is(perr, syscall.ENOSPC) {
		return fmt.Errorf("the disk holding %s is full (no space left on device): %w", dir, err)
	}
	return err
}

// openPostgres opens the pool of a PostgreSQL database. A ReadMostly
// process's sessions plan each prepared statement once, for any
// arguments (plan_cache_mode force_generic_plan), unless the URI sets
// plan_cache_mode itself. By default PostgreSQL plans a statement's first
// five executions on a session for their arguments, and a pool's sessions
// are new after a start or a quiet while (idle ones are closed after five
// minutes): a crawler's first day pages then paid for planning each of
// their queries, some 0.3-0.6 ms of the server's CPU each. archive-web's
// reads are by room, time, position and ID, whose plans do not turn on
// the values (a plan that must not follow statistics is fixed in its
// text, RelatedIn's). The 1M replay's days of about 1,000 messages, each
// asked for once of a fresh archive-web, ten batches of 20 (each batch
// first asked of a throwaway process, so that PostgreSQL's caches held
// its pages for both, then of each build in alternating order): day page
// p50 21.4 -> 18.4 ms, JSON day 17.8 -> 16.1. (archive-bench's first
// requests, asked of a process that has served many, show it only for
// the JSON day, within the noise: its sessions had planned most
// statements five times.) The archiver keeps PostgreSQL's default.
//
// Every session, the archiver's and archive-web's, runs with jit off
// unless the URI sets jit itself. PostgreSQL compiles a statement whose
// estimated cost passes jit_above_cost, and an estimate is only as good
// as the statistics: a fresh archive's events, which autovacuum had not
// yet analyzed, got the writer's probe of a batch (2,000 IDs) planned as
// scans of the table, costed past the threshold and compiled, 1,459 ms a
// statement against 19.6 without jit at 74k events; in the first seconds
// of an import into a new database the server spent a core on it while
// the archiver waited. The archive's statements are index walks of a few
// thousand rows at most, which compiling never pays for.
//
// Every connection registers pgArrayCodec (registerArrays).
func openPostgres(uri string, readMostly bool) (*sql.DB, error) {
	c, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, err
	}
	// SETs once connected, not startup parameters, which a pooler such
	// as PgBouncer refuses unless told to ignore them. A server without
	// the setting (older than PostgreSQL 11 for jit, 12 for
	// plan_cache_mode) is used as it is.
	var sets []string
	if _, ok := c.RuntimeParams["jit"]; !ok {
		sets = append(sets, "SET jit = off")
	}
	c.Tracer = textArgs{}
	if readMostly {
		c.Tracer = textArgs{next: readTracer{}} // which notes the reads of a NoteReads context (WarmReads)
		if _, ok := c.RuntimeParams["plan_cache_mode"]; !ok {
			sets = append(sets, "SET plan_cache_mode = force_generic_plan")
		}
	}
	return stdlib.OpenDB(*c, stdlib.OptionAfterConnect(func(ctx context.Context, conn *pgx.Conn) error {
		if err := registerArrays(conn); err != nil {
			return err
		}
		for _, set := range sets {
			_, err := conn.Exec(ctx, set)
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})), nil
}

// ping connects to the database. On SQLite a connection asks for WAL
// mode first, and two processes doing so at once on a new database (the
// archiver and archive-web started together) both hold a shared lock
// and want the exclusive one: SQLite answers one of them SQLITE_BUSY at
// once, without waiting out busy_timeout, since waiting could deadlock
// (TestOpenTogether: some 3-5% of such opens failed). That connection is
// tried again until ctx ends; by then the other has switched the file to
// WAL, which later connections find already set.
func (s *Store) ping(ctx context.Context) error {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := s.db.PingContext(ctx)
		var liteErr *moderncsqlite.Error
		if err == nil || s.dialect != sqlite || !errors.As(err, &liteErr) || liteErr.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// uriPath escapes a file path for a file: URI (sqliteDSN).
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// sqliteDSN turns a file path into a modernc.org/sqlite DSN: WAL, a busy
// timeout so readers never fail on a writer, BEGIN IMMEDIATE so two writers
// queue instead of deadlocking on lock upgrade, and a 64 MiB page cache plus
// memory-mapped reads: event IDs are random, so inserts touch index pages all
// over the file, and with SQLite's 2 MiB default most of an import's time
// went to re-reading them. A readMostly process (Options.ReadMostly) maps
// nothing and keeps SQLite's default, 2 MiB a connection: what it serves
// again comes from its render cache, and the file's hot pages stay in the
// kernel's page cache. A cache fills page by page, each page a fault of fresh memory
// (10-12 µs on the bench's machine), which a server's first pages paid
// for: with 8 MiB, its first requests of 20 distinct day pages of the 1M
// replay took 71 faults and 10.1 ms of CPU a page, the text logs 52, the
// day pages asked for gzip 59; with 2 MiB 10 (8.45 ms), 14 and 6, and
// archive-web peaked at 161 MiB against 191 (archive-bench run, all 8
// connections kept idle in both). A reindex (Options.ReadsWhole) keeps 8
// MiB.
//
// The pages stay SQLite's 4 KiB. A file created with 8 KiB pages (a
// page size is fixed when the first page is written; modernc runs a
// DSN's journal_mode before its page_size, so it takes a connection of
// its own) imported the 1M IRC replay 3-8% faster (archiver import,
// three alternated pairs: 42.8-45.7 s against 39.7-42.3), but acked an
// appservice transaction of 100 events slower (archive-bench run: p50
// 5.0-5.4 ms and p99 15-18 in two runs, 6.6 and 26 with 8 KiB), since
// each page a transaction's random event IDs land on is written whole
// to the WAL, and made reindexing no faster (38.6-47.3 s against
// 40.3-43.1); 16 KiB pages imported in 43.5 s.
func sqliteDSN(path string, opts Options) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	cache, mmap := "cache_size(-65536)", "mmap_size(1073741824)"
	if opts.ReadMostly {
		cache, mmap = "cache_size(-2048)", "mmap_size(0)"
		if opts.ReadsWhole {
			cache = "cache_size(-8192)"
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)",
		cache, mmap, "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	if opts.MustExist {
		// SQLite's own refusal to create the file, should it go between
		// Open's look (archiveExists) and the first connection.
		q.Set("mode", "rw")
	}
	// In a file: URI '?' starts the query and '#' a fragment, and SQLite
	// decodes %XX: a data directory named "a#1" must not open the file "a".
	return "file:" + uriPath.Replace(path) + "?" + q.Encode()
}

// redacted names the database without its password, for errors and logs.
func (c Config) redacted() string {
	if c.Type != "postgres" && c.Type != "postgresql" {
		if c.URI == "" {
			return "sqlite (data directory)"
		}
		return "sqlite " + c.URI
	}
	// Every form PostgreSQL takes a password in (user:pass@, ?password=,
	// a keyword/value string), as `archiver config` prints it.
	return config.RedactDatabaseURI(c.URI)
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeStmts()
	err := s.db.Close()
	s.direct.sweep() // the connections closed are zombies now
	return err
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string {
	if s.dialect == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Ping checks the database answers, for health checks.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	return s.db.PingContext(ctx)
}

// AfterBulkWrite brings PostgreSQL's knowledge of the archive's tables up
// to date after a bulk write (an import, a copy): it vacuums the events,
// then analyzes the database. PostgreSQL plans every query by its
// statistics, and until autovacuum's next round, a minute or more after
// the import, it planned as if the import had not happened: after
// importing the 1M replay, a room's calendar (DayCounts) ran past the 10 s
// query timeout until autovacuum had analyzed the events. The vacuum
// fills the events' visibility map, without which every read of shown
// messages that needs only their index (events_shown: a day's hour
// counts, a calendar's, the sitemaps' days) reads each row's page of the
// table too. Just after an import of 400k events, a room's month calendar
// (79 of them) took 7.3-9.4 ms, p50, and 3.9-4.3 once vacuumed, 10,436
// blocks read against 2,607; a busy day's hour counts fetched 958 rows
// from the table, none once vacuumed. Autovacuum would vacuum the table
// anyway, at a time of its choosing, once a fifth of it is new; the vacuum
// reads only the pages not yet marked (the import's): 0.8 s after an
// import of 1M events that took 52 s. SQLite keeps no statistics and
// reads its indexes alone, so there is nothing to do.
func (s *Store) AfterBulkWrite(ctx context.Context) error {
	if s.dialect != postgres {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	if err := s.walFlushed(ctx); err != nil {
		return err
	}
	// VACUUM without ANALYZE: the ANALYZE after it covers the events
	// too, and a table is not sampled twice.
	if _, err := s.db.ExecContext(ctx, `VACUUM events`); err != nil {
		return fmt.Errorf("vacuum the events: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// walFlushed waits, up to walFlushWait, until PostgreSQL has flushed its
// WAL up to where it had written it when called. VACUUM marks a page
// all-visible only once the commits of its rows are flushed, which a
// server with synchronous_commit off (the tests' clusters; an operator's
// choice) does up to some hundreds of milliseconds after they returned
// (its WAL writer wakes every wal_writer_delay, 200 ms): vacuumed at once,
// a test's import of 10,000 events was left with no page marked in 7 runs
// of 10. With synchronous_commit on (the default) every commit was flushed
// before it returned, and the first check passes. Past walFlushWait the
// vacuum marks what it can, and autovacuum the rest.
func (s *Store) walFlushed(ctx context.Context) error {
	var lsn string
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(pg_current_wal_insert_lsn() AS TEXT)`).Scan(&lsn); err != nil {
		return fmt.Errorf("read the WAL position: %w", err)
	}
	deadline := time.Now().Add(walFlushWait)
	for {
		var done bool
		if err := s.db.QueryRowContext(ctx, `SELECT pg_current_wal_flush_lsn() >= CAST($1 AS pg_lsn)`, lsn).Scan(&done); err != nil {
			return fmt.Errorf("read the WAL position: %w", err)
		}
		if done || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// walFlushWait bounds walFlushed's wait: three rounds of the WAL writer at
// PostgreSQL's default wal_writer_delay, and some.
const walFlushWait = 2 * time.Second

func (s *Store) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// beginWrite starts a write transaction and serializes it against every
// other writer, so change-feed positions become visible in order.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.dialect != postgres {
		return tx, nil
	}
	g := s.guard.Load()
	if g == nil {
		// 0x6d786172 is "mxar": one lock for all archive writers.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1836605810)`); err != nil {
			tx.Rollback()
			return nil, err
		}
		return tx, nil
	}
	// An archiver's: it writes only while its lock's session holds the
	// archiver lock, asked of the server (a restart ended that session
	// before the lock's check could notice).
	if err := s.guardedWrite(ctx, tx, g); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// PoolStats reports the connection pool, for metrics.
func (s *Store) PoolStats() sql.DBStats { return s.db.Stats() }
