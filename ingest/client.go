package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// Client is the little of the client-server API the archiver needs, as the
// appservice's bot: as_token in the Authorization header and ?user_id= on
// every request. It keeps events as raw JSON, because the archive stores
// exactly what it received (mautrix's client decodes and re-encodes them).
type Client struct {
	base    *url.URL
	asToken string
	user    id.UserID
	http    *http.Client
	// timeout bounds each call; syncMargin is what /sync gets beyond its
	// long-poll timeout.
	timeout, syncMargin time.Duration
	// maxResponse bounds a response body read into memory.
	maxResponse int64
}

// NewClient returns a client for the homeserver at address (its
// client-server API base URL), acting as user with the appservice token.
func NewClient(address, asToken string, user id.UserID) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(address, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("homeserver.address %q is not an http(s) URL", address)
	}
	// Connecting and the TLS handshake get their own short bounds; the
	// whole call is bounded by a deadline on its context (do), because a
	// response header timeout would cut /sync's long-poll.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.MaxIdleConnsPerHost = 8
	return &Client{base: u, asToken: asToken, user: user, http: &http.Client{Transport: tr},
		timeout: defaultCallTimeout, syncMargin: 30 * time.Second, maxResponse: defaultMaxResponse}, nil
}

// defaultCallTimeout bounds one homeserver call (a /messages page of 1,000
// events from a slow server takes seconds, not minutes): a homeserver that
// accepts and never answers must not stall joins, sweeps or answers.
const defaultCallTimeout = 90 * time.Second

// MatrixError is an error response from the homeserver.
type MatrixError struct {
	Status  int
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
	// RetryAfter is set from retry_after_ms on M_LIMIT_EXCEEDED.
	RetryAfter time.Duration
}

func (e *MatrixError) Error() string {
	if e.ErrCode == "" {
		return fmt.Sprintf("homeserver answered %d", e.Status)
	}
	return fmt.Sprintf("homeserver answered %d %s: %s", e.Status, e.ErrCode, e.Message)
}

// Temporary reports whether retrying later may succeed: rate limits,
// server errors and transport failures, not refusals.
func Temporary(err error) bool {
	var me *MatrixError
	if errors.As(err, &me) {
		return me.Status == http.StatusTooManyRequests || me.Status >= 500
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

// IsForbidden reports a 403 (not invited, banned, not allowed).
func IsForbidden(err error) bool {
	var me *MatrixError
	return errors.As(err, &me) && me.Status == http.StatusForbidden
}

// defaultMaxResponse bounds a response body read into memory.
const defaultMaxResponse = 64 << 20

// ErrResponseTooLarge is a successful response whose body is larger than
// the client reads: decoding the part read would fail as if the body were
// broken, and asking again for the same would fail again. A /messages
// page can be asked for with fewer events (Manager.messages).
var ErrResponseTooLarge = errors.New("response larger than the client reads")

// leftOuter is a response that is told how many of its events
// leaveOutDeep left out.
type leftOuter interface{ setLeftOut(n int) }

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.doFor(ctx, c.timeout, method, path, query, body, out)
}

// doFor is do with its own time limit.
func (c *Client) doFor(ctx context.Context, limit time.Duration, method, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// path's dynamic segments are already escaped (seg).
	if query == nil {
		query = url.Values{}
	}
	query.Set("user_id", string(c.user))
	target := c.base.String() + path + "?" + query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.asToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	// One byte past the bound tells a body cut short from one that fits.
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		me := &MatrixError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, me) // a non-JSON error body still has a status
		var ra struct {
			RetryAfterMS int64 `json:"retry_after_ms"`
		}
		if json.Unmarshal(data, &ra) == nil && ra.RetryAfterMS > 0 {
			me.RetryAfter = time.Duration(ra.RetryAfterMS) * time.Millisecond
		}
		return fmt.Errorf("%s %s: %w", method, path, me)
	}
	if int64(len(data)) > c.maxResponse {
		return fmt.Errorf("%s %s: %w (%d bytes)", method, path, ErrResponseTooLarge, c.maxResponse)
	}
	if out != nil {
		data, n := leaveOutDeep(data)
		if lo, ok := out.(leftOuter); ok {
			lo.setLeftOut(n)
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
	}
	return nil
}

// seg escapes one path segment (room IDs, aliases and v3 event IDs contain
// characters a path may not).
func seg(s string) string { return url.PathEscape(s) }

