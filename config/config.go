package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mxarchive/mxarchive/retention"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "MXARCHIVE_"

// Config is the whole configuration. Zero values mean the defaults below.
type Config struct {
	// DataDir holds the SQLite database and the search index.
	DataDir    string     `yaml:"data_dir"`
	Database   Database   `yaml:"database"`
	Web        Web        `yaml:"web"`
	Homeserver Homeserver `yaml:"homeserver"`
	Appservice Appservice `yaml:"appservice"`
	Archive    Archive    `yaml:"archive"`
	Search     Search     `yaml:"search"`
	// Retention: how rooms' retention policies are honoured (Synapse's
	// semantics); see retention.Policy.
	Retention retention.Policy `yaml:"retention"`
	Log       Log              `yaml:"log"`
	Media     Media            `yaml:"media"`
	Metrics   Metrics          `yaml:"metrics"`
	IRC       IRC              `yaml:"irc"`
}

// Database selects and tunes the database. It has store.Config's fields,
// so the binaries convert it (store.Config(cfg.Database)) and config need
// not import the store; a field added to one and not the other fails that
// conversion at compile time.
type Database struct {
	// Type is "sqlite" or "postgres".
	Type string `yaml:"type"`
	// URI is a file path (SQLite) or a postgres:// URL. For SQLite an empty
	// URI means DataDir/mxarchive.db.
	URI string `yaml:"uri"`
	// QueryTimeout bounds every read query; writes get WriteTimeout.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxOpenConns caps the connections the process opens (0: 8 on
	// SQLite, 32 on PostgreSQL); MaxIdleConns is how many of them stay
	// open between requests (0: as many as MaxOpenConns on PostgreSQL and
	// in archive-web, 2 in the archiver on SQLite).
	MaxOpenConns int `yaml:"max_open_conns"`
	MaxIdleConns int `yaml:"max_idle_conns"`
}

// Media configures the archive's own copy of media (images, files, audio,
// video of archived public events).
type Media struct {
	// Enabled: the archiver fetches media and archive-web serves it.
	Enabled bool `yaml:"enabled"`
	// Dir holds the content-addressed files; empty means data_dir/media.
	// archive-web reads the same directory (mount it read-only there when
	// it runs on another machine).
	Dir string `yaml:"dir"`
	// MaxSize bounds one file in bytes (default 50 MiB): bytes past it are
	// not read and the file shows as unavailable.
	MaxSize int64 `yaml:"max_size"`
	// Concurrency bounds downloads in flight.
	Concurrency int `yaml:"concurrency"`
	// MaxTotal bounds the media store's bytes (default 0: no bound). When
	// full, new fetches wait ("quota", shown as unavailable) and are
	// retried when space frees up; nothing referenced is ever deleted to
	// make room.
	MaxTotal int64 `yaml:"max_total"`
	// S3 keeps the media in an S3-compatible bucket instead of Dir, when
	// its bucket is set; both programs then use the bucket.
	S3 MediaS3 `yaml:"s3"`
}

