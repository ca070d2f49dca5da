package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/ingest"
)

// configTemplate is the commented config.yaml `archiver init` writes.
var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{"q": yamlString, "list": yamlList}).Parse(
	`# mxarchive configuration. Every key can also be set by an environment
# variable MXARCHIVE_<SECTION>_<KEY>, e.g. MXARCHIVE_DATABASE_URI.

# Where the SQLite database and the search index live.
data_dir: {{q .DataDir}}

database:
  # sqlite (embedded, the default) or postgres.
  type: {{q .Database.Type}}
  # SQLite: a file path (empty: data_dir/mxarchive.db).
  # PostgreSQL: postgres://user:password@host/dbname
  uri: {{q .Database.URI}}
  # Every read query is bounded by query_timeout, every write by
  # write_timeout.
  query_timeout: {{.Database.QueryTimeout}}
  write_timeout: {{.Database.WriteTimeout}}
  # Connections each process may open (0: 32 on PostgreSQL, 8 on SQLite)
  # and keep open between requests (0: all of them on PostgreSQL, 2 on
  # SQLite). The archiver and archive-web each have their own pool: keep
  # their sum under PostgreSQL's max_connections.
  max_open_conns: {{.Database.MaxOpenConns}}
  max_idle_conns: {{.Database.MaxIdleConns}}

homeserver:
  # The client-server API URL of your homeserver, as the archiver reaches it.
  address: {{q .Homeserver.Address}}
  # The homeserver's server name (the part after ':' in user IDs).
  domain: {{q .Homeserver.Domain}}

appservice:
  # Where the archiver listens for the homeserver's transactions. The
  # registration's url is http:// + this.
  listen: {{q .Appservice.Listen}}
  id: {{q .Appservice.ID}}
  # The archive bot is @bot_localpart:domain. Invite it to a room to archive
  # the room (only world-readable history is archived).
  bot_localpart: {{q .Appservice.BotLocalpart}}
  # Secrets shared with the homeserver through registration.yaml.
  as_token: {{q .Appservice.ASToken}}
  hs_token: {{q .Appservice.HSToken}}

archive:
  # Rooms (IDs or aliases) to join at start, besides rooms the bot is invited to.
  join: {{list .Archive.Join}}
  # Allow and deny lists by room (ID or alias) and by server. A deny always
  # wins; a non-empty allow list admits only what it names.
  allow_rooms: {{list .Archive.AllowRooms}}
  deny_rooms: {{list .Archive.DenyRooms}}
  allow_servers: {{list .Archive.AllowServers}}
  deny_servers: {{list .Archive.DenyServers}}
  # Events read per room when backfilling; 0 reads back to the room's creation.
  backfill_limit: {{.Archive.BackfillLimit}}
  # Bytes of events read per room when backfilling (the spool file's size);
  # a backfill that stops at either bound archives no older history.
  backfill_max_bytes: {{.Archive.BackfillMaxBytes}}
  # First wait before a failed backfill or join is retried (it doubles with
  # each failure, up to 6h).
  backfill_retry: {{.Archive.BackfillRetry}}
  # The bot leaves a room whose history has not been world-readable for this
  # long (0: never). Until then it is not swept, unless it holds messages
  # archived while it was world-readable.
  leave_non_public_after: {{.Archive.LeaveNonPublicAfter}}
  # How often each room is read forward for events the homeserver did not push.
  sweep_interval: {{.Archive.SweepInterval}}
  # Keep showing what was archived while a room was world-readable after it
  # stops being so (by default the room is hidden until it is public again).
  show_formerly_public: {{.Archive.ShowFormerlyPublic}}
  # A direct-message "!archive optin" is taken this long after the user's
  # own opt-out at the earliest.
  optin_wait: {{.Archive.OptInWait}}

# archive-web's full-text search.
search:
  enabled: {{.Search.Enabled}}
  # Stemming for one language (en, de, fr, es, …); empty: words of any
  # language, without stemming.
  language: {{q .Search.Language}}

# Rooms' m.room.retention policies, with Synapse's semantics: a room's
# max_lifetime clamped to [allowed_lifetime_min, allowed_lifetime_max], else
# default_max_lifetime, else none. Lifetimes take a unit: 30d, 12w, 1y, 720h
# (ms, s, m, h, d, w, y); a bare number is refused, and so is a
# default_max_lifetime or allowed_lifetime_max under an hour. 0: none.
retention:
  enabled: {{.Retention.Enabled}}
  default_max_lifetime: {{.Retention.DefaultMaxLifetime}}
  allowed_lifetime_min: {{.Retention.AllowedLifetimeMin}}
  allowed_lifetime_max: {{.Retention.AllowedLifetimeMax}}
  # Expired messages are hidden at once; this is how often they are deleted.
  purge_interval: {{.Retention.PurgeInterval}}

# The archive's own copy of the media of archived public events (images,
# files, audio, video, stickers, thumbnails), fetched from the homeserver
# after each transaction is acknowledged and kept content-addressed (each
# distinct file once) under dir. archive-web serves it from the same
# directory: on another machine, mount it there read-only. Bytes are deleted
# when no event that may be shown refers to them any more.
media:
  enabled: {{.Media.Enabled}}
  # Empty: data_dir/media.
  dir: {{q .Media.Dir}}
  # Largest file fetched, in bytes (52428800 = 50 MiB); larger ones show as
  # unavailable.
  max_size: {{.Media.MaxSize}}
  # Downloads in flight.
  concurrency: {{.Media.Concurrency}}
  # Bytes the media store may hold in all (0: no bound). When full, new
  # files show as unavailable and are fetched once space frees up.
  max_total: {{.Media.MaxTotal}}
  # An S3-compatible bucket instead of dir (leave dir empty), used once
  # its keys are set (endpoint: s3.example.org, no scheme). The secret key
  # is not written here: give it in MXARCHIVE_MEDIA_S3_SECRET_KEY, or name
  # a file holding it in secret_key_file (a systemd credential).
  s3:
    endpoint: {{q .Media.S3.Endpoint}}
    bucket: {{q .Media.S3.Bucket}}
    region: {{q .Media.S3.Region}}
    access_key: {{q .Media.S3.AccessKey}}
    secret_key_file: {{q .Media.S3.SecretKeyFile}}
    # Put before every object key ("mxarchive/").
    prefix: {{q .Media.S3.Prefix}}
    # false for plain HTTP on loopback or a private network.
    use_ssl: {{.Media.S3.UseSSL}}

web:
  listen: {{q .Web.Listen}}
  # The archive's public URL, for absolute permalinks in the API and for
  # sitemaps. Empty: the API links by path and there are no sitemaps (the
  # request's Host header is never used: anyone can forge it).
  base_url: {{q .Web.BaseURL}}
  # /readyz fails until the search index has come within this many changes
  # of the database's change feed since archive-web started; after that it
  # says how far behind the index is (/readyz?index_lag=N is ready only
  # within N); /healthz only says it is alive.
  ready_index_lag: {{.Web.ReadyIndexLag}}
  # Bytes of rendered messages and pages archive-web keeps in memory
  # (0: none). Each is keyed by what it shows, so a change is never
  # served stale.
  cache_size: {{.Web.CacheSize}}
  # Events a day page shows (10 to 2000); a busier day is split into
  # pages that link to each other.
  day_page_size: {{.Web.DayPageSize}}
  # archive-web's resident memory in bytes (268435456 = 256 MiB), the
  # search index's mapped files included (0: none); near it Go's garbage
  # collector runs more often.
  memory_limit: {{.Web.MemoryLimit}}
  # JSON days, text logs and meetings read at once, each up to 20,000
  # events a read; more wait their turn (0: twice the cores).
  max_day_reads: {{.Web.MaxDayReads}}

metrics:
  # Where archive-web serves Prometheus metrics at /metrics, apart from
  # the public port (e.g. 127.0.0.1:9331). Empty: no metrics.
  listen: {{q .Metrics.Listen}}
  # Where the archiver serves its own Prometheus metrics at /metrics
  # (e.g. 127.0.0.1:9332), never the appservice port. Empty: no metrics.
  archiver_listen: {{q .Metrics.ArchiverListen}}

log:
  level: {{q .Log.Level}} # debug, info, warn, error
  format: {{q .Log.Format}} # text or json

irc:
  # IRC bridges whose puppets are shown by their IRC nick when they set no
  # display name, as imported IRC logs name them ("archiver run" names
  # their events archived earlier at each start):
  # server is the bridge's homeserver, prefix what its user template puts
  # before the nick (matrix-appservice-irc's matrixClients.userTemplate).
  # Only the bridges listed: no user ID is taken for a puppet by its look.
  # For example, matrix.org's OFTC bridge (@_oftc_nick:matrix.org):
  #   bridges:
  #     - server: matrix.org
  #       prefix: _oftc_
{{- if .IRC.Bridges}}
  bridges:
{{- range .IRC.Bridges}}
    - server: {{q .Server}}
      prefix: {{q .Prefix}}
{{- end}}
{{- else}}
  bridges: []
{{- end}}
`))

