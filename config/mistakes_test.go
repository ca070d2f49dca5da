package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Operator mistakes in the configuration that Load used to accept, each
// then misbehaving later or failing with a misleading message.

// An operator's review found `base_url: archive.example.org` (no scheme)
// accepted: API permalinks, sitemaps and robots.txt then held relative
// garbage ("archive.example.org/room/..."); ftp:// was accepted too; and
// a path prefix (https://example.org/archive, the archive behind a proxy
// at /archive/) was accepted although every page's links, forms,
// stylesheets and redirects are root-relative, so nothing worked.
func TestBaseURLMustBeTheArchiveRoot(t *testing.T) {
	for base, want := range map[string]string{
		"archive.example.org":                "not an absolute URL",
		"archive.example.org:8443":           "not an absolute URL",
		"//archive.example.org":              "not an absolute URL",
		"ftp://archive.example.org":          "http or https",
		"https://":                           "no host",
		"https:///archive":                   "no host",
		"https://example.org/archive":        "serving under a path (/archive) is not supported",
		"https://example.org/archive/":       "serving under a path (/archive) is not supported",
		"https://example.org/?lang=en":       "query",
		"https://example.org?":               "query",
		"https://example.org/#top":           "fragment",
		"https://example.org#":               "fragment",
		"https://admin:pw@example.org":       "user info",
		" https://archive.example.org":       "spaces",
		"https://archive example.org":        "web.base_url",
		"https://archive.example.org:notnum": "web.base_url",
	} {
		_, err := Load("", []string{"MXARCHIVE_WEB_BASE_URL=" + base})
		if err == nil || !strings.Contains(err.Error(), "web.base_url") || !strings.Contains(err.Error(), want) {
			t.Errorf("base_url %q: err = %v, want one naming web.base_url and saying %q", base, err, want)
		}
	}
	for _, base := range []string{"", "https://archive.example.org", "https://archive.example.org/", "http://127.0.0.1:8080", "http://[::1]:8080/", "HTTPS://Archive.Example.org"} {
		if _, err := Load("", []string{"MXARCHIVE_WEB_BASE_URL=" + base}); err != nil {
			t.Errorf("base_url %q refused: %v", base, err)
		}
	}
	// The file is checked as the environment is.
	if _, err := LoadBytes([]byte("web:\n  base_url: example.org\n")); err == nil || !strings.Contains(err.Error(), "web.base_url") {
		t.Errorf("base_url without a scheme in the file: err = %v", err)
	}
}