// MediaS3 names an S3-compatible bucket for media (AWS S3, MinIO, Ceph
// RGW, Garage, versitygw…).
type MediaS3 struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	// SecretKey may come from MXARCHIVE_MEDIA_S3_SECRET_KEY, or from the
	// file SecretKeyFile names (a systemd credential), so the config file
	// need not hold it.
	SecretKey     string `yaml:"secret_key" secret:"true"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// Prefix is put before every object key ("mxarchive/"), so the bucket
	// can hold other things too.
	Prefix string `yaml:"prefix"`
	// UseSSL talks HTTPS (default); false is for a bucket on loopback or a
	// private network.
	UseSSL bool `yaml:"use_ssl"`
}

// Enabled reports whether a bucket is configured (any of its keys set;
// validate then requires the rest).
func (s MediaS3) Enabled() bool {
	return s.Endpoint != "" || s.Bucket != "" || s.AccessKey != "" || s.SecretKey != "" || s.SecretKeyFile != ""
}

// readSecretFile fills SecretKey from SecretKeyFile, once the file and
// the environment are applied.
func (s *MediaS3) readSecretFile() error {
	if s.SecretKeyFile == "" {
		return nil
	}
	if s.SecretKey != "" {
		return errors.New("media.s3: set secret_key (or MXARCHIVE_MEDIA_S3_SECRET_KEY) or secret_key_file, not both")
	}
	b, err := os.ReadFile(s.SecretKeyFile)
	if err != nil {
		return fmt.Errorf("media.s3.secret_key_file: %w", err)
	}
	// A file written by echo or an editor ends with a newline that is not
	// part of the key.
	s.SecretKey = strings.TrimRight(string(b), "\r\n")
	if s.SecretKey == "" {
		return fmt.Errorf("media.s3.secret_key_file %s is empty", s.SecretKeyFile)
	}
	return nil
}

func (s MediaS3) validate(dirSet bool) error {
	if !s.Enabled() {
		return nil
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"media.s3.endpoint", s.Endpoint}, {"media.s3.bucket", s.Bucket},
		{"media.s3.access_key", s.AccessKey}, {"media.s3.secret_key", s.SecretKey},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("media.s3 needs %s (secret_key may come from MXARCHIVE_MEDIA_S3_SECRET_KEY or secret_key_file)", strings.Join(missing, ", "))
	}
	if strings.Contains(s.Endpoint, "://") || strings.ContainsAny(s.Endpoint, "/?#") {
		return fmt.Errorf("media.s3.endpoint %q: want host[:port] without a scheme or path (use_ssl: false for plain HTTP)", s.Endpoint)
	}
	if strings.HasPrefix(s.Prefix, "/") {
		return fmt.Errorf("media.s3.prefix %q: object keys do not start with a slash (like \"mxarchive/\")", s.Prefix)
	}
	if dirSet {
		return errors.New("media.dir and media.s3 are both set: the media live in one place, set one of them")
	}
	return nil
}

// MediaDir returns where media files live.
func (c Config) MediaDir() string {
	if c.Media.Dir != "" {
		return c.Media.Dir
	}
	return filepath.Join(c.DataDir, "media")
}

// Search configures archive-web's search index.
type Search struct {
	// Enabled turns /search and the index on.
	Enabled bool `yaml:"enabled"`
	// Language adds stemming for one language (en, de, fr, es, …); empty
	// indexes words by Unicode word segmentation only, for any language.
	Language string `yaml:"language"`
}

// Archive says which rooms the archiver follows and how.
type Archive struct {
	// Join lists rooms (IDs or aliases) to join at start; room admins can
	// also opt in by inviting the bot.
	Join []string `yaml:"join"`
	// Allow and deny lists, by room ID or alias and by server name. A deny
	// always wins; a non-empty allow list admits only what it names.
	AllowRooms   []string `yaml:"allow_rooms"`
	DenyRooms    []string `yaml:"deny_rooms"`
	AllowServers []string `yaml:"allow_servers"`
	DenyServers  []string `yaml:"deny_servers"`
	// BackfillLimit caps how many events a backfill reads per room; 0
	// reads back to the room's creation.
	BackfillLimit int `yaml:"backfill_limit"`
	// BackfillMaxBytes caps the bytes one backfill reads and spools per
	// room; history older than where it stops is not archived (and the
	// room says so).
	BackfillMaxBytes int64 `yaml:"backfill_max_bytes"`
	// BackfillRetry is the first wait before a failed backfill or join is
	// retried; it doubles with each failure, up to six hours.
	BackfillRetry time.Duration `yaml:"backfill_retry"`
	// LeaveNonPublicAfter: the bot leaves a room whose history has not
	// been world-readable for this long; 0 stays for ever.
	LeaveNonPublicAfter time.Duration `yaml:"leave_non_public_after"`
	// SweepInterval: how often each room is read forward for events the
	// homeserver did not push.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// ShowFormerlyPublic keeps showing what was archived while a room was
	// world-readable after it stops being so (default: hidden until it is
	// world-readable again).
	ShowFormerlyPublic bool `yaml:"show_formerly_public"`
	// OptInWait: how long after a user's own "!archive optout" a
	// direct-message "!archive optin" is taken at the earliest (each makes
	// every archive-web re-read the user's messages).
	OptInWait time.Duration `yaml:"optin_wait"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is where archive-web serves /metrics, never the public web
	// port; empty (the default) serves none. Keep it on loopback or a
	// private network: it tells how busy the archive is.
	Listen string `yaml:"listen"`
	// ArchiverListen is where the archiver serves its own /metrics
	// (transactions, ingest lag, sweeps, backfill, media): both programs
	// read this file, so each has its key. Never the appservice port;
	// empty (the default) serves none.
	ArchiverListen string `yaml:"archiver_listen"`
}

