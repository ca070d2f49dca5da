package dendritetest

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// Registration is an appservice registration file's content.
type Registration struct {
	ID              string     `yaml:"id"`
	URL             string     `yaml:"url"`
	ASToken         string     `yaml:"as_token"`
	HSToken         string     `yaml:"hs_token"`
	SenderLocalpart string     `yaml:"sender_localpart"`
	Namespaces      Namespaces `yaml:"namespaces"`
	RateLimited     bool       `yaml:"rate_limited"`
}

// Namespaces are a registration's namespaces. Always written, as empty lists
// when nil: Dendrite v0.15.2 panics at startup ("assignment to entry in nil
// map") when the namespaces key is missing altogether.
type Namespaces struct {
	Users   []Namespace `yaml:"users"`
	Aliases []Namespace `yaml:"aliases"`
	Rooms   []Namespace `yaml:"rooms"`
}

// Namespace is one regex of a namespace. Dendrite compiles it with Go's
// regexp and matches it unanchored (MatchString): anchor it yourself.
type Namespace struct {
	Regex     string `yaml:"regex"`
	Exclusive bool   `yaml:"exclusive"`
}

// NewRegistration returns a registration with random 32-hex-digit tokens,
// empty namespaces and rate_limited false.
func NewRegistration(id, url, senderLocalpart string) Registration {
	return Registration{
		ID:              id,
		URL:             url,
		ASToken:         "as_" + randomHex(16),
		HSToken:         "hs_" + randomHex(16),
		SenderLocalpart: senderLocalpart,
	}
}

// SenderID is the full user ID of the appservice's bot on serverName.
func (r Registration) SenderID(serverName string) string {
	return "@" + r.SenderLocalpart + ":" + serverName
}

// Write writes the registration as YAML into a new file under t.TempDir()
// and returns its path, for Options.Registrations.
func (r Registration) Write(t testing.TB) string {
	t.Helper()
	for _, ns := range []*[]Namespace{&r.Namespaces.Users, &r.Namespaces.Aliases, &r.Namespaces.Rooms} {
		if *ns == nil {
			*ns = []Namespace{}
		}
	}
	b, err := yaml.Marshal(r)
	if err != nil {
		t.Fatalf("dendritetest: registration: %v", err)
	}
	path := filepath.Join(t.TempDir(), "registration-"+r.ID+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("dendritetest: registration: %v", err)
	}
	return path
}