// The review found metrics.listen equal to web.listen accepted (archive-web
// then died with "address already in use", sending the operator looking
// for another process). One program's addresses must differ, and the two
// metrics addresses; a wildcard host takes the port on every address.
// Two programs' addresses may be the same: they may run on different
// hosts (an archiver container on 0.0.0.0:8080 beside web.listen's
// default 127.0.0.1:8080 is no collision).
func TestListenAddressesMustDiffer(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"MXARCHIVE_WEB_LISTEN=127.0.0.1:8080", "MXARCHIVE_METRICS_LISTEN=127.0.0.1:8080"}, "metrics.listen"},
		{[]string{"MXARCHIVE_METRICS_LISTEN=127.0.0.1:8080"}, "metrics.listen"}, // web.listen's default
		{[]string{"MXARCHIVE_WEB_LISTEN=:9000", "MXARCHIVE_METRICS_LISTEN=127.0.0.1:9000"}, "metrics.listen"},
		{[]string{"MXARCHIVE_WEB_LISTEN=0.0.0.0:9000", "MXARCHIVE_METRICS_LISTEN=10.0.0.5:9000"}, "metrics.listen"},
		{[]string{"MXARCHIVE_METRICS_LISTEN=127.0.0.1:9331", "MXARCHIVE_METRICS_ARCHIVER_LISTEN=127.0.0.1:9331"}, "metrics.archiver_listen"},
		{[]string{"MXARCHIVE_METRICS_ARCHIVER_LISTEN=127.0.0.1:29330"}, "metrics.archiver_listen"},
	} {
		_, err := Load("", tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("Load(%v) = %v; want an error naming %s", tc.env, err, tc.want)
		}
	}
	for _, env := range [][]string{
		{"MXARCHIVE_WEB_LISTEN=127.0.0.1:0", "MXARCHIVE_METRICS_LISTEN=127.0.0.1:0", "MXARCHIVE_APPSERVICE_LISTEN=127.0.0.1:0", "MXARCHIVE_METRICS_ARCHIVER_LISTEN=127.0.0.1:0"},
		{"MXARCHIVE_WEB_LISTEN=10.0.0.5:9000", "MXARCHIVE_METRICS_LISTEN=127.0.0.1:9000"},
		{"MXARCHIVE_WEB_LISTEN=0.0.0.0:8080", "MXARCHIVE_METRICS_LISTEN=127.0.0.1:9331", "MXARCHIVE_METRICS_ARCHIVER_LISTEN=127.0.0.1:9332"},
		{"MXARCHIVE_APPSERVICE_LISTEN=0.0.0.0:8080"}, // web.listen's default port: another program
		{"MXARCHIVE_WEB_LISTEN=127.0.0.1:29330"},     // the appservice's default
		{"MXARCHIVE_WEB_LISTEN=127.0.0.1:9000", "MXARCHIVE_METRICS_ARCHIVER_LISTEN=[::]:9000"},
	} {
		if _, err := Load("", env); err != nil {
			t.Errorf("Load(%v) = %v; want no error", env, err)
		}
	}
}

// The review found web.ready_index_lag: -1 accepted: /readyz then said
// "0 changes behind (allowed -1)" for ever, every replica out of the load
// balancer.
func TestReadyIndexLagNotNegative(t *testing.T) {
	if _, err := Load("", []string{"MXARCHIVE_WEB_READY_INDEX_LAG=-1"}); err == nil || !strings.Contains(err.Error(), "web.ready_index_lag") {
		t.Errorf("ready_index_lag -1: err = %v, want one naming web.ready_index_lag", err)
	}
	if c, err := Load("", []string{"MXARCHIVE_WEB_READY_INDEX_LAG=0"}); err != nil || c.Web.ReadyIndexLag != 0 {
		t.Errorf("ready_index_lag 0: %v, %d", err, c.Web.ReadyIndexLag)
	}
}

