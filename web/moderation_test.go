package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/event"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

const (
	threadRoot = "$dvqsFzsmdPqXPc_BKTWkDBJ5RwNX5ODMV0_S_MfYPT8"
	threadR1   = "$RJdYlHjEoBW1egVt4TH4Do0kfaX3O6M15QCeqa2cxA0"
)

// addEvents ingests more events into the env's store, one batch per line,
// in the order given (arrival order matters for these tests).
func (e *env) addEvents(t *testing.T, lines ...string) {
	t.Helper()
	in := ingest.New(e.st, storetest.Logger(t), "")
	for _, l := range lines {
		p := writeRoomFile(t, l)
		if _, err := in.ImportFile(context.Background(), p, ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// addAtOnce is addEvents in one import, for many lines.
func (e *env) addAtOnce(t *testing.T, lines ...string) {
	t.Helper()
	in := ingest.New(e.st, storetest.Logger(t), "")
	if _, err := in.ImportFile(context.Background(), writeRoomFile(t, lines...), ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
		t.Fatal(err)
	}
}

func writeRoomFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "more.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func redactionLine(evID, sender string, ts int64, target, reason string) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.redaction","sender":%q,"origin_server_ts":%d,"redacts":%q,"content":{"reason":%q}}`,
		evID, sender, ts, target, reason)
}

func TestCachingCannotOutliveARedaction(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"soon gone"}`)))
	const path = "/room/!x:example.org/2026-01-01"
	first := e.get(t, path)
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "public, no-cache" {
		t.Fatalf("past day: ETag %q Cache-Control %q", etag, first.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidation = %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	e.addEvents(t, redactionLine("$r", "@a:example.org", 1767225602000, "$m", "spam"))
	req = httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag || strings.Contains(rec.Body.String(), "soon gone") {
		t.Errorf("after the redaction: %d, ETag %q (was %q)", rec.Code, rec.Header().Get("ETag"), etag)
	}
	for _, p := range []string{path + ".txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/api/v1/events/$m"} {
		if rec := e.get(t, p); rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") != "public, no-cache" {
			t.Errorf("%s: ETag %q Cache-Control %q", p, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
		}
	}
	// Today's page may be cached briefly, no longer.
	now := time.Now().UTC()
	e2 := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$today", now.UnixMilli(), `{"msgtype":"m.text","body":"today"}`)))
	if cc := e2.get(t, "/room/!x:example.org/"+now.Format("2006-01-02")).Header().Get("Cache-Control"); cc != "public, max-age=30" {
		t.Errorf("current day Cache-Control = %q", cc)
	}
}

func TestRedactionsList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m1", 1767225601000, `{"msgtype":"m.text","body":"one"}`),
			msgLine("$m2", 1767225602000, `{"msgtype":"m.text","body":"two"}`),
			redactionLine("$r1", "@a:example.org", 1767225603000, "$m1", "off topic"),
		))
		doc := e.page(t, "/room/!x:example.org/redactions", http.StatusOK)
		rows := doc.Find("table.redactions tbody tr")
		if rows.Length() != 1 {
			t.Fatalf("%d rows, want 1", rows.Length())
		}
		cells := rows.First().Find("td").Map(func(_ int, s *goquery.Selection) string { return strings.TrimSpace(s.Text()) })
		if !strings.Contains(cells[0], "$m1") || cells[2] != "@a:example.org" || cells[3] != "off topic" ||
			cells[4] != "2026-01-01 00:00:03 UTC" || cells[6] == "" {
			t.Errorf("row = %q", cells)
		}
		var out struct {
			Redactions []struct {
				EventID       string `json:"event_id"`
				RedactedBy    string `json:"redacted_by"`
				RedactedAt    string `json:"redacted_at"`
				AppliedAt     string `json:"applied_at"`
				PropagationMS int64  `json:"propagation_ms"`
			} `json:"redactions"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/redactions"), http.StatusOK, &out)
		if len(out.Redactions) != 1 || out.Redactions[0].EventID != "$m1" || out.Redactions[0].AppliedAt == "" || out.Redactions[0].PropagationMS <= 0 {
			t.Errorf("API = %+v", out)
		}
		e.page(t, "/room/!x:example.org/redactions?before=soon", http.StatusBadRequest)
	})
}

func TestThreads(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	day := e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
	root := msgByID(day, threadRoot)
	link, _ := root.Find(".thread a").Attr("href")
	if link != "/room/"+demoSlug+"/thread/"+threadRoot || !strings.Contains(root.Find(".thread").Text(), "3 replies") {
		t.Errorf("root thread summary %q links to %q", root.Find(".thread").Text(), link)
	}
	compact := msgByID(day, threadR1)
	if !compact.HasClass("compact") || compact.Find(".body").Length() != 0 || !strings.Contains(compact.Text(), "replied in a thread") {
		t.Errorf("thread reply in the main timeline is not compact: %q", compact.Text())
	}
	th := e.page(t, link, http.StatusOK)
	if n := th.Find("ol.thread-page > li.msg").Length(); n != 4 {
		t.Errorf("thread page shows %d messages, want the root and 3 replies", n)
	}
	full := msgByID(th, threadR1)
	if full.HasClass("compact") || !strings.Contains(full.Find(".body").Text(), excerptOf(fx[threadR1])) {
		t.Errorf("thread page reply = %q", full.Text())
	}
	// A thread reply's permalink shows it in its thread, highlighted.
	perma := e.page(t, "/room/"+demoSlug+"/event/"+threadR1, http.StatusOK)
	if perma.Find("ol.thread-page").Length() != 1 || !msgByID(perma, threadR1).HasClass("highlight") {
		t.Error("permalink of a thread reply does not show its thread highlighted")
	}
	e.page(t, "/room/"+demoSlug+"/thread/$nosuchroot", http.StatusNotFound)
}

// excerptOf is the start of an event's body, to find it on a page.
func excerptOf(ev *event.Event) string {
	b := event.StringField(ev.Content, "body")
	return b[:min(len(b), 20)]
}

func TestEditHistoryAndRevert(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$orig", 1767225601000, `{"msgtype":"m.text","body":"version one"}`),
		msgLine("$e1", 1767225602000, `{"msgtype":"m.text","body":"* version two","m.new_content":{"msgtype":"m.text","body":"version two"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`),
		msgLine("$e2", 1767225603000, `{"msgtype":"m.text","body":"* version three","m.new_content":{"msgtype":"m.text","body":"version three"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`),
		// Not the sender's: never a valid edit.
		`{"event_id":"$forged","room_id":"!x:example.org","type":"m.room.message","sender":"@mallory:example.org","origin_server_ts":1767225604000,"content":{"msgtype":"m.text","body":"* forged","m.new_content":{"msgtype":"m.text","body":"forged"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}}`,
	))
	body := func() string {
		return msgByID(e.page(t, "/room/!x:example.org/event/$orig", http.StatusOK), "$orig").Find(".body").Text()
	}
	if got := body(); !strings.Contains(got, "version three") || strings.Contains(got, "forged") {
		t.Errorf("shown = %q", got)
	}
	hist := e.page(t, "/room/!x:example.org/event/$orig/edits", http.StatusOK)
	versions := hist.Find("ol.versions li .body").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	if fmt.Sprint(versions) != "[version one version two version three]" {
		t.Errorf("history = %q", versions)
	}
	// Redacting the latest edit reverts the message to the one before.
	e.addEvents(t, redactionLine("$r1", "@a:example.org", 1767225605000, "$e2", ""))
	if got := body(); !strings.Contains(got, "version two") || strings.Contains(got, "version three") {
		t.Errorf("after redacting the latest edit: %q", got)
	}
	// Redacting the original erases the message and its history.
	e.addEvents(t, redactionLine("$r2", "@a:example.org", 1767225606000, "$orig", ""))
	e.page(t, "/room/!x:example.org/event/$orig/edits", http.StatusGone)
	for _, p := range []string{"/room/!x:example.org/2026-01-01", "/api/v1/events/$orig", "/room/!x:example.org/2026-01-01.txt"} {
		if strings.Contains(e.get(t, p).Body.String(), "version") {
			t.Errorf("%s still shows a version of the redacted message", p)
		}
	}
}

// An edit that arrives before its original waits for it; a redacted
// reaction stops counting.
func TestOutOfOrderEditAndRedactedReaction(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t))
	e.addEvents(t,
		msgLine("$edit", 1767225602000, `{"msgtype":"m.text","body":"* fixed","m.new_content":{"msgtype":"m.text","body":"fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$late"}}`),
		msgLine("$late", 1767225601000, `{"msgtype":"m.text","body":"typo"}`),
		`{"event_id":"$like","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":1767225603000,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$late","key":"👍"}}}`,
	)
	li := msgByID(e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK), "$late")
	if !strings.Contains(li.Find(".body").Text(), "fixed") || li.Find(".reactions li").Length() != 1 {
		t.Errorf("before: body %q, %d reactions", li.Find(".body").Text(), li.Find(".reactions li").Length())
	}
	e.addEvents(t, redactionLine("$unlike", "@a:example.org", 1767225604000, "$like", ""))
	li = msgByID(e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK), "$late")
	if li.Find(".reactions li").Length() != 0 {
		t.Error("a redacted reaction is still counted")
	}
}

// A reply quoting a message of another room (or a thread reply claiming a
// root elsewhere) must not bring that room's text into this one.
func TestNoTextCrossesRooms(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"root here"}`)))
	other := func(evID string, ts int64, content string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!y:example.org","type":"m.room.message","sender":"@z:example.org","origin_server_ts":%d,"content":%s}`, evID, ts, content)
	}
	e.addEvents(t, strings.Join([]string{
		`{"event_id":"$yc","room_id":"!y:example.org","type":"m.room.create","sender":"@z:example.org","origin_server_ts":1767225600000,"state_key":"","content":{}}`,
		`{"event_id":"$yhv","room_id":"!y:example.org","type":"m.room.history_visibility","sender":"@z:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
		other("$elsewhere", 1767225602000, `{"msgtype":"m.text","body":"words from room y"}`),
		other("$intruder", 1767225603000, `{"msgtype":"m.text","body":"thread reply from room y","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
	}, "\n"))
	e.addEvents(t, msgLine("$reply", 1767225604000, `{"msgtype":"m.text","body":"answer","m.relates_to":{"m.in_reply_to":{"event_id":"$elsewhere"}}}`))
	for _, p := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/thread/$root", "/room/!x:example.org/event/$reply"} {
		if body := e.get(t, p).Body.String(); strings.Contains(body, "room y") {
			t.Errorf("%s shows text from another room", p)
		}
	}
}

