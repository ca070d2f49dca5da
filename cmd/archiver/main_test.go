package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/ingest"
)

func TestInit(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
	t.Setenv("MXARCHIVE_HOMESERVER_ADDRESS", "https://matrix.example.org")
	t.Setenv("MXARCHIVE_APPSERVICE_LISTEN", "10.0.0.5:29330")
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"init", "-o", dir}, &out, &errs); err != nil {
		t.Fatalf("init: %v\n%s", err, errs.String())
	}
	var reg ingest.Registration
	b, _ := os.ReadFile(filepath.Join(dir, "registration.yaml"))
	if err := yaml.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.URL != "http://10.0.0.5:29330" || reg.SenderLocalpart != "archive" || reg.RateLimited || len(reg.ASToken) < 40 || reg.ASToken == reg.HSToken {
		t.Errorf("registration = %+v", reg)
	}
	os.Clearenv()
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"), nil)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if cfg.Appservice.ASToken != reg.ASToken || cfg.Appservice.HSToken != reg.HSToken || cfg.Homeserver.Domain != "example.org" ||
		cfg.Homeserver.Address != "https://matrix.example.org" || cfg.CheckAppservice() != nil {
		t.Errorf("config does not match the registration: %+v", cfg)
	}
	if !strings.Contains(out.String(), "@archive:example.org") || !strings.Contains(out.String(), "app_service_config_files") {
		t.Errorf("instructions = %s", out.String())
	}
	// A second init must not overwrite the tokens the homeserver knows.
	if err := run(context.Background(), []string{"init", "-o", dir}, &out, &errs); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second init: %v", err)
	}
}

func TestImportCommand(t *testing.T) {
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"import", "../../testdata/import/malformed.ndjson"}, &out, &errs)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "5 stored") || !strings.Contains(errs.String(), "line 3:") || !strings.Contains(errs.String(), "line 8:") {
		t.Errorf("output:\n%s\nerrors:\n%s", out.String(), errs.String())
	}
	if err := run(context.Background(), []string{"import", "/nonexistent.ndjson"}, &out, &errs); err == nil {
		t.Error("importing a missing file succeeded")
	}
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	// run without appservice settings explains what is missing.
	if err := run(context.Background(), []string{"run"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "archiver init") {
		t.Errorf("run without config: %v", err)
	}
}