// The review found `archiver config`, which the README says prints the
// configuration "with secrets hidden", printing the database password
// given in a URL's query (postgres:///mxarchive?host=/run/postgresql&
// user=mxarchive&password=hunter2, usual with a Unix socket) or in a
// keyword/value string (host=... password=hunter2 dbname=...): only
// user:password@ was hidden. Every form libpq and pgx read must hide it
// and keep the rest readable.
func TestRedactedHidesDatabasePasswordInEveryForm(t *testing.T) {
	for uri, want := range map[string]string{
		"postgres://archive:hunter2@localhost/mxarchive":                              "postgres://archive:xxxxx@localhost/mxarchive",
		"postgresql://archive:hun@ter2@localhost:5432/mxarchive?sslmode=require":      "postgresql://archive:xxxxx@localhost:5432/mxarchive?sslmode=require",
		"postgres://archive@localhost/mxarchive":                                      "postgres://archive@localhost/mxarchive",
		"postgres:///mxarchive?host=/run/postgresql&user=mxarchive&password=hunter2":  "postgres:///mxarchive?host=/run/postgresql&user=mxarchive&password=xxxxx",
		"postgres://db/mxarchive?password=hunter2&sslmode=verify-full":                "postgres://db/mxarchive?password=xxxxx&sslmode=verify-full",
		"postgres://db/x?sslcert=/c.pem&sslkey=/k.pem&sslpassword=hunter2":            "postgres://db/x?sslcert=/c.pem&sslkey=/k.pem&sslpassword=xxxxx",
		"postgres://u:hunter2@db/x?pass%77ord=hunter2":                                "postgres://u:xxxxx@db/x?pass%77ord=xxxxx",
		"POSTGRES://db/x?PASSWORD=hunter2":                                            "POSTGRES://db/x?PASSWORD=xxxxx",
		"host=/run/postgresql user=mxarchive password=hunter2 dbname=mxarchive":       "host=/run/postgresql user=mxarchive password=xxxxx dbname=mxarchive",
		"host=db password = hunter2   dbname=mxarchive":                               "host=db password = xxxxx   dbname=mxarchive",
		"host=db password='hunter2 with spaces' dbname=mxarchive":                     "host=db password='xxxxx' dbname=mxarchive",
		`host=db password='hunter2 \'quoted\' \\' dbname=mxarchive`:                   "host=db password='xxxxx' dbname=mxarchive",
		`password=hunter2\ escaped sslpassword=hunter2 application_name='mx archive'`: "password=xxxxx sslpassword=xxxxx application_name='mx archive'",
		"host=db\tpassword=hunter2\ndbname=x":                                         "host=db\tpassword=xxxxx\ndbname=x",
		"host=db password='hunter2 unterminated":                                      "host=db password=xxxxx",
		"host=db password=":                                                           "host=db password=xxxxx",
	} {
		c := Defaults()
		c.Database.Type, c.Database.URI = "postgres", uri
		out := c.Redacted()
		var printed Config
		if err := yaml.Unmarshal([]byte(out), &printed); err != nil {
			t.Fatalf("Redacted() is not YAML: %v\n%s", err, out)
		}
		if strings.Contains(out, "hunter2") || printed.Database.URI != want {
			t.Errorf("Redacted() of %q prints uri %q, want %q", uri, printed.Database.URI, want)
		}
		if c.Database.URI != uri {
			t.Errorf("Redacted() changed the config's URI to %q", c.Database.URI)
		}
	}
	// A SQLite path is printed as it is.
	c := Defaults()
	c.Database.URI = "/var/lib/mxarchive/db.sqlite"
	if out := c.Redacted(); !strings.Contains(out, "uri: /var/lib/mxarchive/db.sqlite") {
		t.Errorf("Redacted() of a SQLite path:\n%s", out)
	}
}

// The review found misspelt overrides (MXARCHIVE_DATABASE_URL for
// MXARCHIVE_DATABASE_URI, MXARCHIVE_DATADIR, MXARCHIVE_WEB_BASEURL,
// MXARCHIVE_RETENTION_MAX_LIFETIME) silently ignored, while the README
// promises that a typo cannot silently fall back to a default: the
// archive ran on ./data, without retention or base_url. Each must be an
// error naming the variable and, when one is close, the key it meant.
func TestMisspeltEnvironmentVariableRefused(t *testing.T) {
	for name, meant := range map[string]string{
		"MXARCHIVE_DATABASE_URL":           "MXARCHIVE_DATABASE_URI",
		"MXARCHIVE_DATADIR":                "MXARCHIVE_DATA_DIR",
		"MXARCHIVE_WEB_BASEURL":            "MXARCHIVE_WEB_BASE_URL",
		"MXARCHIVE_RETENTION_MAX_LIFETIME": "MXARCHIVE_RETENTION_DEFAULT_MAX_LIFETIME",
		"MXARCHIVE_APPSERVICE_ASTOKEN":     "MXARCHIVE_APPSERVICE_AS_TOKEN",
		"MXARCHIVE_LOGLEVEL":               "MXARCHIVE_LOG_LEVEL",
		"MXARCHIVE_WEB":                    "",
		"MXARCHIVE_NONSENSE":               "",
	} {
		_, err := Load("", []string{name + "=x"})
		if err == nil || !strings.Contains(err.Error(), name+" names no configuration key") ||
			meant != "" && !strings.Contains(err.Error(), "did you mean "+meant+"?") ||
			meant == "" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%s: err = %v; want it named, suggesting %q", name, err, meant)
		}
	}
	// Every misspelt variable is named at once.
	_, err := Load("", []string{"MXARCHIVE_DATADIR=/d", "MXARCHIVE_WEB_BASEURL=https://a.example", "OTHER_THING=1"})
	if err == nil || !strings.Contains(err.Error(), "MXARCHIVE_DATADIR") || !strings.Contains(err.Error(), "MXARCHIVE_WEB_BASEURL") || strings.Contains(err.Error(), "OTHER_THING") {
		t.Errorf("two typos: err = %v", err)
	}
	// Variables of tests, benchmarks and scripts are not configuration.
	for _, name := range []string{"MXARCHIVE_TEST_POSTGRES", "MXARCHIVE_TEST_CORPUS", "MXARCHIVE_TEST_ANYTHING_NEW", "MXARCHIVE_BENCH_POSTGRES",
		"MXARCHIVE_CHROMIUM", "MXARCHIVE_SCREENSHOTS", "MXARCHIVE_AXE", "MXARCHIVE_CACHE", "MXARCHIVE_DENDRITE_BIN", "MXARCHIVE_VERSITYGW_BIN"} {
		if _, err := Load("", []string{name + "=/somewhere"}); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	// MXARCHIVE_MEDIA_S3_SECRET_KEY_FILE is a key (media.s3.secret_key_file).
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", []string{"MXARCHIVE_MEDIA_S3_SECRET_KEY_FILE=" + key, "MXARCHIVE_MEDIA_S3_ENDPOINT=s3.example.org", "MXARCHIVE_MEDIA_S3_BUCKET=b", "MXARCHIVE_MEDIA_S3_ACCESS_KEY=a"})
	if err != nil || c.Media.S3.SecretKey != "s3cret" {
		t.Errorf("secret key file: %v, %q", err, c.Media.S3.SecretKey)
	}
}

