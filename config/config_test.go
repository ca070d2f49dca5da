package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := write("full.yaml", "data_dir: /var/lib/mxarchive\ndatabase:\n  type: postgres\n  uri: postgres://u:pw@db/x\nweb:\n  listen: 0.0.0.0:9000\n")
	empty := write("empty.yaml", "")
	typo := write("typo.yaml", "web:\n  lisen: 1.2.3.4:1\n")
	badYAML := write("bad.yaml", "web: [\n")

	tests := []struct {
		name    string
		path    string
		env     []string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Web.Listen != "127.0.0.1:8080" || c.Database.Type != "sqlite" || c.DataDir != "./data" || c.Appservice.Listen != "127.0.0.1:29330" {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "file", path: full, check: func(t *testing.T, c Config) {
			if c.DataDir != "/var/lib/mxarchive" || c.Database.Type != "postgres" || c.Web.Listen != "0.0.0.0:9000" {
				t.Errorf("got %+v", c)
			}
			if c.Database.QueryTimeout != 10*time.Second {
				t.Errorf("default kept under file: %v", c.Database.QueryTimeout)
			}
		}},
		{name: "empty file means defaults", path: empty, check: func(t *testing.T, c Config) {
			if c.Web.Listen != "127.0.0.1:8080" {
				t.Errorf("got %q", c.Web.Listen)
			}
		}},
		{name: "env overrides file", path: full, env: []string{
			"MXARCHIVE_WEB_LISTEN=127.0.0.1:1", "MXARCHIVE_DATABASE_TYPE=sqlite", "MXARCHIVE_DATA_DIR=/d",
			"MXARCHIVE_DATABASE_QUERY_TIMEOUT=3s", "MXARCHIVE_APPSERVICE_HS_TOKEN=secret", "OTHER=1",
		}, check: func(t *testing.T, c Config) {
			if c.Web.Listen != "127.0.0.1:1" || c.Database.Type != "sqlite" || c.DataDir != "/d" ||
				c.Database.QueryTimeout != 3*time.Second || c.Appservice.HSToken != "secret" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "pool from env", env: []string{"MXARCHIVE_DATABASE_MAX_OPEN_CONNS=12", "MXARCHIVE_DATABASE_MAX_IDLE_CONNS=6"}, check: func(t *testing.T, c Config) {
			if c.Database.MaxOpenConns != 12 || c.Database.MaxIdleConns != 6 {
				t.Errorf("pool = %d open, %d idle; want 12, 6", c.Database.MaxOpenConns, c.Database.MaxIdleConns)
			}
		}},
		{name: "negative pool", env: []string{"MXARCHIVE_DATABASE_MAX_OPEN_CONNS=-1"}, wantErr: "database.max_open_conns"},
		{name: "more idle than open", env: []string{"MXARCHIVE_DATABASE_MAX_OPEN_CONNS=4", "MXARCHIVE_DATABASE_MAX_IDLE_CONNS=8"}, wantErr: "database.max_idle_conns"},
		{name: "unknown key", path: typo, wantErr: "lisen"},
		{name: "bad yaml", path: badYAML, wantErr: "bad.yaml"},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), wantErr: "does not exist"},
		{name: "bad log level", env: []string{"MXARCHIVE_LOG_LEVEL=verbose"}, wantErr: "log.level"},
		{name: "bad log format", env: []string{"MXARCHIVE_LOG_FORMAT=xml"}, wantErr: "log.format"},
		{name: "bad duration", env: []string{"MXARCHIVE_DATABASE_QUERY_TIMEOUT=soon"}, wantErr: "MXARCHIVE_DATABASE_QUERY_TIMEOUT"},
		{name: "bad db type", env: []string{"MXARCHIVE_DATABASE_TYPE=mysql"}, wantErr: "mysql"},
		{name: "postgres needs uri", env: []string{"MXARCHIVE_DATABASE_TYPE=postgres"}, wantErr: "database.uri"},
		{name: "media defaults", check: func(t *testing.T, c Config) {
			if !c.Media.Enabled || c.Media.MaxSize != 50<<20 || c.Media.Concurrency != 4 || c.MediaDir() != filepath.Join("data", "media") {
				t.Errorf("media defaults = %+v, dir %s", c.Media, c.MediaDir())
			}
		}},
		{name: "media env", env: []string{"MXARCHIVE_MEDIA_MAX_SIZE=1048576", "MXARCHIVE_MEDIA_CONCURRENCY=2", "MXARCHIVE_MEDIA_DIR=/m"}, check: func(t *testing.T, c Config) {
			if c.Media.MaxSize != 1<<20 || c.Media.Concurrency != 2 || c.MediaDir() != "/m" {
				t.Errorf("media = %+v", c.Media)
			}
		}},
		{name: "day page size", env: []string{"MXARCHIVE_WEB_DAY_PAGE_SIZE=1000"}, check: func(t *testing.T, c Config) {
			if c.Web.DayPageSize != 1000 {
				t.Errorf("day page size = %d, want 1000", c.Web.DayPageSize)
			}
		}},
		{name: "day page size default", check: func(t *testing.T, c Config) {
			if c.Web.DayPageSize != 500 {
				t.Errorf("day page size = %d, want 500", c.Web.DayPageSize)
			}
		}},
		{name: "day page size zero", env: []string{"MXARCHIVE_WEB_DAY_PAGE_SIZE=0"}, wantErr: "web.day_page_size"},
		{name: "max day reads", env: []string{"MXARCHIVE_WEB_MAX_DAY_READS=3"}, check: func(t *testing.T, c Config) {
			if c.Web.MaxDayReads != 3 {
				t.Errorf("max day reads = %d, want 3", c.Web.MaxDayReads)
			}
		}},
		{name: "max day reads negative", env: []string{"MXARCHIVE_WEB_MAX_DAY_READS=-1"}, wantErr: "web.max_day_reads"},
		{name: "day page size too large", env: []string{"MXARCHIVE_WEB_DAY_PAGE_SIZE=2001"}, wantErr: "web.day_page_size"},
		{name: "media max_size must be positive", env: []string{"MXARCHIVE_MEDIA_MAX_SIZE=0"}, wantErr: "media.max_size"},
		{name: "media concurrency bounded", env: []string{"MXARCHIVE_MEDIA_CONCURRENCY=1000"}, wantErr: "media.concurrency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.path, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c := Defaults()
	c.Appservice.ASToken = "as-secret-token"
	c.Appservice.HSToken = "hs-secret-token"
	c.Database.URI = "postgres://archive:db-password@localhost/mxarchive"
	out := c.Redacted()
	for _, secret := range []string{"as-secret-token", "hs-secret-token", "db-password"} {
		if strings.Contains(out, secret) {
			t.Errorf("Redacted() leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "localhost/mxarchive") || c.Appservice.ASToken != "as-secret-token" {
		t.Errorf("Redacted() changed too much or mutated the config:\n%s", out)
	}
}
