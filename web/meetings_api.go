package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mxarchive/mxarchive/meeting"
	"github.com/mxarchive/mxarchive/store"
)

// The meetings in the JSON API: the same minutes as the pages, computed on
// each request and never cached (no-store), so a withdrawn line is gone
// from them at once.

type apiMeetingSummary struct {
	ID         string   `json:"meeting_id"` // the #startmeeting event's ID
	RoomID     string   `json:"room_id"`
	Title      string   `json:"title,omitempty"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Ended      bool     `json:"ended"` // false: no #endmeeting, cut at silence or the cap
	Chairs     []string `json:"chairs"`
	Topics     int      `json:"topics"`
	Actions    int      `json:"actions"`
	Lines      int      `json:"lines"`
	URL        string   `json:"url"`
	TextURL    string   `json:"text_url"`
	APIURL     string   `json:"api_url"`
	StartEvent string   `json:"start_permalink"`
}

type apiMeetingItem struct {
	Kind       string `json:"kind"`
	Text       string `json:"text"`
	EventID    string `json:"event_id"`
	Sender     string `json:"sender"`
	SenderName string `json:"sender_name"`
	Time       string `json:"time"`
	Permalink  string `json:"permalink"`
}

type apiMeetingSection struct {
	Topic *apiMeetingItem  `json:"topic,omitempty"` // absent for items before the first #topic
	Items []apiMeetingItem `json:"items"`
}

type apiMeetingPerson struct {
	Sender  string           `json:"sender"`
	Name    string           `json:"name"`
	Lines   int              `json:"lines,omitempty"`
	Actions []apiMeetingItem `json:"actions,omitempty"`
}

type apiMeeting struct {
	apiMeetingSummary
	Sections   []apiMeetingSection `json:"sections"`
	ActionList []apiMeetingItem    `json:"action_items"`
	ByPerson   []apiMeetingPerson  `json:"action_items_by_person"`
	Unassigned []apiMeetingItem    `json:"unassigned_action_items"`
	People     []apiMeetingPerson  `json:"people"`
}

type apiMeetingList struct {
	RoomID   string              `json:"room_id"`
	Meetings []apiMeetingSummary `json:"meetings"` // newest first
	// Truncated: only the most recent meetings were computed.
	Truncated bool `json:"truncated,omitempty"`
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func (s *Server) apiMeetingSummary(r store.Room, m *meeting.Meeting) apiMeetingSummary {
	a := apiMeetingSummary{
		ID: string(m.ID), RoomID: string(r.ID), Title: m.Title, Start: rfc3339(m.Start), End: rfc3339(m.End), Ended: m.Ended,
		Chairs: []string{}, Topics: m.Topics(), Actions: len(m.Actions), Lines: m.Lines,
		URL: s.absolute(meetingPath(r, m.ID, "")), TextURL: s.absolute(meetingPath(r, m.ID, ".txt")),
		APIURL:     s.absolute("/api/v1/rooms/" + pathSegment(string(r.ID)) + "/meetings/" + pathSegment(string(m.ID))),
		StartEvent: s.absolute(eventPath(r, m.ID)),
	}
	for _, c := range m.Chairs {
		a.Chairs = append(a.Chairs, string(c.Sender))
	}
	return a
}

func (s *Server) apiMeetingItem(r store.Room, it meeting.Item) apiMeetingItem {
	return apiMeetingItem{Kind: string(it.Kind), Text: it.Text, EventID: string(it.EventID), Sender: string(it.Sender),
		SenderName: it.Name, Time: rfc3339(it.TS), Permalink: s.absolute(eventPath(r, it.EventID))}
}

func (s *Server) apiMeetings(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	ms, capped, err := s.meetingList(c, r)
	if err != nil {
		return err
	}
	out := apiMeetingList{RoomID: string(r.ID), Meetings: []apiMeetingSummary{}, Truncated: capped}
	for i := range ms {
		out.Meetings = append(out.Meetings, s.apiMeetingSummary(r, &ms[i]))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiMeeting(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	raw, err := param(c, "meeting")
	if err != nil {
		return err
	}
	m, err := s.meetingAt(c, r, strings.TrimSpace(raw))
	if err != nil {
		return err
	}
	items := func(its []meeting.Item) []apiMeetingItem {
		out := []apiMeetingItem{}
		for _, it := range its {
			out = append(out, s.apiMeetingItem(r, it))
		}
		return out
	}
	out := apiMeeting{apiMeetingSummary: s.apiMeetingSummary(r, &m), Sections: []apiMeetingSection{},
		ActionList: items(m.Actions), ByPerson: []apiMeetingPerson{}, Unassigned: items(m.Unassigned), People: []apiMeetingPerson{}}
	for _, sec := range m.Sections {
		as := apiMeetingSection{Items: items(sec.Items)}
		if sec.Topic.EventID != "" {
			t := s.apiMeetingItem(r, sec.Topic)
			as.Topic = &t
		}
		out.Sections = append(out.Sections, as)
	}
	for _, p := range m.ByPerson {
		out.ByPerson = append(out.ByPerson, apiMeetingPerson{Sender: string(p.Person.Sender), Name: p.Person.Name, Actions: items(p.Actions)})
	}
	for _, p := range m.People {
		out.People = append(out.People, apiMeetingPerson{Sender: string(p.Sender), Name: p.Name, Lines: p.Lines})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}
