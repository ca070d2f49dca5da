package retention_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/retention"
)

func ptr(v int64) *int64 { return &v }

func TestRetentionPolicyResolution(t *testing.T) {
	day := 24 * time.Hour
	lt := func(d time.Duration) retention.Lifetime { return retention.Lifetime(d) }
	for _, c := range []struct {
		name string
		cfg  retention.Policy
		room *int64
		want time.Duration // 0: nothing expires
	}{
		{"disabled", retention.Policy{Enabled: false, DefaultMaxLifetime: lt(day)}, ptr(1000), 0},
		{"no policy anywhere", retention.Policy{Enabled: true}, nil, 0},
		{"room policy", retention.Policy{Enabled: true}, ptr(int64(7 * day / time.Millisecond)), 7 * day},
		{"default only", retention.Policy{Enabled: true, DefaultMaxLifetime: lt(30 * day)}, nil, 30 * day},
		{"room beats default", retention.Policy{Enabled: true, DefaultMaxLifetime: lt(30 * day)}, ptr(int64(day / time.Millisecond)), day},
		{"clamped up to the minimum", retention.Policy{Enabled: true, AllowedLifetimeMin: lt(day)}, ptr(60000), day},
		{"clamped down to the maximum", retention.Policy{Enabled: true, AllowedLifetimeMax: lt(365 * day)}, ptr(int64(1000 * day / time.Millisecond)), 365 * day},
		{"default clamped too", retention.Policy{Enabled: true, DefaultMaxLifetime: lt(day), AllowedLifetimeMin: lt(2 * day)}, nil, 2 * day},
		{"zero lifetime", retention.Policy{Enabled: true}, ptr(0), 0},
	} {
		got, ok := c.cfg.MaxLifetime(c.room)
		if (c.want == 0 && ok && got != 0) || (c.want != 0 && (!ok || got != c.want)) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, ok, c.want)
		}
	}
	for in, want := range map[string]*int64{
		`{"max_lifetime":86400000}`: ptr(86400000), `{"min_lifetime":5}`: nil, `{"max_lifetime":-1}`: nil,
		`{"max_lifetime":"1d"}`: nil, `{"max_lifetime":1.5}`: nil, `{"max_lifetime":9007199254740992}`: nil, `{}`: nil,
	} {
		got := retention.RoomMaxLifetime(json.RawMessage(in))
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("RoomMaxLifetime(%s) = %v", in, got)
		}
	}
	for in, want := range map[string]time.Duration{"30d": 30 * day, "1y": 365 * day, "12h": 12 * time.Hour, "86400000ms": day, "0": 0, "2w": 14 * day, "90s": 90 * time.Second, "45m": 45 * time.Minute} {
		var l retention.Lifetime
		if err := l.UnmarshalText([]byte(in)); err != nil || time.Duration(l) != want {
			t.Errorf("Lifetime(%q) = %v, %v", in, time.Duration(l), err)
		}
	}
	for _, in := range []string{"1x", "-1d", "d", "1.5d", "ms", "30 d"} {
		var l retention.Lifetime
		if err := l.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Lifetime(%q) accepted", in)
		}
	}
}

// A lifetime written as a bare number is refused, saying to write a unit.
// Before, it was read as milliseconds (Synapse's reading): an operator who
// wrote default_max_lifetime: 30 meaning days, or allowed_lifetime_max:
// 365 meaning a year, got 30 ms or 365 ms, and `archiver retention
// --dry-run` said 150,156 of 150,158 events would be deleted. Rooms'
// m.room.retention max_lifetime stays in milliseconds, as MSC1763 has it.
func TestLifetimeWithoutUnitRefused(t *testing.T) {
	for _, in := range []string{"30", "365", "2592000000", " 30 ", "-5"} {
		var l retention.Lifetime
		err := l.UnmarshalText([]byte(in))
		if err == nil || !strings.Contains(err.Error(), "no unit") || !strings.Contains(err.Error(), "like 30d or 720h") {
			t.Errorf("Lifetime(%q) = %v, %v; want it refused, saying to write a unit", in, time.Duration(l), err)
		}
	}
	if n := retention.RoomMaxLifetime(json.RawMessage(`{"max_lifetime":2592000000}`)); n == nil || *n != 2592000000 {
		t.Errorf("a room's max_lifetime in milliseconds reads as %v, want 2592000000", n)
	}
}

// A lifetime written back (config show, archiver init's file) reads back
// the same: in the unit that divides it, never as a bare number, which
// UnmarshalText refuses.
func TestLifetimeWritesItsUnit(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 30 * 24 * time.Hour: "30d", 365 * 24 * time.Hour: "365d", 36 * time.Hour: "36h",
		90 * time.Minute: "90m", 61 * time.Second: "61s", 1500 * time.Millisecond: "1500ms",
	} {
		b, err := retention.Lifetime(d).MarshalText()
		if err != nil || string(b) != want {
			t.Errorf("Lifetime(%v) writes %q, %v; want %q", d, b, err, want)
		}
	}
}

