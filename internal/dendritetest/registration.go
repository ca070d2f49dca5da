package dendritetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
)

// Registration is an appservice registration: the archive's own format
// (ingest.Registration), with what tests need to use it.
type Registration struct{ ingest.Registration }

// NewRegistration returns a registration with random 32-hex-digit tokens,
// empty namespaces and rate_limited false.
func NewRegistration(id, url, senderLocalpart string) Registration {
	return Registration{ingest.Registration{
		ID:              id,
		URL:             url,
		ASToken:         "as_" + randomHex(16),
		HSToken:         "hs_" + randomHex(16),
		SenderLocalpart: senderLocalpart,
	}}
}

// SenderID is the full user ID of the appservice's bot on serverName.
func (r Registration) SenderID(serverName string) string {
	return "@" + r.SenderLocalpart + ":" + serverName
}

// Write writes the registration as YAML into a new file under t.TempDir()
// and returns its path, for Options.Registrations.
func (r Registration) Write(t testing.TB) string {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatalf("dendritetest: registration: %v", err)
	}
	path := filepath.Join(t.TempDir(), "registration-"+r.ID+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("dendritetest: registration: %v", err)
	}
	return path
}
