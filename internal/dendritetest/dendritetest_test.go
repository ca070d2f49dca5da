package dendritetest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/dendritetest"
)

// attempt is one PUT /_matrix/app/v1/transactions/{txnId} Dendrite made.
type attempt struct {
	TxnID  string
	Auth   string
	Events []event
	At     time.Time
	Status int // what the fake appservice answered
}

type event struct {
	EventID  string          `json:"event_id"`
	Type     string          `json:"type"`
	RoomID   string          `json:"room_id"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key"`
	Content  map[string]any  `json:"content"`
	Unsigned json.RawMessage `json:"unsigned"`
	Redacts  string          `json:"redacts"`
}

// fakeAS records the transactions Dendrite pushes and answers 200, or 500
// while told to fail.
type fakeAS struct {
	srv *httptest.Server

	mu       sync.Mutex
	attempts []attempt
	other    []string // requests to any other path
	failNext int      // answer 500 to this many more transactions
	failAll  bool     // answer 500 to every transaction
}

func newFakeAS(t *testing.T) *fakeAS {
	as := &fakeAS{}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /_matrix/app/v1/transactions/{txnId}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Events []event `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("fake appservice: bad transaction body: %v", err)
		}
		as.mu.Lock()
		status := http.StatusOK
		if as.failAll || as.failNext > 0 {
			status = http.StatusInternalServerError
			if as.failNext > 0 {
				as.failNext--
			}
		}
		as.attempts = append(as.attempts, attempt{
			TxnID:  r.PathValue("txnId"),
			Auth:   r.Header.Get("Authorization"),
			Events: body.Events,
			At:     time.Now(),
			Status: status,
		})
		as.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			w.Write([]byte("{}"))
		} else {
			w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"told to fail"}`))
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		as.mu.Lock()
		as.other = append(as.other, r.Method+" "+r.URL.String())
		as.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"unknown endpoint"}`))
	})
	as.srv = httptest.NewServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func (as *fakeAS) snapshot() []attempt {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]attempt(nil), as.attempts...)
}

func (as *fakeAS) set(failNext int, failAll bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.failNext, as.failAll = failNext, failAll
}

// waitAttempt waits until an attempt satisfying ok has been recorded and
// returns the first one.
func (as *fakeAS) waitAttempt(t *testing.T, what string, timeout time.Duration, ok func(attempt) bool) attempt {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, a := range as.snapshot() {
			if ok(a) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transaction with %s within %v; got %s", what, timeout, describe(as.snapshot()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delivered waits for a transaction answered 200 that carries eventID.
func (as *fakeAS) delivered(t *testing.T, eventID string) attempt {
	t.Helper()
	return as.waitAttempt(t, "event "+eventID, 30*time.Second, func(a attempt) bool {
		return a.Status == http.StatusOK && a.has(eventID)
	})
}

func (a attempt) has(eventID string) bool {
	for _, ev := range a.Events {
		if ev.EventID == eventID {
			return true
		}
	}
	return false
}

func describe(as []attempt) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString("\n  " + a.TxnID + " →" + http.StatusText(a.Status) + ":")
		for _, ev := range a.Events {
			b.WriteString(" " + ev.Type)
			if ev.StateKey != nil {
				b.WriteString("[" + *ev.StateKey + "]")
			}
			b.WriteString("(" + ev.EventID + ")")
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

func decode(t *testing.T, raw json.RawMessage) event {
	t.Helper()
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return ev
}

// setup starts a Dendrite with one appservice (id "test", bot
// @archivebot:hs.test, empty namespaces) pointing at a fake appservice,
// and a world-readable public room #town:hs.test made by alice, with the
// bot invited and joined.
type fixture struct {
	as     *fakeAS
	reg    dendritetest.Registration
	s      *dendritetest.Server
	alice  *dendritetest.User
	bot    *dendritetest.User
	botID  string
	roomID string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{as: newFakeAS(t)}
	f.reg = dendritetest.NewRegistration("test", f.as.srv.URL, "archivebot")
	f.s = dendritetest.Start(t, dendritetest.Options{Registrations: []string{f.reg.Write(t)}})
	f.botID = f.reg.SenderID(f.s.ServerName)
	f.bot = f.s.AppserviceUser(f.reg.ASToken, f.botID)
	f.alice = f.s.Register(t, "alice")
	f.roomID = f.alice.CreateRoom(t, map[string]any{
		"preset":          "public_chat",
		"room_alias_name": "town",
		"name":            "Town square",
		"initial_state": []any{map[string]any{
			"type": "m.room.history_visibility", "state_key": "",
			"content": map[string]any{"history_visibility": "world_readable"},
		}},
	})
	return f
}

func (f *fixture) inviteAndJoinBot(t *testing.T) {
	t.Helper()
	f.alice.Invite(t, f.roomID, f.botID)
	invite := f.as.waitAttempt(t, "the bot's invite", 30*time.Second, func(a attempt) bool {
		for _, ev := range a.Events {
			if ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == f.botID && ev.Content["membership"] == "invite" {
				return true
			}
		}
		return false
	})
	if want := "Bearer " + f.reg.HSToken; invite.Auth != want {
		t.Errorf("transaction Authorization = %q, want %q", invite.Auth, want)
	}
	if got := f.bot.Join(t, "#town:"+f.s.ServerName); got != f.roomID {
		t.Fatalf("bot joined %s, want %s", got, f.roomID)
	}
	f.as.waitAttempt(t, "the bot's join", 30*time.Second, func(a attempt) bool {
		for _, ev := range a.Events {
			if ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == f.botID && ev.Content["membership"] == "join" {
				return true
			}
		}
		return false
	})
}

func TestEndToEnd(t *testing.T) {
	f := setup(t)
	s, alice := f.s, f.alice
	if !strings.HasPrefix(f.roomID, "!") || !strings.HasSuffix(alice.ID, ":hs.test") || alice.ID != "@alice:hs.test" {
		t.Fatalf("room %q, alice %q", f.roomID, alice.ID)
	}
	bob := s.Register(t, "bob")
	f.inviteAndJoinBot(t)
	if got := bob.Join(t, f.roomID); got != f.roomID {
		t.Fatalf("bob joined %s", got)
	}

	msg := alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "hello"})
	a := f.as.delivered(t, msg)
	for _, ev := range a.Events {
		if ev.EventID == msg {
			if ev.RoomID != f.roomID || ev.Sender != alice.ID || ev.Content["body"] != "hello" {
				t.Errorf("pushed event %+v", ev)
			}
		}
	}

	// /sync as the bot through the appservice identity assertion.
	var sync struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				Timeline struct {
					Events []event `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	if _, err := f.bot.Do("GET", "/_matrix/client/v3/sync?timeout=0", nil, &sync); err != nil {
		t.Fatalf("/sync as the bot: %v", err)
	}
	if _, ok := sync.Rooms.Join[f.roomID]; !ok || sync.NextBatch == "" {
		t.Errorf("/sync as the bot: room %s not joined (next_batch %q)", f.roomID, sync.NextBatch)
	}
	// With or without ?user_id=, the as_token is the bot.
	for _, u := range []*dendritetest.User{f.bot, s.AppserviceUser(f.reg.ASToken, "")} {
		var who struct {
			UserID string `json:"user_id"`
		}
		if _, err := u.Do("GET", "/_matrix/client/v3/account/whoami", nil, &who); err != nil || who.UserID != f.botID {
			t.Errorf("whoami with the as_token (user_id %q): %q, %v", u.ID, who.UserID, err)
		}
	}
	// A user outside the appservice's namespaces: 403.
	_, err := s.AppserviceUser(f.reg.ASToken, alice.ID).Do("GET", "/_matrix/client/v3/account/whoami", nil, nil)
	var merr *dendritetest.Error
	if !errors.As(err, &merr) || merr.Status != http.StatusForbidden || merr.Errcode != "M_FORBIDDEN" {
		t.Errorf("whoami with the as_token as alice: %v", err)
	}

	// Redaction: not pushed; visible through /messages and /sync.
	redaction := alice.Redact(t, f.roomID, msg, "oops")
	after := alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "after"})
	f.as.delivered(t, after)
	for _, a := range f.as.snapshot() {
		if a.has(redaction) {
			t.Errorf("finding changed: Dendrite pushed the redaction %s (txn %s)", redaction, a.TxnID)
		}
	}
	filter := url.QueryEscape(`{"room":{"timeline":{"types":["m.room.redaction"]}}}`)
	var since struct {
		Rooms struct {
			Join map[string]struct {
				Timeline struct {
					Events []event `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	if _, err := f.bot.Do("GET", "/_matrix/client/v3/sync?timeout=0&filter="+filter+"&since="+sync.NextBatch, nil, &since); err != nil {
		t.Fatalf("/sync as the bot: %v", err)
	}
	if evs := since.Rooms.Join[f.roomID].Timeline.Events; len(evs) != 1 || evs[0].EventID != redaction || evs[0].Redacts != msg {
		t.Errorf("/sync as the bot since before the redaction, filtered to redactions: %+v", evs)
	}
	for _, u := range []*dendritetest.User{alice, f.bot} {
		evs := u.Messages(t, f.roomID)
		if first := decode(t, evs[0]); first.Type != "m.room.create" {
			t.Errorf("as %s: first event is %s, want m.room.create", u.ID, first.Type)
		}
		var sawRedacted, sawRedaction bool
		for _, raw := range evs {
			ev := decode(t, raw)
			switch ev.EventID {
			case msg:
				sawRedacted = true
				var unsigned struct {
					RedactedBecause *event `json:"redacted_because"`
				}
				_ = json.Unmarshal(ev.Unsigned, &unsigned)
				if len(ev.Content) != 0 || unsigned.RedactedBecause == nil || unsigned.RedactedBecause.EventID != redaction {
					t.Errorf("as %s: redacted event %s", u.ID, raw)
				}
			case redaction:
				sawRedaction = true
				if ev.Type != "m.room.redaction" || ev.Redacts != msg {
					t.Errorf("as %s: redaction %s", u.ID, raw)
				}
			}
		}
		if !sawRedacted || !sawRedaction {
			t.Errorf("as %s: /messages lacks the redacted event (%v) or the redaction (%v)", u.ID, sawRedacted, sawRedaction)
		}
	}

	// State, kick, ban, and errors from Do.
	topic := alice.SendState(t, f.roomID, "m.room.topic", "", map[string]any{"topic": "Parish news"})
	f.as.delivered(t, topic)
	if got := string(alice.State(t, f.roomID, "m.room.topic", "")); !strings.Contains(got, "Parish news") {
		t.Errorf("topic = %s", got)
	}
	alice.Kick(t, f.roomID, bob.ID, "be nice")
	bob.Join(t, f.roomID)
	alice.Ban(t, f.roomID, bob.ID, "")
	_, err = bob.Do("PUT", "/_matrix/client/v3/rooms/"+f.roomID+"/send/m.room.message/x1", map[string]any{"msgtype": "m.text", "body": "let me in"}, nil)
	if !errors.As(err, &merr) || merr.Status != http.StatusForbidden || merr.Errcode != "M_FORBIDDEN" {
		t.Errorf("banned bob sending: %v", err)
	}

	// Restart: same port, state and tokens; delivery resumes.
	s.Restart(t)
	again := alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "after restart"})
	f.as.delivered(t, again)
	carol := s.Register(t, "carol")
	carol.Join(t, "#town:hs.test")
	if evs := carol.Messages(t, f.roomID); len(evs) < 10 {
		t.Errorf("carol sees %d events", len(evs))
	}

	f.as.mu.Lock()
	if len(f.as.other) > 0 {
		t.Errorf("other requests to the appservice: %q", f.as.other)
	}
	f.as.mu.Unlock()
	for _, a := range f.as.snapshot() {
		if a.Auth != "Bearer "+f.reg.HSToken {
			t.Errorf("transaction %s with Authorization %q", a.TxnID, a.Auth)
		}
		// No prev_content, age or the like: only an invite's stripped
		// state, and an empty object on joins.
		for _, ev := range a.Events {
			var unsigned map[string]json.RawMessage
			_ = json.Unmarshal(ev.Unsigned, &unsigned)
			for k := range unsigned {
				if k != "invite_room_state" || ev.Content["membership"] != "invite" {
					t.Errorf("finding changed: pushed %s %s has unsigned %s", ev.Type, ev.EventID, ev.Unsigned)
				}
			}
			if ev.Type == "m.room.message" && ev.Unsigned != nil {
				t.Errorf("finding changed: pushed message %s has unsigned %s", ev.EventID, ev.Unsigned)
			}
		}
	}
}

// TestRetry pins Dendrite's behaviour when the appservice answers 500: the
// same txnId comes again after 2, 4, 8 s.
func TestRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 15–30 s")
	}
	t.Parallel()
	f := setup(t)
	f.inviteAndJoinBot(t)

	f.as.set(3, false)
	first := f.alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "a"})
	a1 := f.as.waitAttempt(t, "first attempt", 30*time.Second, func(a attempt) bool { return a.has(first) })
	second := f.alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "b"})
	f.as.delivered(t, first)
	f.as.delivered(t, second)

	var tries []attempt
	for _, a := range f.as.snapshot() {
		if a.TxnID == a1.TxnID {
			tries = append(tries, a)
		}
	}
	if len(tries) != 4 {
		t.Fatalf("txn %s tried %d times, want 4 (3 failures then success):%s", a1.TxnID, len(tries), describe(f.as.snapshot()))
	}
	for i, want := range []float64{2, 4, 8} {
		d := tries[i+1].At.Sub(tries[i].At)
		t.Logf("retry %d of txn %s after %v with %d event(s)", i+1, a1.TxnID, d.Round(time.Millisecond), len(tries[i+1].Events))
		if d.Seconds() < want-0.2 || d.Seconds() > want+2 {
			t.Errorf("retry %d after %v, want ≈ %vs", i+1, d, want)
		}
		if !tries[i+1].has(first) {
			t.Errorf("retry %d lacks the event", i+1)
		}
	}
	t.Logf("transactions:%s", describe(f.as.snapshot()))
}

// TestRestartRedelivery: an event the appservice refused before a restart
// is delivered after it, under the same txnId, but only once JetStream's
// 30 s ack wait has run out; an event sent after the restart overtakes it.
func TestRestartRedelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 15–30 s")
	}
	t.Parallel()
	f := setup(t)
	f.inviteAndJoinBot(t)

	f.as.set(0, true)
	msg := f.alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "refused"})
	before := f.as.waitAttempt(t, "a refused attempt", 30*time.Second, func(a attempt) bool { return a.has(msg) })
	f.s.Restart(t)
	f.as.set(0, false)
	later := f.alice.Send(t, f.roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": "after the restart"})
	ok := func(eventID string) func(attempt) bool {
		return func(a attempt) bool { return a.Status == http.StatusOK && a.has(eventID) }
	}
	after := f.as.waitAttempt(t, "the refused event, after the restart", 60*time.Second, ok(msg))
	laterTxn := f.as.waitAttempt(t, "the later event", 30*time.Second, ok(later))
	if after.TxnID != before.TxnID {
		t.Errorf("finding changed: redelivered after the restart as txn %s, first tried as %s", after.TxnID, before.TxnID)
	}
	t.Logf("refused as txn %s; delivered after the restart as txn %s, %v after the first attempt; the later event was delivered %v",
		before.TxnID, after.TxnID, after.At.Sub(before.At).Round(time.Millisecond),
		map[bool]string{true: "first", false: "second"}[laterTxn.At.Before(after.At)])
}
