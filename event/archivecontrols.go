package event

import (
	"encoding/json"
	"strings"
)

// MSC4021 lets a room's admins say how public archives should treat it: an
// m.room.archive_controls state event (state key "") with "robots", a list
// of robots meta directives for its pages, and "archive", whether it may
// be listed in public directories. The MSC is unmerged, so its unstable
// type is read as well.
const (
	TypeArchiveControls         = "m.room.archive_controls"
	TypeArchiveControlsUnstable = "org.matrix.msc4021.archive_controls"
)

// ArchiveControls is what a room's archive_controls asks.
type ArchiveControls struct {
	// Robots are the valid directives given, lower-cased, in order,
	// without duplicates ("noindex", "nofollow", "max-snippet:50", …).
	Robots []string
	// Unlisted: "archive" is false, so the room wants no public listing.
	Unlisted bool
}

// robotsDirectives are the directives passed on; anything else (typos,
// other crawlers' extensions, text that could break a header) is dropped.
var robotsDirectives = map[string]bool{
	"all": true, "none": true, "noindex": true, "nofollow": true, "noarchive": true, "nosnippet": true,
	"noimageindex": true, "notranslate": true, "indexifembedded": true,
	"max-snippet": true, "max-image-preview": true, "max-video-preview": true,
}

// ParseArchiveControls reads archive_controls content; fields of the
// wrong type are ignored.
func ParseArchiveControls(content json.RawMessage) ArchiveControls {
	var ac ArchiveControls
	fields, ok := objectFields(content)
	if !ok {
		return ac
	}
	var archive bool
	if json.Unmarshal(fields["archive"], &archive) == nil && !archive && string(fields["archive"]) == "false" {
		ac.Unlisted = true
	}
	var robots []json.RawMessage
	if json.Unmarshal(fields["robots"], &robots) != nil {
		return ac
	}
	seen := map[string]bool{}
	for _, raw := range robots[:min(len(robots), 20)] {
		var d string
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		d = strings.ToLower(strings.TrimSpace(d))
		name, value, hasValue := strings.Cut(d, ":")
		if !robotsDirectives[name] || seen[d] {
			continue
		}
		if hasValue && !validDirectiveValue(value) || !hasValue && strings.HasPrefix(name, "max-") {
			continue
		}
		seen[d] = true
		ac.Robots = append(ac.Robots, d)
	}
	return ac
}

// validDirectiveValue accepts the values max-* take: a number (-1 too) or
// none/standard/large.
func validDirectiveValue(v string) bool {
	switch v {
	case "none", "standard", "large":
		return true
	}
	v = strings.TrimPrefix(v, "-")
	if v == "" || len(v) > 9 {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
