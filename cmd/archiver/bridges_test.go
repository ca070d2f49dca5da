package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/config"
)

// The config `archiver init` writes carries irc.bridges, empty or as the
// environment gave them, and loads back the same.
func TestInitWritesIRCBridges(t *testing.T) {
	for _, bridges := range []string{"", "matrix.org=_oftc_,libera.chat=libera_"} {
		dir := t.TempDir()
		t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
		t.Setenv("MXARCHIVE_IRC_BRIDGES", bridges)
		var out, errs bytes.Buffer
		if err := run(context.Background(), []string{"init", "-o", dir}, &out, &errs); err != nil {
			t.Fatalf("init: %v\n%s", err, errs.String())
		}
		cfg, err := config.Load(filepath.Join(dir, "config.yaml"), nil)
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
			t.Fatalf("the written config does not load: %v\n%s", err, b)
		}
		var want config.Config
		if err := want.IRC.Bridges.UnmarshalText([]byte(bridges)); err != nil {
			t.Fatal(err)
		}
		if len(cfg.IRC.Bridges) != len(want.IRC.Bridges) {
			t.Fatalf("bridges %+v, want %+v", cfg.IRC.Bridges, want.IRC.Bridges)
		}
		for i := range want.IRC.Bridges {
			if cfg.IRC.Bridges[i] != want.IRC.Bridges[i] {
				t.Errorf("bridge %d: %+v, want %+v", i, cfg.IRC.Bridges[i], want.IRC.Bridges[i])
			}
		}
	}
}
