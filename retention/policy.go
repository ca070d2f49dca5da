package retention

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Policy is the operator's retention configuration, with the semantics of
// Synapse's `retention:` section
// (https://element-hq.github.io/synapse/latest/message_retention_policies.html;
// MSC1763, https://github.com/matrix-org/matrix-spec-proposals/pull/1763,
// is not in the spec): a room's m.room.retention max_lifetime, clamped to [AllowedLifetimeMin,
// AllowedLifetimeMax], else DefaultMaxLifetime, else none.
type Policy struct {
	// Enabled honours retention policies; true by default.
	Enabled bool `yaml:"enabled"`
	// DefaultMaxLifetime applies to rooms without a max_lifetime of their
	// own (0: none).
	DefaultMaxLifetime Lifetime `yaml:"default_max_lifetime"`
	// AllowedLifetimeMin and AllowedLifetimeMax clamp a room's max_lifetime
	// (0: no bound).
	AllowedLifetimeMin Lifetime `yaml:"allowed_lifetime_min"`
	AllowedLifetimeMax Lifetime `yaml:"allowed_lifetime_max"`
	// PurgeInterval is how often the archiver deletes expired messages.
	// They are hidden from the moment they expire either way.
	PurgeInterval time.Duration `yaml:"purge_interval"`
}

// Validate reports a policy that cannot be honoured, naming the keys.
func (p Policy) Validate() error {
	if p.AllowedLifetimeMin > 0 && p.AllowedLifetimeMax > 0 && p.AllowedLifetimeMin > p.AllowedLifetimeMax {
		return errors.New("retention.allowed_lifetime_min is above retention.allowed_lifetime_max")
	}
	if p.Enabled && p.PurgeInterval <= 0 {
		return errors.New("retention.purge_interval must be positive")
	}
	return nil
}

// MaxLifetime resolves the effective max_lifetime of a room whose own
// policy says roomMax (nil when it sets none). ok is false when nothing
// expires.
func (p Policy) MaxLifetime(roomMax *int64) (d time.Duration, ok bool) {
	if !p.Enabled {
		return 0, false
	}
	switch {
	case roomMax != nil:
		d = time.Duration(*roomMax) * time.Millisecond
	case p.DefaultMaxLifetime > 0:
		d = time.Duration(p.DefaultMaxLifetime)
	default:
		return 0, false
	}
	if p.AllowedLifetimeMin > 0 && d < time.Duration(p.AllowedLifetimeMin) {
		d = time.Duration(p.AllowedLifetimeMin)
	}
	if p.AllowedLifetimeMax > 0 && d > time.Duration(p.AllowedLifetimeMax) {
		d = time.Duration(p.AllowedLifetimeMax)
	}
	return d, true
}

// ExpiredBefore is the time (ms) before which a room's non-state events
// have expired at now, for a room whose own policy says roomMax; 0 when
// none expire.
func (p Policy) ExpiredBefore(now time.Time, roomMax *int64) int64 {
	d, ok := p.MaxLifetime(roomMax)
	if !ok {
		return 0
	}
	return now.Add(-d).UnixMilli()
}

// RoomMaxLifetime reads max_lifetime (ms) from an m.room.retention content;
// nil when it is missing or not a valid value (MSC1763: an integer in
// [0, 2^53-1]), which means the room sets none.
func RoomMaxLifetime(content json.RawMessage) *int64 {
	var c struct {
		MaxLifetime json.Number `json:"max_lifetime"`
	}
	if json.Unmarshal(content, &c) != nil || c.MaxLifetime == "" {
		return nil
	}
	n, err := strconv.ParseInt(string(c.MaxLifetime), 10, 64)
	if err != nil || n < 0 || n > 1<<53-1 {
		return nil
	}
	return &n
}

// Lifetime is a duration written as Synapse writes them: a number of
// milliseconds, or a number with a unit: s, m, h, d, w or y ("30d").
type Lifetime time.Duration

// UnmarshalText parses a Lifetime.
func (l *Lifetime) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" || s == "0" {
		*l = 0
		return nil
	}
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	unit := time.Millisecond
	if u, ok := units[s[len(s)-1]]; ok {
		unit, s = u, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > int64(1<<62)/int64(unit) {
		return fmt.Errorf("lifetime %q: want milliseconds or a number with s, m, h, d, w or y (like 30d)", string(b))
	}
	*l = Lifetime(time.Duration(n) * unit)
	return nil
}

// MarshalText writes a Lifetime in milliseconds.
func (l Lifetime) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatInt(time.Duration(l).Milliseconds(), 10)), nil
}

// String writes a Lifetime in milliseconds, as UnmarshalText reads it.
func (l Lifetime) String() string { return strconv.FormatInt(time.Duration(l).Milliseconds(), 10) }