// TestRedactionsListLeavesExpiredMessagesOut: a message the room's
// retention has expired is shown nowhere (its permalink and API form
// answer 410, search never finds it), and the redactions list does not
// name it either (its ID, sender, time and the redaction's reason) while
// it waits for the purge.
func TestRedactionsListLeavesExpiredMessagesOut(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			const lifetime = 1500
			now := time.Now().UnixMilli()
			e := newEnv(t, st, writeRoom(t,
				retentionLine(now-100, lifetime),
				zLine("$zj", "m.room.member", now-1767225600000-90, zUser, sk(zUser), `{"membership":"join"}`),
				`{"event_id":"$old","room_id":"!x:example.org","type":"m.room.message","sender":"@z:example.org","origin_server_ts":`+fmt.Sprint(now-50)+`,"content":{"msgtype":"m.text","body":"soon expired"}}`,
				redactionLine("$red", aUser, now-40, "$old", "expiredreason"),
				// State does not expire: its redaction stays listed.
				zLine("$topic", "m.room.topic", now-1767225600000-30, aUser, sk(""), `{"topic":"kept"}`),
				redactionLine("$red2", aUser, now-20, "$topic", "statereason"),
			))
			time.Sleep(time.Until(time.UnixMilli(now - 50 + lifetime + 200)))
			if rec := e.get(t, "/api/v1/events/$old"); rec.Code != http.StatusGone {
				t.Fatalf("precondition: the expired message's API form = %d, want 410", rec.Code)
			}
			rec := e.get(t, "/api/v1/rooms/!x:example.org/redactions")
			t.Logf("redactions API: %d %s", rec.Code, rec.Body)
			if !strings.Contains(rec.Body.String(), "statereason") {
				t.Errorf("the redactions API leaves out the redaction of a state event: %s", rec.Body)
			}
			if strings.Contains(rec.Body.String(), "$old") {
				t.Errorf("the redactions API names the expired message $old (sender, time, reason): %s", rec.Body)
			}
			if page := e.get(t, "/room/!x:example.org/redactions").Body.String(); strings.Contains(page, "$old") {
				t.Errorf("the redactions page names the expired message $old")
			}
		})
	}
}
