package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

const bobLine = `{"event_id":"$bob","room_id":"!x:example.org","type":"m.room.message","sender":"@b:example.org","origin_server_ts":1767225603000,"content":{"msgtype":"m.text","body":"bob's own words"}}`

// Expired messages are gone from pages, logs and the API as soon as they
// expire; their permalinks answer 410, before and after the purge.
func TestExpiredMessagesAreGoneEverywhere(t *testing.T) {
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true}})
	e := newEnv(t, st, writeRoom(t,
		msgLine("$old", 1767225601000, `{"msgtype":"m.text","body":"words that expire"}`),
		retentionLine(1767225602000, 2592000000),
	))
	for _, path := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"} {
		rec := e.get(t, path)
		if strings.Contains(rec.Body.String(), "words that expire") {
			t.Errorf("%s shows an expired message (status %d)", path, rec.Code)
		}
	}
	rec := e.get(t, "/room/!x:example.org/event/$old")
	if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), "retention policy") {
		t.Errorf("permalink of an expired message = %d: %.300s", rec.Code, rec.Body.String())
	}
	if _, err := st.PurgeExpired(context.Background(), false, nil); err != nil {
		t.Fatal(err)
	}
	rec = e.get(t, "/event/$old")
	if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), "expired") {
		t.Errorf("permalink after the purge = %d: %.300s", rec.Code, rec.Body.String())
	}
	if rec := e.get(t, "/api/v1/events/$old"); rec.Code != http.StatusGone {
		t.Errorf("API event after the purge = %d", rec.Code)
	}
}

// An opted-out sender's messages read "hidden at the sender's request" on
// every route; a takedown shows the operator's reason.
func TestOptOutAndTakedownAreShown(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newEnv(t, st, writeRoom(t, bobLine, msgLine("$ann", 1767225604000, `{"msgtype":"m.text","body":"ann's words"}`)))
	ctx := context.Background()
	if _, err := st.OptOut(ctx, "@b:example.org", "dm"); err != nil {
		t.Fatal(err)
	}
	if err := st.Takedown(ctx, "$ann", "posted a phone number"); err != nil {
		t.Fatal(err)
	}
	page := e.get(t, "/room/!x:example.org/2026-01-01").Body.String()
	for path, body := range map[string]string{
		"day":       page,
		"log":       e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String(),
		"api day":   e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-01").Body.String(),
		"api event": e.get(t, "/api/v1/events/$bob").Body.String(),
		"permalink": e.get(t, "/room/!x:example.org/event/$bob").Body.String(),
	} {
		if strings.Contains(body, "bob's own words") || strings.Contains(body, "ann's words") {
			t.Errorf("%s shows withdrawn text", path)
		}
		if !strings.Contains(strings.ToLower(body), "sender's request") && !strings.Contains(strings.ToLower(body), "sender&#39;s request") {
			t.Errorf("%s does not say the message is hidden at the sender's request:\n%.1500s", path, body)
		}
	}
	if !strings.Contains(page, "Removed by the archive") || !strings.Contains(page, "posted a phone number") {
		t.Errorf("the takedown is not shown with its reason:\n%.3000s", page)
	}
}

// A thread reply's permalink outlives its root: once the root has expired
// the reply is shown on its day instead of in the thread, never a 404.
func TestThreadReplyPermalinkOutlivesItsRoot(t *testing.T) {
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true}})
	recent := time.Now().Add(-time.Hour).UnixMilli()
	e := newEnv(t, st, writeRoom(t,
		msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"an old question"}`),
		retentionLine(1767225602000, 2592000000),
		msgLine("$answer", recent, `{"msgtype":"m.text","body":"a late answer","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
	))
	rec := e.get(t, "/room/!x:example.org/event/$answer")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "a late answer") || strings.Contains(rec.Body.String(), "an old question") {
		t.Errorf("reply permalink with an expired root = %d: %.500s", rec.Code, rec.Body.String())
	}
	if rec := e.get(t, "/room/!x:example.org/thread/$root"); rec.Code != http.StatusGone {
		t.Errorf("thread of an expired root = %d, want 410", rec.Code)
	}
	if rec := e.get(t, "/room/!x:example.org/thread/notanid"); rec.Code != http.StatusBadRequest {
		t.Errorf("thread of a malformed ID = %d, want 400", rec.Code)
	}
}
