package ingest

import "gopkg.in/yaml.v3"

// Registration is an appservice registration file's content: what
// `archiver init` writes for the homeserver (and the tests give Dendrite).
type Registration struct {
	ID              string     `yaml:"id"`
	URL             string     `yaml:"url"`
	ASToken         string     `yaml:"as_token"`
	HSToken         string     `yaml:"hs_token"`
	SenderLocalpart string     `yaml:"sender_localpart"`
	RateLimited     bool       `yaml:"rate_limited"`
	Namespaces      Namespaces `yaml:"namespaces"`
}

// Namespaces are a registration's namespaces. The archive needs no users,
// aliases or rooms of its own: it hears rooms through its bot's
// membership. Marshal writes them as empty lists when nil: homeservers
// require the keys (Dendrite v0.15.2 panics at startup, "assignment to
// entry in nil map", when the namespaces key is missing altogether).
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

// Marshal returns the registration as YAML, every namespace list present.
func (r Registration) Marshal() ([]byte, error) {
	for _, ns := range []*[]Namespace{&r.Namespaces.Users, &r.Namespaces.Aliases, &r.Namespaces.Rooms} {
		if *ns == nil {
			*ns = []Namespace{}
		}
	}
	return yaml.Marshal(r)
}
