package config

import "github.com/mxarchive/mxarchive/irclog"

// IRC configures what the archive knows of IRC beyond imported logs.
type IRC struct {
	// Bridges are the IRC bridges whose puppets (e.g. @_oftc_nick:matrix.org)
	// the archiver records under their IRC nick when they set no display
	// name. Only the bridges named here: a user ID that merely looks like
	// a puppet's is never taken for one.
	Bridges irclog.Bridges `yaml:"bridges"`
}
