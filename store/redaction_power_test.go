package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The redacter's power is now judged at max(redaction ts, target ts)
// (9659635). A spammer's server stamps its spam in 2100; a moderator
// deletes it at 2000 and is demoted at 5000 (a staff change). An archive
// that stores the demotion before the redaction (a backfill reads
// newest first; an import; a redaction delayed by federation) judges the
// moderator's power as of 2100, after the demotion, and rejects the
// redaction: the spam stays in the archive. Judged when the redaction was
// sent (2000) it was valid, and the target's forged time is the spammer's
// to choose, so any future stamp makes every redaction of it hang on the
// power levels of the far future.
func TestFutureStampedSpamKeepsAModeratorsRedaction(t *testing.T) {
	year2100 := int64(4102444800000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$spam", "m.room.message", "@spammer:evil.org", year2100, nil, `{"msgtype":"m.text","body":"buy now"}`),
			mk(t, "$demote", "m.room.power_levels", "@alice:example.org", 5000, sk(""), `{"users":{"@alice:example.org":100},"redact":50}`),
		)...)
		put(t, st, redactionOf(t, "$red", "@mod:other.org", 2000, "$spam", `{"redacts":"$spam","reason":"spam"}`))
		if e, err := st.EventByID(ctx, "$spam"); err != nil || !e.Redacted {
			t.Errorf("a moderator's redaction, sent while a moderator, of spam stamped in 2100 was rejected: the spam stays (%v)", err)
		}
		_ = store.Event{}
	})
}
