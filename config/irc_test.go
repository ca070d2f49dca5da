package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/irclog"
)

// irc.bridges names the IRC bridges whose puppets are shown by their
// nick, from the file or from MXARCHIVE_IRC_BRIDGES; a bridge that would
// name every user of a server is refused.
func TestIRCBridges(t *testing.T) {
	want := irclog.Bridges{{Server: "libera.chat", Prefix: "libera_"}, {Server: "matrix.org", Prefix: "_oftc_"}}
	for name, tc := range map[string]struct {
		yaml    string
		env     []string
		want    irclog.Bridges
		wantErr string
	}{
		"none by default":      {},
		"from the file":        {yaml: "irc:\n  bridges:\n    - server: libera.chat\n      prefix: libera_\n    - server: matrix.org\n      prefix: _oftc_\n", want: want},
		"from the environment": {env: []string{"MXARCHIVE_IRC_BRIDGES=libera.chat=libera_,matrix.org=_oftc_"}, want: want},
		"without a prefix":     {yaml: "irc:\n  bridges:\n    - server: libera.chat\n", wantErr: "irc.bridges[0]: prefix"},
		"without a server":     {yaml: "irc:\n  bridges:\n    - prefix: libera_\n", wantErr: "irc.bridges[0]: server"},
		"a misspelt key":       {yaml: "irc:\n  bridges:\n    - server: libera.chat\n      prefx: libera_\n", wantErr: "prefx"},
		"env without a prefix": {env: []string{"MXARCHIVE_IRC_BRIDGES=libera.chat"}, wantErr: "MXARCHIVE_IRC_BRIDGES"},
	} {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v; want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.IRC.Bridges) != len(tc.want) {
				t.Fatalf("bridges %+v, want %+v", c.IRC.Bridges, tc.want)
			}
			for i := range tc.want {
				if c.IRC.Bridges[i] != tc.want[i] {
					t.Errorf("bridge %d: %+v, want %+v", i, c.IRC.Bridges[i], tc.want[i])
				}
			}
		})
	}
}
