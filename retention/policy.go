package retention

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// MinLifetime is the shortest default_max_lifetime or allowed_lifetime_max
// the operator may set: shorter is surely a unit slip (30s for 30d), and
// either one applies to every room, so the next purge would delete nearly
// the whole archive. Rooms' own max_lifetime is not bound by it (MSC1763
// lets a room ask for any), nor is allowed_lifetime_min, which only ever
// keeps messages longer.
const MinLifetime = time.Hour

// Validate reports a policy that cannot be honoured, or that is surely a
// slip, naming the keys.
func (p Policy) Validate() error {
	for _, l := range []struct {
		key string
		v   Lifetime
	}{{"default_max_lifetime", p.DefaultMaxLifetime}, {"allowed_lifetime_max", p.AllowedLifetimeMax}} {
		if l.v > 0 && time.Duration(l.v) < MinLifetime {
			return fmt.Errorf("retention.%s %s is under an hour: surely a unit slip, and every room's older messages would be deleted at the next purge; write the unit you mean, like 30d, 12w or 1y (0: none)", l.key, l.v)
		}
	}
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
		// A room may ask for up to 2^53-1 ms (some 285,000 years); a
		// Duration holds some 292 years, and a longer max_lifetime
		// wrapped to a negative one, which expired the whole room at
		// once: it is held at MaxRoomLifetime.
		d = time.Duration(min(*roomMax, MaxRoomLifetime)) * time.Millisecond
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

// MaxRoomLifetime is the longest max_lifetime (ms) MaxLifetime takes a
// room's own policy to ask for: the longest a time.Duration holds, in
// whole milliseconds.
const MaxRoomLifetime = int64(math.MaxInt64 / int64(time.Millisecond))

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

// Lifetime is the operator's retention duration: a number with a unit,
// ms, s, m, h, d, w or y ("30d"; a year is 365 days), or 0 for none.
// Synapse reads a bare number as milliseconds; here it is refused: an
// operator who wrote 30 meaning days (or 365 for a year) got 30 ms, and the
// next purge deleted every room's messages but its last.
type Lifetime time.Duration

// lifetimeUnits are the units a Lifetime is read in.
var lifetimeUnits = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour,
}

// UnmarshalText parses a Lifetime.
func (l *Lifetime) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" || s == "0" {
		*l = 0
		return nil
	}
	const want = "want a number with a unit: ms, s, m, h, d, w or y (like 30d or 720h; 0: none)"
	num, name := s, ""
	if strings.HasSuffix(s, "ms") {
		num, name = s[:len(s)-2], "ms"
	} else if _, ok := lifetimeUnits[s[len(s)-1:]]; ok {
		num, name = s[:len(s)-1], s[len(s)-1:]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if name == "" && err == nil {
		return fmt.Errorf("retention lifetime %q has no unit: %s. A bare number is not read as milliseconds, as Synapse reads it: 30 meant as days deleted nearly everything", string(b), want)
	}
	unit := lifetimeUnits[name]
	if name == "" || err != nil || n < 0 || n > int64(1<<62)/int64(unit) {
		return fmt.Errorf("retention lifetime %q: %s", string(b), want)
	}
	*l = Lifetime(time.Duration(n) * unit)
	return nil
}

// MarshalText writes a Lifetime as String does, which UnmarshalText reads.
func (l Lifetime) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// String writes a Lifetime in the longest of d, h, m, s and ms that
// divides it ("30d"; "0" for none), as UnmarshalText reads it. Not w or y:
// days are what retention periods are counted in, and 365d is plainer
// than 1y.
func (l Lifetime) String() string {
	d := time.Duration(l)
	if d <= 0 {
		return "0"
	}
	for _, name := range []string{"d", "h", "m", "s"} {
		if u := lifetimeUnits[name]; d%u == 0 {
			return strconv.FormatInt(int64(d/u), 10) + name
		}
	}
	// Milliseconds, rounded down below one (only ever set in code): the
	// store reads lifetimes in milliseconds.
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
