package dendritetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// User acts as one Matrix user through the client-server API.
//
// Methods taking a testing.TB fail the test (t.Fatalf) on any error; Do is
// the error-returning primitive underneath them, for tests that expect or
// inspect a failure (errors.As(err, new(*Error))).
type User struct {
	// ID is the full user ID, @localpart:server_name.
	ID string
	// Token is the access token (the as_token for an appservice user).
	Token string
	// Password is set for users made by Register.
	Password string
	// DeviceID is set for users made by Register.
	DeviceID string

	server *Server
	// asUserID, if not empty, is sent as ?user_id= with every request
	// (appservice identity assertion).
	asUserID string
}

// txnCounter makes client transaction IDs unique within the test binary;
// txnPrefix makes them unique across restarts of it.
var (
	txnCounter atomic.Uint64
	txnPrefix  = "dt" + randomHex(4) + "-"
)

func newTxnID() string {
	return txnPrefix + strconv.FormatUint(txnCounter.Add(1), 10)
}

// Error is a non-2xx answer from the homeserver.
type Error struct {
	Method, Path string
	Status       int
	Errcode      string // Matrix errcode, e.g. M_FORBIDDEN; empty if the body had none
	Message      string // Matrix error text, or the raw body
}

func (e *Error) Error() string {
	if e.Errcode != "" {
		return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Method, e.Path, e.Status, e.Errcode, e.Message)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// Register creates a new non-admin user by shared-secret registration
// (GET then POST /_synapse/admin/v1/register, HMAC-SHA1 over
// nonce\0user\0password\0notadmin) with a random password, and returns it
// logged in.
func (s *Server) Register(t testing.TB, localpart string) *User {
	t.Helper()
	u, err := s.register(localpart, false)
	if err != nil {
		t.Fatalf("dendritetest: register %q: %v", localpart, err)
	}
	return u
}

// RegisterAdmin is Register for a server admin (Dendrite's /_dendrite/admin
// endpoints).
func (s *Server) RegisterAdmin(t testing.TB, localpart string) *User {
	t.Helper()
	u, err := s.register(localpart, true)
	if err != nil {
		t.Fatalf("dendritetest: register admin %q: %v", localpart, err)
	}
	return u
}

func (s *Server) register(localpart string, admin bool) (*User, error) {
	anon := &User{server: s}
	const path = "/_synapse/admin/v1/register"
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if _, err := anon.Do(http.MethodGet, path, nil, &nonce); err != nil {
		return nil, err
	}
	password := randomHex(12)
	kind := "notadmin"
	if admin {
		kind = "admin"
	}
	mac := hmac.New(sha1.New, []byte(s.SharedSecret))
	mac.Write([]byte(nonce.Nonce + "\x00" + localpart + "\x00" + password + "\x00" + kind))
	var res struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if _, err := anon.Do(http.MethodPost, path, map[string]any{
		"nonce":    nonce.Nonce,
		"username": localpart,
		"password": password,
		"admin":    admin,
		"mac":      hex.EncodeToString(mac.Sum(nil)),
	}, &res); err != nil {
		return nil, err
	}
	if res.UserID == "" || res.AccessToken == "" {
		return nil, fmt.Errorf("no user_id or access_token in the answer")
	}
	return &User{ID: res.UserID, Token: res.AccessToken, Password: password, DeviceID: res.DeviceID, server: s}, nil
}

// AppserviceUser returns a User authenticating with an appservice's
// as_token that adds ?user_id=userID to every request, e.g.
// s.AppserviceUser(asToken, "@archivebot:hs.test") to act as the archive's
// bot (its sender_localpart, which exists from startup) or as a user the
// appservice registered in its users namespace (others get 403
// M_FORBIDDEN "appservice has not registered this user"). With userID ""
// no user_id is sent: Dendrite then still acts as the bot, because at
// startup it gives the bot an ordinary device (device_id = sender_localpart)
// whose access token is the as_token.
func (s *Server) AppserviceUser(asToken, userID string) *User {
	return &User{ID: userID, Token: asToken, server: s, asUserID: userID}
}

// User returns a User for an access token obtained some other way (for
// example /login).
func (s *Server) User(userID, token string) *User {
	return &User{ID: userID, Token: token, server: s}
}

// Server returns the homeserver the user is on.
func (u *User) Server() *Server { return u.server }

// Do performs a client-server request as the user: method, path under the
// server URL (with any query string, e.g.
// "/_matrix/client/v3/sync?timeout=0"; escape path segments with
// url.PathEscape), a body marshalled as JSON (nil for none), and the
// response decoded from JSON into out (nil to discard). It returns the HTTP
// status; a non-2xx status is returned with an *Error carrying the Matrix
// errcode and error.
func (u *User) Do(method, path string, body, out any) (int, error) {
	target, err := url.Parse(u.server.URL + path)
	if err != nil {
		return 0, err
	}
	if u.asUserID != "" {
		q := target.Query()
		q.Set("user_id", u.asUserID)
		target.RawQuery = q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encoding the body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, target.String(), rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	resp, err := u.server.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode}
		var m struct {
			Errcode string `json:"errcode"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(data, &m) == nil && m.Errcode != "" {
			e.Errcode, e.Message = m.Errcode, m.Error
		} else {
			e.Message = strings.TrimSpace(string(data))
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding %q: %w", method, path, truncate(data, 200), err)
		}
	}
	return resp.StatusCode, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// must runs Do and fails the test on error.
func (u *User) must(t testing.TB, method, path string, body, out any) {
	t.Helper()
	if _, err := u.Do(method, path, body, out); err != nil {
		t.Fatalf("dendritetest: as %s: %v", u.ID, err)
	}
}

const clientV3 = "/_matrix/client/v3"

func roomPath(roomID string, rest ...string) string {
	p := clientV3 + "/rooms/" + url.PathEscape(roomID)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// CreateRoom creates a room (POST /createRoom with req as the body, e.g.
// {"preset":"public_chat","room_alias_name":"x","name":"X"}) and returns
// its room ID.
func (u *User) CreateRoom(t testing.TB, req map[string]any) string {
	t.Helper()
	if req == nil {
		req = map[string]any{}
	}
	var res struct {
		RoomID string `json:"room_id"`
	}
	u.must(t, http.MethodPost, clientV3+"/createRoom", req, &res)
	return res.RoomID
}

// Invite invites userID to the room.
func (u *User) Invite(t testing.TB, roomID, userID string) {
	t.Helper()
	u.must(t, http.MethodPost, roomPath(roomID, "invite"), map[string]any{"user_id": userID}, nil)
}

// Join joins a room by ID or alias and returns its room ID.
func (u *User) Join(t testing.TB, roomIDOrAlias string) string {
	t.Helper()
	var res struct {
		RoomID string `json:"room_id"`
	}
	u.must(t, http.MethodPost, clientV3+"/join/"+url.PathEscape(roomIDOrAlias), map[string]any{}, &res)
	return res.RoomID
}

// Leave leaves the room.
func (u *User) Leave(t testing.TB, roomID string) {
	t.Helper()
	u.must(t, http.MethodPost, roomPath(roomID, "leave"), map[string]any{}, nil)
}

// Send sends a message-like event (PUT /rooms/{id}/send/{type}/{txnId})
// and returns its event ID.
func (u *User) Send(t testing.TB, roomID, evType string, content map[string]any) string {
	t.Helper()
	var res struct {
		EventID string `json:"event_id"`
	}
	u.must(t, http.MethodPut, roomPath(roomID, "send", evType, newTxnID()), content, &res)
	u.server.noteSent(roomID, res.EventID)
	return res.EventID
}

// SendText sends an m.room.message with msgtype m.text and returns its
// event ID.
func (u *User) SendText(t testing.TB, roomID, text string) string {
	t.Helper()
	return u.Send(t, roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": text})
}

// SendState sets a state event (PUT /rooms/{id}/state/{type}/{stateKey})
// and returns its event ID.
func (u *User) SendState(t testing.TB, roomID, evType, stateKey string, content map[string]any) string {
	t.Helper()
	var res struct {
		EventID string `json:"event_id"`
	}
	// An empty state key makes the path end in "/": Dendrite routes
	// /state/{type}/ to the empty key.
	u.must(t, http.MethodPut, roomPath(roomID, "state", evType)+"/"+url.PathEscape(stateKey), content, &res)
	u.server.noteSent(roomID, res.EventID)
	return res.EventID
}

// Redact redacts an event (reason may be empty) and returns the redaction's
// event ID.
func (u *User) Redact(t testing.TB, roomID, eventID, reason string) string {
	t.Helper()
	body := map[string]any{}
	if reason != "" {
		body["reason"] = reason
	}
	var res struct {
		EventID string `json:"event_id"`
	}
	u.must(t, http.MethodPut, roomPath(roomID, "redact", eventID, newTxnID()), body, &res)
	u.server.noteSent(roomID, res.EventID)
	return res.EventID
}

// Kick kicks userID from the room (reason may be empty).
func (u *User) Kick(t testing.TB, roomID, userID, reason string) {
	t.Helper()
	u.must(t, http.MethodPost, roomPath(roomID, "kick"), withReason(map[string]any{"user_id": userID}, reason), nil)
}

// Ban bans userID from the room (reason may be empty).
func (u *User) Ban(t testing.TB, roomID, userID, reason string) {
	t.Helper()
	u.must(t, http.MethodPost, roomPath(roomID, "ban"), withReason(map[string]any{"user_id": userID}, reason), nil)
}

func withReason(body map[string]any, reason string) map[string]any {
	if reason != "" {
		body["reason"] = reason
	}
	return body
}

// Event fetches one event (GET /rooms/{id}/event/{eventId}) as raw JSON.
func (u *User) Event(t testing.TB, roomID, eventID string) json.RawMessage {
	t.Helper()
	var ev json.RawMessage
	u.must(t, http.MethodGet, roomPath(roomID, "event", eventID), nil, &ev)
	return ev
}

// State fetches one state event's content (GET /rooms/{id}/state/{type}/{key}).
func (u *User) State(t testing.TB, roomID, evType, stateKey string) json.RawMessage {
	t.Helper()
	var content json.RawMessage
	u.must(t, http.MethodGet, roomPath(roomID, "state", evType)+"/"+url.PathEscape(stateKey), nil, &content)
	return content
}

// MessagesPage is one answer of GET /rooms/{id}/messages.
type MessagesPage struct {
	Chunk []json.RawMessage `json:"chunk"`
	Start string            `json:"start"`
	End   string            `json:"end,omitempty"`
	State []json.RawMessage `json:"state,omitempty"`
}

// MessagesPage fetches one page of /messages: dir "b" or "f", from a token
// ("" for none), at most limit events.
func (u *User) MessagesPage(roomID, dir, from string, limit int) (*MessagesPage, error) {
	q := url.Values{"dir": {dir}, "limit": {strconv.Itoa(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	var page MessagesPage
	if _, err := u.Do(http.MethodGet, roomPath(roomID, "messages")+"?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Messages returns the room's whole history as this user sees it, oldest
// first, as raw event JSON: it pages /messages dir=b, 100 at a time, from
// the newest event until an answer has no `end`.
func (u *User) Messages(t testing.TB, roomID string) []json.RawMessage {
	t.Helper()
	evs, err := u.messages(roomID)
	if err != nil {
		t.Fatalf("dendritetest: as %s: %v", u.ID, err)
	}
	return evs
}

func (u *User) messages(roomID string) ([]json.RawMessage, error) {
	var newestFirst []json.RawMessage
	from := ""
	for pages := 0; ; pages++ {
		if pages == 10000 {
			return nil, errors.New("/messages: more than 10000 pages; giving up")
		}
		page, err := u.MessagesPage(roomID, "b", from, 100)
		if err != nil {
			return nil, err
		}
		newestFirst = append(newestFirst, page.Chunk...)
		if page.End == "" {
			break
		}
		if page.End == from {
			return nil, fmt.Errorf("/messages: end token %q does not move", from)
		}
		from = page.End
	}
	out := make([]json.RawMessage, len(newestFirst))
	for i, ev := range newestFirst {
		out[len(out)-1-i] = ev
	}
	return out, nil
}