// Load refuses an MXARCHIVE_ variable that is neither a key nor in
// envNotConfig: every such name the scripts, tests, CI, Makefile and docs
// use must be one or the other, or CI (or an operator following the docs)
// breaks. The config package itself is skipped: it names the mistakes.
func TestEnvNamesInRepository(t *testing.T) {
	// A name followed by "_" or "_*" is a prefix the docs mention
	// (MXARCHIVE_TEST_*), not a variable.
	nameRE := regexp.MustCompile(`MXARCHIVE_[A-Z0-9_]*[A-Z0-9](_\*?)?`)
	names := map[string]string{} // name: a file using it
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "data", "node_modules", "config": // config names the mistakes it refuses
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		inCI := filepath.Base(filepath.Dir(path)) == ".ci"
		if !inCI && d.Name() != "Makefile" && ext != ".go" && ext != ".sh" && ext != ".md" && ext != ".yml" && ext != ".yaml" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range nameRE.FindAllString(string(b), -1) {
			if !strings.HasSuffix(n, "_") && !strings.HasSuffix(n, "_*") {
				names[n] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("found only %d MXARCHIVE_ names; is the walk right?", len(names))
	}
	for n, path := range names {
		if _, err := Load("", []string{n + "=x"}); err != nil && strings.Contains(err.Error(), "names no configuration key") {
			t.Errorf("%s (used in %s) is refused by Load: rename it, make it a key or add it to envNotConfig", n, path)
		}
	}
}

// web.memory_limit is in bytes. An operator who writes the megabytes they
// mean (memory_limit: 256, or 512 thinking MiB) gets a limit archive-web
// is never under: Go's collector runs without pause for the life of the
// process, and nothing says why. A limit below what archive-web needs at
// all is refused at load, naming the key and its unit.
func TestMemoryLimitInMegabytesRefused(t *testing.T) {
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"256", false},
		{"512", false},
		{"1024", false},
		{"33554431", false},
		{"0", true}, // none
		{"33554432", true},
		{"268435456", true},
	} {
		_, err := LoadBytes([]byte("web:\n  memory_limit: " + c.value + "\n"))
		if c.ok && err != nil {
			t.Errorf("web.memory_limit: %s refused: %v", c.value, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "web.memory_limit") || !strings.Contains(err.Error(), "bytes")) {
			t.Errorf("web.memory_limit: %s (bytes) loads with error %v; want it refused, naming the key and its unit", c.value, err)
		}
	}
}

