package ingest_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// logBuffer collects a logger's output for a test to read; the appservice
// writes to it from its own goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func capture() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// hostile are events any room member can send: U+0000 in a display name,
// a message, a reaction key, a topic and a redaction reason. All valid JSON
// and valid Matrix.
func hostile() []string {
	return []string{
		ev("$eve", "m.room.member", "@eve:example.org", 20, sk("@eve:example.org"), `{"membership":"join","displayname":"Ev\u0000e"}`),
		ev("$said", "m.room.message", "@eve:example.org", 21, nil, `{"msgtype":"m.text","body":"nul \u0000 inside"}`),
		ev("$react", "m.reaction", "@eve:example.org", 22, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$said","key":"\u0000"}}`),
		ev("$topic", "m.room.topic", "@eve:example.org", 23, sk(""), `{"topic":"t\u0000"}`),
		msg("$gone", 24, "to be redacted"),
		ev("$red", "m.room.redaction", "@alice:example.org", 25, nil, `{"redacts":"$gone","reason":"r\u0000"}`),
		msg("$normal", 30, "normal"),
	}
}

var hostileIDs = []string{"$eve", "$gone", "$normal", "$react", "$red", "$said", "$topic"}

// notUTF8 is a message whose body holds a byte that is not UTF-8.
func notUTF8(evID string, ts int64) string {
	return strings.Replace(msg(evID, ts, "hello"), "hello", "hel\xfflo", 1)
}

// TestTransactionWithHostileStrings: a transaction carrying U+0000 in the
// strings the store writes, and an event that is not UTF-8, is answered
// 200 on both databases; the NULs are stored as U+FFFD, the non-UTF-8
// event is left out as malformed and logged.
func TestTransactionWithHostileStrings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		log, logs := capture()
		rec := &recorder{}
		srv := newAppServiceWith(t, ingest.NewAppService(ingest.New(st, log, "@archive:example.org"), hsToken, rec, log))
		body := txnBody(append(append(header("world_readable"), hostile()...), notUTF8("$bad", 26))...)
		if code, out := putTxn(t, srv, "/_matrix/app/v1/transactions/1", hsToken, body); code != 200 {
			t.Fatalf("= %d %v; logs:\n%s", code, out, logs)
		}
		if got := storedIDs(t, st, append(hostileIDs, "$bad")...); !slices.Equal(got, hostileIDs) {
			t.Errorf("stored %v, want %v", got, hostileIDs)
		}
		said, err := st.EventByID(context.Background(), "$said")
		if err != nil || said.SenderName != "Ev\uFFFDe" {
			t.Errorf("sender name = %q, %v", said.SenderName, err)
		}
		reds, err := st.RedactionsOf(context.Background(), []id.EventID{"$gone"})
		if r := reds["$gone"]; err != nil || r.Reason != "r\uFFFD" || r.AppliedAt.IsZero() {
			t.Errorf("redaction = %+v, %v", r, err)
		}
		if l := logs.String(); !strings.Contains(l, "skipping malformed event") || !strings.Contains(l, "not valid UTF-8") {
			t.Errorf("the non-UTF-8 event was not logged as malformed:\n%s", l)
		}
	})
}

// TestImportNamesTheLineOfAnInvalidEvent: a line that is not UTF-8 is
// rejected and named; the rest of its batch is imported.
func TestImportNamesTheLineOfAnInvalidEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		lines := append(header("world_readable"), msg("$m1", 10, "one"), notUTF8("$bad", 11), msg("$m2", 12, "two"))
		lines = append(lines, hostile()...)
		rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), writeLines(t, lines), ingest.ImportOptions{})
		if err != nil {
			t.Fatalf("ImportFile: %v", err)
		}
		if len(rep.Rejected) != 1 || rep.Rejected[0].Line != 5 || !strings.Contains(rep.Rejected[0].Error(), "UTF-8") {
			t.Errorf("rejected = %v, want line 5, not UTF-8", rep.Rejected)
		}
		want := append([]string{"$m1", "$m2"}, hostileIDs...)
		slices.Sort(want)
		if got := storedIDs(t, st, append(want, "$bad")...); !slices.Equal(got, want) {
			t.Errorf("stored %v, want %v", got, want)
		}
	})
}