// MinDayPageSize and MaxDayPageSize bound web.day_page_size: a page
// costs the server and the reader's browser in proportion to its events.
const (
	MinDayPageSize = 10
	MaxDayPageSize = 2000
)

// MinMemoryLimit is the least web.memory_limit but 0: archive-web's heap
// takes 32 MiB past what is live before Go collects (gcpolicy.Headroom),
// and below that the collector ran without pause for the life of the
// process (a limit written in megabytes, memory_limit: 256, was 256 bytes).
const MinMemoryLimit = 32 << 20

// Web configures archive-web.
type Web struct {
	Listen string `yaml:"listen"`
	// BaseURL is the public URL of the archive (for absolute links,
	// citations and sitemaps); empty means the API links by path and
	// there are no sitemaps, never links from the request's Host.
	BaseURL string `yaml:"base_url"`
	// ReadyIndexLag is how many change-feed entries the search index may
	// be behind for /readyz to say this replica is ready at first; once it
	// has been, a lag is only reported (web's readyz).
	ReadyIndexLag int64 `yaml:"ready_index_lag"`
	// CacheSize bounds, in bytes, archive-web's cache of rendered
	// messages and pages (0: none). Entries are keyed by what they show,
	// so a change to a message never serves an old copy.
	CacheSize int64 `yaml:"cache_size"`
	// DayPageSize is how many events a day page shows: a busier day is
	// split into pages that link to each other, each its own address
	// (?after= an event, so a page's links stay true whatever the size).
	DayPageSize int `yaml:"day_page_size"`
	// MemoryLimit bounds archive-web's resident memory, in bytes (0:
	// none), the search index's mapped segment files included: Go's soft
	// memory limit is what those files leave of it (re-read every second;
	// never below half of it), and near it the garbage collector runs
	// more often. A catch-up of the search index holds its batches'
	// analysed text; without a limit the heap grew to twice what was live
	// (350 MiB of anonymous memory at 300k messages; 250 MiB with the
	// limit, for 2% more CPU). GOMEMLIMIT in the environment overrides it
	// (then it is Go's limit alone).
	MemoryLimit int64 `yaml:"memory_limit"`
	// MaxDayReads is how many requests may read a JSON day, a text log or
	// a meeting's window at once (each holds up to 20,000 events a read:
	// tens of MiB on a flooded day); more wait their turn. 0: twice the
	// cores Go uses.
	MaxDayReads int `yaml:"max_day_reads"`
}

// Homeserver names the homeserver the archiver talks to (mautrix names).
type Homeserver struct {
	Address string `yaml:"address"` // client-server API URL
	Domain  string `yaml:"domain"`  // server name
}

