package retention_test

import (
	"encoding/json"
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
	for in, want := range map[string]time.Duration{"30d": 30 * day, "1y": 365 * day, "12h": 12 * time.Hour, "86400000": day, "0": 0, "2w": 14 * day} {
		var l retention.Lifetime
		if err := l.UnmarshalText([]byte(in)); err != nil || time.Duration(l) != want {
			t.Errorf("Lifetime(%q) = %v, %v", in, time.Duration(l), err)
		}
	}
	for _, in := range []string{"1x", "-1d", "d", "1.5d"} {
		var l retention.Lifetime
		if err := l.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Lifetime(%q) accepted", in)
		}
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
	for _, s := range []string{"30d", "1y", "0", "", "86400000", "1x", "-1d", "d", "9223372036854775807y"} {
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