// checkWritten refuses a config text that does not load back to cfg, the
// configuration it was written from, naming the keys it would change. The
// S3 secret key is not written (it belongs in the environment or a file):
// it is given as the environment would give it.
func checkWritten(text string, cfg config.Config) error {
	var env []string
	if s3 := cfg.Media.S3; s3.SecretKey != "" && s3.SecretKeyFile == "" {
		env = append(env, config.EnvPrefix+"MEDIA_S3_SECRET_KEY="+s3.SecretKey)
	}
	written, err := config.LoadBytesEnv([]byte(text), env)
	if err != nil {
		return fmt.Errorf("init: the generated config does not load: %w", err)
	}
	if diff := config.Differences(cfg, written); len(diff) > 0 {
		return fmt.Errorf("init: the generated config would not keep %s (a key the template of config.yaml lacks): nothing written", strings.Join(diff, ", "))
	}
	return nil
}

func yamlString(s string) string {
	b, _ := yaml.Marshal(s)
	return strings.TrimSpace(string(b))
}

func yamlList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	quoted := make([]string, len(l))
	for i, s := range l {
		quoted[i] = yamlString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// initCmd writes config.yaml and registration.yaml, taking values already
// in the configuration (file or environment) and inventing fresh tokens.
func initCmd(cfg config.Config, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("init", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("o", ".", "directory to write config.yaml and registration.yaml into")
	force := flags.Bool("force", false, "overwrite existing files")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var err error
	for _, tok := range []*string{&cfg.Appservice.ASToken, &cfg.Appservice.HSToken} {
		if *tok == "" {
			if *tok, err = newToken(); err != nil {
				return err
			}
		}
	}
	if cfg.Homeserver.Domain == "" {
		cfg.Homeserver.Domain = "example.org"
		fmt.Fprintln(stderr, "note: homeserver.domain is not set; wrote example.org: edit it (or set MXARCHIVE_HOMESERVER_DOMAIN)")
	}
	if cfg.Homeserver.Address == "" {
		cfg.Homeserver.Address = "http://127.0.0.1:8008"
		fmt.Fprintln(stderr, "note: homeserver.address is not set; wrote http://127.0.0.1:8008: edit it (or set MXARCHIVE_HOMESERVER_ADDRESS)")
	}
	var cfgText strings.Builder
	if err := configTemplate.Execute(&cfgText, cfg); err != nil {
		return err
	}
	// What we write must load back as what we meant, every key of it: a
	// key the template lacks dropped its value from the environment
	// without a word, and the units, which read the file alone, ran on
	// the default.
	if err := checkWritten(cfgText.String(), cfg); err != nil {
		return err
	}
	if cfg.Media.S3.SecretKey != "" && cfg.Media.S3.SecretKeyFile == "" {
		fmt.Fprintln(stderr, "note: media.s3.secret_key is not written to config.yaml: give both units MXARCHIVE_MEDIA_S3_SECRET_KEY (from an EnvironmentFile=), or the key in a file named by media.s3.secret_key_file")
	}
	reg := ingest.Registration{
		ID: cfg.Appservice.ID, URL: "http://" + cfg.Appservice.Listen,
		ASToken: cfg.Appservice.ASToken, HSToken: cfg.Appservice.HSToken,
		SenderLocalpart: cfg.Appservice.BotLocalpart,
	}
	regText, err := reg.Marshal()
	if err != nil {
		return err
	}
	regText = append([]byte("# Appservice registration for mxarchive: install it in your homeserver (see README.md).\n"), regText...)
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	cfgPath, regPath := filepath.Join(*dir, "config.yaml"), filepath.Join(*dir, "registration.yaml")
	// Both or neither: a new config beside an old registration would hold
	// tokens the homeserver does not know.
	for _, p := range []string{cfgPath, regPath} {
		if _, err := os.Stat(p); err == nil && !*force {
			return fmt.Errorf("init: %s exists; pass --force to overwrite it", p)
		}
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{cfgPath, []byte(cfgText.String())}, {regPath, regText}} {
		mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if *force {
			mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		fh, err := os.OpenFile(f.path, mode, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("init: %s exists; pass --force to overwrite it", f.path)
		}
		if err != nil {
			return err
		}
		if _, err := fh.Write(f.data); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, `Wrote %s and %s.

Install the registration in your homeserver, then run: archiver -c %s

  Synapse:  add the file to app_service_config_files in homeserver.yaml, restart Synapse.
  Dendrite: add it to app_service_api.config_files in dendrite.yaml, restart Dendrite.
  Conduit:  in the admin room, send "@conduit:<your server>: register-appservice" followed by
            the file's contents in a code block (conduwuit: "!admin appservices register").

The homeserver must reach the archiver at %s, and the archiver the homeserver at %s.
Invite %s to a room whose history is world-readable to archive it.
`, cfgPath, regPath, cfgPath, reg.URL, cfg.Homeserver.Address, cfg.BotUserID())
	return nil
}