// Versions checks the homeserver answers.
func (c *Client) Versions(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/_matrix/client/versions", nil, nil, nil)
}

// Join joins a room by ID or alias and returns its room ID.
func (c *Client) Join(ctx context.Context, roomIDOrAlias string, via []string, reason string) (id.RoomID, error) {
	q := url.Values{}
	for _, v := range via {
		q.Add("via", v)
		q.Add("server_name", v) // the pre-1.12 name, for older servers
	}
	var out struct {
		RoomID id.RoomID `json:"room_id"`
	}
	body := map[string]any{}
	if reason != "" {
		body["reason"] = reason
	}
	if err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+seg(roomIDOrAlias), q, body, &out); err != nil {
		return "", err
	}
	return out.RoomID, nil
}

// Leave leaves (or rejects an invite to) a room.
func (c *Client) Leave(ctx context.Context, roomID id.RoomID, reason string) error {
	body := map[string]any{}
	if reason != "" {
		body["reason"] = reason
	}
	return c.do(ctx, http.MethodPost, "/_matrix/client/v3/rooms/"+seg(string(roomID))+"/leave", nil, body, nil)
}

// State returns the room's current state events.
func (c *Client) State(ctx context.Context, roomID id.RoomID) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+seg(string(roomID))+"/state", nil, nil, &out)
	return out, err
}

// MessagesPage is one page of /messages.
type MessagesPage struct {
	Start string            `json:"start"`
	End   string            `json:"end"`
	Chunk []json.RawMessage `json:"chunk"`
	State []json.RawMessage `json:"state"`
	// LeftOut is how many events nested deeper than event.MaxDepth are
	// null in Chunk and State (leaveOutDeep).
	LeftOut int `json:"-"`
}

func (p *MessagesPage) setLeftOut(n int) { p.LeftOut = n }

// Messages pages a room's timeline: dir "b" (from the newest when from is
// empty) or "f" (from must be set).
func (c *Client) Messages(ctx context.Context, roomID id.RoomID, from, dir string, limit int) (MessagesPage, error) {
	q := url.Values{"dir": {dir}, "limit": {strconv.Itoa(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	var out MessagesPage
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+seg(string(roomID))+"/messages", q, nil, &out)
	return out, err
}

// ResolveAlias returns the room an alias points to and servers to join via.
func (c *Client) ResolveAlias(ctx context.Context, alias string) (id.RoomID, []string, error) {
	var out struct {
		RoomID  id.RoomID `json:"room_id"`
		Servers []string  `json:"servers"`
	}
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v3/directory/room/"+seg(alias), nil, nil, &out)
	return out.RoomID, out.Servers, err
}

// SyncResponse is the part of /sync the archiver reads.
type SyncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[id.RoomID]struct {
			Timeline struct {
				Events  []json.RawMessage `json:"events"`
				Limited bool              `json:"limited"`
			} `json:"timeline"`
		} `json:"join"`
		Invite map[id.RoomID]json.RawMessage `json:"invite"`
		Leave  map[id.RoomID]struct {
			Timeline struct {
				Events []json.RawMessage `json:"events"`
			} `json:"timeline"`
		} `json:"leave"`
	} `json:"rooms"`
	// LeftOut is how many events nested deeper than event.MaxDepth are
	// null in the response (leaveOutDeep).
	LeftOut int `json:"-"`
}

func (r *SyncResponse) setLeftOut(n int) { r.LeftOut = n }

// Sync long-polls /sync for up to timeout.
func (c *Client) Sync(ctx context.Context, since, filter string, timeout time.Duration) (SyncResponse, error) {
	q := url.Values{"timeout": {strconv.FormatInt(timeout.Milliseconds(), 10)}, "filter": {filter}}
	if since != "" {
		q.Set("since", since)
	}
	var out SyncResponse
	err := c.doFor(ctx, timeout+c.syncMargin, http.MethodGet, "/_matrix/client/v3/sync", q, nil, &out)
	return out, err
}

// SendMessage sends an m.room.message (txnID makes retries idempotent).
func (c *Client) SendMessage(ctx context.Context, roomID id.RoomID, txnID string, content map[string]any) (id.EventID, error) {
	var out struct {
		EventID id.EventID `json:"event_id"`
	}
	err := c.do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+seg(string(roomID))+"/send/m.room.message/"+seg(txnID), nil, content, &out)
	return out.EventID, err
}
