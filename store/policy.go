package store

import "github.com/mxarchive/mxarchive/retention"

// Policy is what the operator decides about showing and keeping history.
// Both binaries take it from the configuration (config.Config.Policy).
type Policy struct {
	Retention retention.Policy
	// ShowFormerlyPublic keeps showing what was archived while a room was
	// world-readable after it stops being so. Off by default: the room is
	// hidden until it is world-readable again.
	ShowFormerlyPublic bool
}