// default_max_lifetime and allowed_lifetime_max under an hour are refused
// as unit slips: either applies to every room without a longer policy of
// its own, so the next purge would delete nearly the whole archive. A
// short allowed_lifetime_min only ever keeps messages longer, and a room's
// own max_lifetime is the room's to set: neither is bound.
func TestLifetimeUnderAnHourRefused(t *testing.T) {
	lt := func(d time.Duration) retention.Lifetime { return retention.Lifetime(d) }
	base := retention.Policy{Enabled: true, PurgeInterval: time.Hour}
	for key, p := range map[string]func(*retention.Policy){
		"retention.default_max_lifetime": func(p *retention.Policy) { p.DefaultMaxLifetime = lt(30 * time.Second) },
		"retention.allowed_lifetime_max": func(p *retention.Policy) { p.AllowedLifetimeMax = lt(59 * time.Minute) },
	} {
		bad := base
		p(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "unit slip") {
			t.Errorf("%s under an hour: Validate = %v, want it refused naming the key", key, err)
		}
	}
	ok := base
	ok.DefaultMaxLifetime, ok.AllowedLifetimeMax, ok.AllowedLifetimeMin = lt(time.Hour), lt(365*24*time.Hour), lt(time.Second)
	if err := ok.Validate(); err != nil {
		t.Errorf("an hour, a year and a one-second minimum: %v", err)
	}
	if d, _ := ok.MaxLifetime(ptr(1000)); d != time.Second {
		t.Errorf("a room's own one-second max_lifetime resolves to %v, want 1s", d)
	}
}

// ExpiredBefore is the cutoff every read screens with: now minus the
// effective lifetime, and 0 (nothing expires) without one.
func TestExpiredBefore(t *testing.T) {
	now := time.UnixMilli(10 * 86400000)
	p := retention.Policy{Enabled: true, AllowedLifetimeMin: retention.Lifetime(time.Hour)}
	for _, c := range []struct {
		name string
		p    retention.Policy
		room *int64
		want int64
	}{
		{"none", p, nil, 0},
		{"room's own", p, ptr(86400000), 9 * 86400000},
		{"clamped", p, ptr(1), now.UnixMilli() - 3600000},
		{"disabled", retention.Policy{}, ptr(1), 0},
	} {
		if got := c.p.ExpiredBefore(now, c.room); got != c.want {
			t.Errorf("%s: ExpiredBefore = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		p    retention.Policy
		ok   bool
	}{
		{"defaults", retention.Policy{Enabled: true, PurgeInterval: time.Hour}, true},
		{"disabled needs no interval", retention.Policy{}, true},
		{"min above max", retention.Policy{Enabled: true, PurgeInterval: time.Hour, AllowedLifetimeMin: retention.Lifetime(2 * time.Hour), AllowedLifetimeMax: retention.Lifetime(time.Hour)}, false},
		{"no interval", retention.Policy{Enabled: true}, false},
	} {
		if err := c.p.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate = %v", c.name, err)
		}
	}
}

// Lifetimes come from the operator's file and room state from any room
// member: neither may panic, and what parses must write back the same.
func FuzzLifetime(f *testing.F) {
	for _, s := range []string{"30d", "1y", "0", "", "86400000", "86400000ms", "1x", "-1d", "d", "9223372036854775807y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l retention.Lifetime
		if l.UnmarshalText([]byte(s)) != nil {
			return
		}
		if l < 0 {
			t.Fatalf("%q parsed to a negative lifetime %d", s, l)
		}
		var back retention.Lifetime
		if err := back.UnmarshalText([]byte(l.String())); err != nil || time.Duration(back).Milliseconds() != time.Duration(l).Milliseconds() {
			t.Fatalf("%q: %s reads back as %v, %v", s, l, back, err)
		}
	})
}

func FuzzRoomMaxLifetime(f *testing.F) {
	for _, s := range []string{`{"max_lifetime":86400000}`, `{"max_lifetime":-1}`, `{"max_lifetime":1e3}`, `[]`, `{"max_lifetime":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := retention.RoomMaxLifetime(json.RawMessage(s)); n != nil && (*n < 0 || *n > 1<<53-1) {
			t.Fatalf("%q: max_lifetime %d outside MSC1763's range", s, *n)
		}
	})
}

// A room may ask for a max_lifetime of up to 2^53-1 ms; past what a
// time.Duration holds (some 292 years) it wrapped to a negative lifetime,
// and the whole room expired at once. It is held at retention.MaxRoomLifetime.
func TestRoomLifetimePastADurationKeepsItsMessages(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for _, ms := range []int64{retention.MaxRoomLifetime, retention.MaxRoomLifetime + 1, 1<<53 - 1} {
		d, ok := retention.Policy{Enabled: true}.MaxLifetime(&ms)
		if !ok || d != time.Duration(retention.MaxRoomLifetime)*time.Millisecond {
			t.Errorf("max_lifetime %d ms: %v, %v; want %v", ms, d, ok, time.Duration(retention.MaxRoomLifetime)*time.Millisecond)
		}
		if cut := (retention.Policy{Enabled: true}).ExpiredBefore(now, &ms); cut > now.AddDate(-290, 0, 0).UnixMilli() {
			t.Errorf("max_lifetime %d ms: messages before %s have expired; want none of the last 290 years", ms, time.UnixMilli(cut).UTC())
		}
	}
}