// A retention lifetime written as a bare number is refused, saying to
// write a unit, from the file and from the environment; one under an hour
// (default_max_lifetime, allowed_lifetime_max) is refused as a unit slip.
// Before, 30 (meant as days) or 365 (a year) loaded as 30 ms and 365 ms:
// `archiver retention --dry-run` said 150,156 of 150,158 events would be
// deleted, and the archiver's next purge would have deleted them.
func TestRetentionLifetimeWithoutUnitRefused(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"default_max_lifetime", "30", "no unit"},
		{"allowed_lifetime_max", "365", "no unit"},
		{"allowed_lifetime_min", "86400000", "no unit"},
		{"default_max_lifetime", "30s", "retention.default_max_lifetime 30s is under an hour"},
		{"allowed_lifetime_max", "59m", "retention.allowed_lifetime_max 59m is under an hour"},
	} {
		env := EnvPrefix + "RETENTION_" + strings.ToUpper(c.key) + "=" + c.value
		if _, err := Load("", []string{env}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it refused saying %q", env, err, c.want)
		}
		file := "retention:\n  " + c.key + ": " + c.value + "\n"
		if _, err := LoadBytes([]byte(file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it refused saying %q", file, err, c.want)
		}
	}
	cfg, err := LoadBytes([]byte("retention:\n  default_max_lifetime: 30d\n  allowed_lifetime_min: 1s\n  allowed_lifetime_max: 1y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Retention; time.Duration(p.DefaultMaxLifetime) != 30*24*time.Hour || time.Duration(p.AllowedLifetimeMin) != time.Second || time.Duration(p.AllowedLifetimeMax) != 365*24*time.Hour {
		t.Errorf("30d, 1s and 1y loaded as %v, %v and %v", time.Duration(p.DefaultMaxLifetime), time.Duration(p.AllowedLifetimeMin), time.Duration(p.AllowedLifetimeMax))
	}
	// What config show prints loads again.
	if _, err := LoadBytes([]byte(cfg.Redacted())); err != nil {
		t.Errorf("config show's output does not load: %v", err)
	}
}

// Durations that cannot mean what they say are refused, naming the key, as
// backfill_retry and purge_interval were. Before, they were replaced by
// defaults further down without a word: a query timeout of -5s ran as
// 10s, a write timeout of 0 as 2 minutes, a sweep_interval of 0 (meant to
// turn sweeps off) swept every 30s; a negative optin_wait was taken.
func TestImpossibleDurationsRefused(t *testing.T) {
	for env, key := range map[string]string{
		"MXARCHIVE_DATABASE_QUERY_TIMEOUT=-5s":  "database.query_timeout",
		"MXARCHIVE_DATABASE_QUERY_TIMEOUT=0s":   "database.query_timeout",
		"MXARCHIVE_DATABASE_WRITE_TIMEOUT=0s":   "database.write_timeout",
		"MXARCHIVE_ARCHIVE_SWEEP_INTERVAL=0s":   "sweeps cannot be turned off",
		"MXARCHIVE_ARCHIVE_SWEEP_INTERVAL=-30s": "archive.sweep_interval",
		"MXARCHIVE_ARCHIVE_OPTIN_WAIT=-1h":      "archive.optin_wait",
	} {
		if _, err := Load("", []string{env}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err = %v, want it refused naming %s", env, err, key)
		}
	}
	if _, err := LoadBytes([]byte("archive:\n  sweep_interval: 0s\n")); err == nil || !strings.Contains(err.Error(), "archive.sweep_interval") {
		t.Errorf("sweep_interval: 0s in the file: err = %v", err)
	}
	if _, err := Load("", []string{"MXARCHIVE_ARCHIVE_OPTIN_WAIT=0s"}); err != nil {
		t.Errorf("optin_wait 0 (an optin taken at once) refused: %v", err)
	}
}
