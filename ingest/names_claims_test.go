package ingest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A member's messages are named by the member events they sent
// themselves: Alice speaks and leaves, and Zorblax invites her back with a
// name of his choosing, his homeserver stamping the invite before her
// message. Her message keeps the name of her own join, through a
// transaction and an import, and when Zorblax redacts his invite
// (helper-95: the invite renamed it "Alice (scammer)" on every page, the
// API and the text log).
func TestOnlyOnesOwnMemberEventsNameOnesMessages(t *testing.T) {
	lines := append(header("world_readable"),
		ev("$zj", "m.room.member", "@z:example.org", 4, sk("@z:example.org"), `{"membership":"join","displayname":"Zorblax"}`),
		msg("$a1", 1000, "I approve the release"),
		ev("$al", "m.room.member", "@alice:example.org", 3000, sk("@alice:example.org"), `{"membership":"leave"}`),
		ev("$zi", "m.room.member", "@z:example.org", 500, sk("@alice:example.org"), `{"membership":"invite","displayname":"Alice (scammer)"}`),
	)
	named := func(t *testing.T, st *store.Store, step string) {
		t.Helper()
		e, err := st.EventByID(context.Background(), "$a1")
		if err != nil {
			t.Fatal(err)
		}
		if e.SenderName != "Alice" {
			t.Errorf("%s: Alice's message is named %q; want %q (her join's name)", step, e.SenderName, "Alice")
		}
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		t.Run("transaction", func(t *testing.T) {
			st := storetest.Open(t, st.Dialect())
			srv, _ := newAppService(t, st)
			if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/1", hsToken, txnBody(lines...)); code != 200 {
				t.Fatalf("%d %v", code, out)
			}
			named(t, st, "stored")
			redaction := ev("$rzi", "m.room.redaction", "@z:example.org", 5000, nil, `{"redacts":"$zi"}`)
			if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/2", hsToken, txnBody(redaction)); code != 200 {
				t.Fatalf("%d %v", code, out)
			}
			named(t, st, "Zorblax redacted his invite")
		})
		t.Run("import", func(t *testing.T) {
			st := storetest.Open(t, st.Dialect())
			if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), writeLines(t, lines), ingest.ImportOptions{}); err != nil {
				t.Fatal(fmt.Errorf("import: %w", err))
			}
			named(t, st, "imported")
		})
	})
}