// Appservice configures the archiver as an application service.
type Appservice struct {
	Listen       string `yaml:"listen"`
	ID           string `yaml:"id"`
	BotLocalpart string `yaml:"bot_localpart"`
	ASToken      string `yaml:"as_token" secret:"true"`
	HSToken      string `yaml:"hs_token" secret:"true"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// NewLogger returns the logger the configuration asks for, writing to w.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		DataDir:  "./data",
		Database: Database{Type: "sqlite", QueryTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute},
		Web:      Web{Listen: "127.0.0.1:8080", ReadyIndexLag: 1000, CacheSize: 64 << 20, DayPageSize: 500, MemoryLimit: 256 << 20},
		Appservice: Appservice{
			Listen:       "127.0.0.1:29330",
			ID:           "mxarchive",
			BotLocalpart: "archive",
		},
		Archive: Archive{SweepInterval: 30 * time.Second, BackfillMaxBytes: 1 << 30, BackfillRetry: time.Minute,
			LeaveNonPublicAfter: 7 * 24 * time.Hour, OptInWait: time.Hour},
		Search:    Search{Enabled: true},
		Retention: retention.Policy{Enabled: true, PurgeInterval: time.Hour},
		Log:       Log{Level: "info", Format: "text"},
		Media:     Media{Enabled: true, MaxSize: 50 << 20, Concurrency: 4, S3: MediaS3{UseSSL: true}},
	}
}

// BotUserID is the archive bot's Matrix ID.
func (c Config) BotUserID() string {
	return "@" + c.Appservice.BotLocalpart + ":" + c.Homeserver.Domain
}

// CheckAppservice reports what is missing to run as an appservice.
func (c Config) CheckAppservice() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"homeserver.address", c.Homeserver.Address}, {"homeserver.domain", c.Homeserver.Domain},
		{"appservice.as_token", c.Appservice.ASToken}, {"appservice.hs_token", c.Appservice.HSToken},
		{"appservice.bot_localpart", c.Appservice.BotLocalpart}, {"appservice.listen", c.Appservice.Listen},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the appservice needs %s (run `archiver init` to write a config and a registration)", strings.Join(missing, ", "))
	}
	return nil
}

// LoadBytes parses a configuration file's contents over the defaults,
// without the environment.
func LoadBytes(b []byte) (Config, error) {
	return LoadBytesEnv(b, nil)
}

// LoadBytesEnv parses a configuration file's contents over the defaults,
// then applies the environment, as Load does with a file.
func LoadBytesEnv(b []byte, environ []string) (Config, error) {
	cfg := Defaults()
	if err := decode(b, &cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.finish(environ)
}

func decode(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes as io.EOF: no settings, not an error.
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Load reads path (none if empty) over the defaults, then applies the
// environment. An unknown key in the file is an error, and so is an
// MXARCHIVE_ variable that names no key (but those of envNotConfig), so a
// typo cannot silently fall back to a default.
func Load(path string, environ []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return cfg, fmt.Errorf("config file %s does not exist (run without -c to use the defaults)", path)
			}
			return cfg, fmt.Errorf("read config: %w", err)
		}
		if err := decode(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return cfg, cfg.finish(environ)
}

// finish applies the environment over what the file set, reads the S3
// secret key's file, and validates the result.
func (c *Config) finish(environ []string) error {
	env, known := envMap(environ), map[string]bool{}
	if err := applyEnv(reflect.ValueOf(c).Elem(), EnvPrefix, env, known); err != nil {
		return err
	}
	if err := checkEnvNames(env, known); err != nil {
		return err
	}
	if err := c.Media.S3.readSecretFile(); err != nil {
		return err
	}
	return c.validate()
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			m[k] = v
		}
	}
	return m
}

var durationType = reflect.TypeOf(time.Duration(0))

// applyEnv sets each field from the environment variable named by the
// prefix and its yaml key, recursing into sections. It adds every name it
// looks for to known, set or not.
func applyEnv(v reflect.Value, prefix string, env map[string]string, known map[string]bool) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if err := applyEnv(fv, name+"_", env, known); err != nil {
				return err
			}
			continue
		}
		known[name] = true
		s, ok := env[name]
		if !ok {
			continue
		}
		if err := setScalar(fv, s); err != nil {
			return fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return nil
}

func setScalar(fv reflect.Value, s string) error {
	if u, ok := fv.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(s)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

func (c Config) validate() error {
	switch c.Database.Type {
	case "sqlite", "postgres":
	default:
		return fmt.Errorf("database.type %q: want sqlite or postgres", c.Database.Type)
	}
	if c.Database.Type == "postgres" && c.Database.URI == "" {
		return errors.New("database.uri is required for postgres (postgres://user:password@host/db)")
	}
	if c.Web.DayPageSize < MinDayPageSize || c.Web.DayPageSize > MaxDayPageSize {
		return fmt.Errorf("web.day_page_size %d: want %d to %d events (default 500)", c.Web.DayPageSize, MinDayPageSize, MaxDayPageSize)
	}
	if c.Web.MemoryLimit < 0 {
		return errors.New("web.memory_limit must not be negative (0 means none)")
	}
	if c.Web.MemoryLimit > 0 && c.Web.MemoryLimit < MinMemoryLimit {
		return fmt.Errorf("web.memory_limit %d is in bytes: want 0 (none) or at least %d (%d MiB; default 268435456, 256 MiB)",
			c.Web.MemoryLimit, int64(MinMemoryLimit), MinMemoryLimit>>20)
	}
	if c.Web.MaxDayReads < 0 {
		return errors.New("web.max_day_reads must not be negative (0 means twice the cores)")
	}
	if c.Database.MaxOpenConns < 0 || c.Database.MaxIdleConns < 0 {
		return errors.New("database.max_open_conns and database.max_idle_conns must not be negative (0 means the default)")
	}
	if c.Database.MaxOpenConns > 0 && c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		return fmt.Errorf("database.max_idle_conns (%d) is above database.max_open_conns (%d)", c.Database.MaxIdleConns, c.Database.MaxOpenConns)
	}
	if c.DataDir == "" {
		return errors.New("data_dir must not be empty")
	}
	if err := c.checkListens(); err != nil {
		return err
	}
	if c.Web.ReadyIndexLag < 0 {
		return fmt.Errorf("web.ready_index_lag %d: want 0 or more changes (default 1000); below 0 /readyz would never be ready", c.Web.ReadyIndexLag)
	}
	if err := checkBaseURL(c.Web.BaseURL); err != nil {
		return err
	}
	if c.Media.MaxSize <= 0 {
		return fmt.Errorf("media.max_size %d: want a size in bytes above 0 (default 52428800, 50 MiB)", c.Media.MaxSize)
	}
	if c.Media.MaxTotal < 0 {
		return fmt.Errorf("media.max_total %d: want a size in bytes, or 0 for no bound", c.Media.MaxTotal)
	}
	if c.Media.Concurrency < 1 || c.Media.Concurrency > 64 {
		return fmt.Errorf("media.concurrency %d: want 1 to 64", c.Media.Concurrency)
	}
	if err := c.Media.S3.validate(c.Media.Dir != ""); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	// Values that cannot mean what they say were replaced by defaults
	// further down without a word (a query timeout of -5s became 10s; a
	// sweep_interval of 0, meant to turn sweeps off, swept every 30s).
	for _, d := range []struct {
		key  string
		v    time.Duration
		want string
	}{
		{"database.query_timeout", c.Database.QueryTimeout, "a duration above 0 (default 10s)"},
		{"database.write_timeout", c.Database.WriteTimeout, "a duration above 0 (default 2m)"},
		{"archive.sweep_interval", c.Archive.SweepInterval, "a duration above 0 (default 30s); sweeps cannot be turned off: they fetch the events the homeserver did not push"},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s %s: want %s", d.key, d.v, d.want)
		}
	}
	if c.Archive.OptInWait < 0 {
		return fmt.Errorf("archive.optin_wait %s must not be negative (0: a user's own optin is taken at once; default 1h)", c.Archive.OptInWait)
	}
	if err := c.checkIdentity(); err != nil {
		return err
	}
	if a := c.Archive; a.BackfillLimit < 0 || a.BackfillMaxBytes <= 0 || a.BackfillRetry <= 0 || a.LeaveNonPublicAfter < 0 {
		return fmt.Errorf("archive: backfill_limit (%d) and leave_non_public_after (%s) must not be negative, backfill_max_bytes (%d) and backfill_retry (%s) must be positive",
			a.BackfillLimit, a.LeaveNonPublicAfter, a.BackfillMaxBytes, a.BackfillRetry)
	}
	if err := c.IRC.Bridges.Check(); err != nil {
		return err
	}
	return c.Retention.Validate()
}

// checkListens refuses two listen addresses of one program that would
// collide (archive-web's web.listen and metrics.listen, the archiver's
// appservice.listen and metrics.archiver_listen), and the two metrics
// addresses, which one host usually serves: the program failed with
// "address already in use", which sent the operator looking for another
// process. Addresses of different programs may be the same: they may run
// on different hosts or containers, each with its own defaults. Two
// addresses collide when they are the same as written, or have the same
// port and the same host or a wildcard one ("", 0.0.0.0, ::), which takes
// the port on every address; port 0 (any free port) never collides.
func (c Config) checkListens() error {
	type listen struct{ key, addr string }
	web, metrics := listen{"web.listen", c.Web.Listen}, listen{"metrics.listen", c.Metrics.Listen}
	as, asMetrics := listen{"appservice.listen", c.Appservice.Listen}, listen{"metrics.archiver_listen", c.Metrics.ArchiverListen}
	for _, p := range [][2]listen{{web, metrics}, {as, asMetrics}, {metrics, asMetrics}} {
		a, b := p[1], p[0]
		if a.addr != "" && b.addr != "" && listensCollide(a.addr, b.addr) {
			return fmt.Errorf("%s %q is the address of %s %q: want an address of its own (another port), or the program fails with \"address already in use\"", a.key, a.addr, b.key, b.addr)
		}
	}
	return nil
}

func listensCollide(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	if pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

// checkBaseURL refuses a web.base_url that is not the archive's root as an
// absolute http(s) URL: it is written as it is into permalinks, sitemaps,
// robots.txt and feeds, and the pages link by root paths (/room/...,
// /static/...), so the archive cannot be served under a path prefix.
func checkBaseURL(s string) error {
	if s == "" {
		return nil
	}
	const like = "like https://archive.example.org"
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("web.base_url %q has spaces around it: want the archive's public URL, %s", s, like)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("web.base_url %q: %v; want the archive's public URL, %s", s, err, like)
	}
	switch {
	case u.Scheme == "" || !strings.Contains(s, "://") && u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("web.base_url %q is not an absolute URL: want a scheme and a host, %s", s, like)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("web.base_url %q: want an http or https URL, not %s, %s", s, u.Scheme, like)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("web.base_url %q has no host: want %s", s, like)
	case u.User != nil:
		return fmt.Errorf("web.base_url %q holds user info (%s@): want the public URL without it, %s", s, u.User.Username(), like)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("web.base_url must be the archive's root, %s; serving under a path (%s) is not supported", like, strings.TrimRight(u.Path, "/"))
	case strings.Contains(s, "?"):
		return fmt.Errorf("web.base_url %q has a query: want the archive's root, %s", s, like)
	case strings.Contains(s, "#"):
		return fmt.Errorf("web.base_url %q has a fragment: want the archive's root, %s", s, like)
	}
	return nil
}

// Redacted returns the configuration as YAML with every secret replaced,
// fit for logs and `config show`.
func (c Config) Redacted() string {
	cp := c
	redact(reflect.ValueOf(&cp).Elem())
	cp.Database.URI = RedactDatabaseURI(cp.Database.URI)
	b, err := yaml.Marshal(cp)
	if err != nil {
		return fmt.Sprintf("(unprintable config: %v)", err)
	}
	return string(b)
}

func redact(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			redact(fv)
			continue
		}
		if f.Tag.Get("secret") == "true" && fv.Kind() == reflect.String && fv.String() != "" {
			fv.SetString("xxxxx")
		}
	}
}
