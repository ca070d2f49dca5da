package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// redactionsPerPage bounds the redactions list.
const redactionsPerPage = 200

type redactionsView struct {
	Room      roomView
	Items     []redactionItem
	OlderPath string
}

type redactionItem struct {
	Permalink   string
	TargetID    string
	TargetType  string
	Author      string
	SentAt      string
	By          string
	Reason      string
	RedactedAt  string
	ReceivedAt  string
	AppliedAt   string
	Propagation string // from the redaction's own time to the archive applying it
}

// redactions lists a room's redactions for moderators: who redacted what and
// when, and when the archive received and applied each, so the propagation
// delay can be read off.
func (s *Server) redactions(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, roomPath(r, "redactions"))
	}
	list, err := s.roomRedactions(c, r)
	if err != nil {
		return err
	}
	v := redactionsView{Room: s.roomView(c.Request().Context(), r)}
	for _, rd := range list {
		v.Items = append(v.Items, redactionItem{
			Permalink: eventPath(r, rd.TargetID), TargetID: string(rd.TargetID), TargetType: rd.TargetType,
			Author: string(rd.TargetSender), SentAt: fmtStamp(rd.TargetTS), By: string(rd.Sender), Reason: rd.Reason,
			RedactedAt: fmtStamp(rd.TS), ReceivedAt: fmtStamp(rd.ReceivedAt), AppliedAt: fmtStamp(rd.AppliedAt),
			Propagation: rd.AppliedAt.Sub(rd.TS).Round(time.Millisecond).String(),
		})
	}
	if len(list) == redactionsPerPage {
		last := list[len(list)-1]
		v.OlderPath = roomPath(r, "redactions") + "?before=" + strconv.FormatInt(last.TS.UnixMilli(), 10) +
			"&before_id=" + url.QueryEscape(string(last.RedactionID))
	}
	return s.renderPage(c, http.StatusOK, "redactions", v)
}

func (s *Server) roomRedactions(c echo.Context, r store.Room) ([]store.RoomRedaction, error) {
	var before int64
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return nil, badRequest("before must be a time in milliseconds since 1970, as the “older” link gives it.")
		}
		before = n
	}
	return s.store.RoomRedactions(c.Request().Context(), r.ID, before, id.EventID(c.QueryParam("before_id")), redactionsPerPage)
}

type apiRedaction struct {
	EventID       string `json:"event_id"`
	EventType     string `json:"event_type"`
	Sender        string `json:"sender"`
	RedactionID   string `json:"redaction_id"`
	RedactedBy    string `json:"redacted_by"`
	Reason        string `json:"reason,omitempty"`
	RedactedAt    string `json:"redacted_at"`
	ReceivedAt    string `json:"received_at"`
	AppliedAt     string `json:"applied_at"`
	PropagationMS int64  `json:"propagation_ms"`
	Permalink     string `json:"permalink"`
}

// apiRedactions is the redactions list as JSON.
func (s *Server) apiRedactions(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	list, err := s.roomRedactions(c, r)
	if err != nil {
		return err
	}
	out := struct {
		RoomID     string         `json:"room_id"`
		Redactions []apiRedaction `json:"redactions"`
	}{RoomID: string(r.ID), Redactions: []apiRedaction{}}
	for _, rd := range list {
		out.Redactions = append(out.Redactions, apiRedaction{
			EventID: string(rd.TargetID), EventType: rd.TargetType, Sender: string(rd.TargetSender),
			RedactionID: string(rd.RedactionID), RedactedBy: string(rd.Sender), Reason: rd.Reason,
			RedactedAt: rd.TS.Format(time.RFC3339Nano), ReceivedAt: rd.ReceivedAt.Format(time.RFC3339Nano),
			AppliedAt: rd.AppliedAt.Format(time.RFC3339Nano), PropagationMS: rd.AppliedAt.Sub(rd.TS).Milliseconds(),
			Permalink: s.absolute(eventPath(r, rd.TargetID)),
		})
	}
	return s.jsonCached(c, out, time.Time{})
}
