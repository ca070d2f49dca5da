package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/config"
)

// `archiver init` writes "a commented config.yaml … with any values set in
// the environment", and the units then read the file alone: every key set
// in the environment at init must be in the file. Each key of the
// configuration is set here to a value other than its default; a key added
// later fails this test until it has one (and init, until its template
// writes it). The S3 secret key is never written: it stays in the
// environment or in the file secret_key_file names.
func TestInitKeepsEveryEnvironmentValue(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "s3-secret")
	if err := os.WriteFile(secretFile, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		"data_dir":                       "/srv/mxarchive",
		"database.type":                  "postgres",
		"database.uri":                   "postgres://mx:pw@db.example/mx",
		"database.query_timeout":         "30s",
		"database.write_timeout":         "5m0s",
		"database.max_open_conns":        "20",
		"database.max_idle_conns":        "10",
		"web.listen":                     "127.0.0.1:8081",
		"web.base_url":                   "https://archive.example.org",
		"web.ready_index_lag":            "500",
		"web.cache_size":                 "1048576",
		"web.day_page_size":              "200",
		"web.memory_limit":               "536870912",
		"web.max_day_reads":              "3",
		"homeserver.address":             "https://matrix.example.org",
		"homeserver.domain":              "example.org",
		"appservice.listen":              "127.0.0.1:29331",
		"appservice.id":                  "mxarchive-test",
		"appservice.bot_localpart":       "archivebot",
		"appservice.as_token":            "as-token-from-the-environment",
		"appservice.hs_token":            "hs-token-from-the-environment",
		"archive.join":                   "#a:example.org,!b:example.org",
		"archive.allow_rooms":            "#c:example.org",
		"archive.deny_rooms":             "#d:example.org",
		"archive.allow_servers":          "example.org",
		"archive.deny_servers":           "evil.example",
		"archive.backfill_limit":         "1000",
		"archive.backfill_max_bytes":     "1048576",
		"archive.backfill_retry":         "2m0s",
		"archive.leave_non_public_after": "48h0m0s",
		"archive.sweep_interval":         "1m0s",
		"archive.show_formerly_public":   "true",
		"archive.optin_wait":             "2h0m0s",
		"search.enabled":                 "false",
		"search.language":                "de",
		"retention.enabled":              "false",
		"retention.default_max_lifetime": "30d",
		"retention.allowed_lifetime_min": "1d",
		"retention.allowed_lifetime_max": "1y",
		"retention.purge_interval":       "2h0m0s",
		"log.level":                      "warn",
		"log.format":                     "json",
		"media.enabled":                  "false",
		"media.dir":                      "/srv/media",
		"media.max_size":                 "1048576",
		"media.concurrency":              "8",
		"media.max_total":                "1073741824",
		"media.s3.endpoint":              "s3.example.org",
		"media.s3.bucket":                "mxarchive-media",
		"media.s3.region":                "eu-west-1",
		"media.s3.access_key":            "AKIAEXAMPLE",
		"media.s3.secret_key":            "s3cr3t",
		"media.s3.secret_key_file":       secretFile,
		"media.s3.prefix":                "mxarchive/",
		"media.s3.use_ssl":               "false",
		"metrics.listen":                 "127.0.0.1:9331",
		"metrics.archiver_listen":        "127.0.0.1:9332",
		"irc.bridges":                    "matrix.org=_oftc_,libera.chat=libera_",
	}
	for _, key := range config.Keys() {
		if _, ok := values[key]; !ok {
			t.Errorf("configuration key %s has no value here: give it one other than its default, so that this test sees whether archiver init writes it", key)
		}
	}
	// Keys that exclude each other are set in different runs; every key
	// is set in one.
	runs := []struct {
		name    string
		without []string
	}{
		{"bucket with secret_key_file", []string{"media.dir", "media.s3.secret_key"}},
		{"bucket with the secret key in the environment", []string{"media.dir", "media.s3.secret_key_file"}},
		{"directory", []string{"media.s3."}},
	}
	envName := func(key string) string {
		return config.EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			var env []string
			var set []string
			for _, key := range config.Keys() {
				if slices.ContainsFunc(r.without, func(w string) bool { return key == w || strings.HasSuffix(w, ".") && strings.HasPrefix(key, w) }) {
					continue
				}
				t.Setenv(envName(key), values[key])
				env = append(env, envName(key)+"="+values[key])
				set = append(set, key)
			}
			want, err := config.Load("", env)
			if err != nil {
				t.Fatalf("the values do not load: %v", err)
			}
			changed := config.Differences(config.Defaults(), want)
			for _, key := range set {
				if !slices.Contains(changed, key) {
					t.Errorf("%s=%s is its default: give it another value", envName(key), values[key])
				}
			}
			dir := t.TempDir()
			var out, errs bytes.Buffer
			if err := run(context.Background(), []string{"init", "-o", dir}, &out, &errs); err != nil {
				t.Fatalf("init: %v\n%s", err, errs.String())
			}
			path := filepath.Join(dir, "config.yaml")
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(text, []byte("s3cr3t")) {
				t.Errorf("config.yaml holds the S3 secret key:\n%s", text)
			}
			// The units read the file alone, and the secret key from
			// where it was given.
			var unitEnv []string
			if !slices.Contains(r.without, "media.s3.secret_key") && !slices.Contains(r.without, "media.s3.") {
				unitEnv = append(unitEnv, envName("media.s3.secret_key")+"=s3cr3t")
				if !strings.Contains(errs.String(), "MXARCHIVE_MEDIA_S3_SECRET_KEY") {
					t.Errorf("init with the S3 secret key in the environment does not say it is left out of config.yaml:\n%s", errs.String())
				}
			}
			got, err := config.Load(path, unitEnv)
			if err != nil {
				t.Fatalf("the written config does not load: %v\n%s", err, text)
			}
			for _, key := range config.Differences(want, got) {
				t.Errorf("%s set in the environment at init: the written config.yaml does not keep it (init dropped the value)", key)
			}
		})
	}
}

// init refuses a config.yaml that would not keep a value it was given
// (a key its template lacks), and writes nothing.
func TestInitRefusesAConfigThatDropsAKey(t *testing.T) {
	cfg := config.Defaults()
	cfg.Archive.OptInWait *= 2
	var text strings.Builder
	if err := configTemplate.Execute(&text, cfg); err != nil {
		t.Fatal(err)
	}
	if err := checkWritten(text.String(), cfg); err != nil {
		t.Fatalf("the template's own text: %v", err)
	}
	var dropped []string
	for _, line := range strings.Split(text.String(), "\n") {
		if !strings.Contains(line, "optin_wait:") {
			dropped = append(dropped, line)
		}
	}
	err := checkWritten(strings.Join(dropped, "\n"), cfg)
	if err == nil || !strings.Contains(err.Error(), "archive.optin_wait") {
		t.Errorf("a config.yaml without archive.optin_wait, from a configuration that sets it: %v; want it refused, naming the key", err)
	}
}
