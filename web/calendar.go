package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mxarchive/mxarchive/store"
)

// The calendar: per room a year (a heatmap of messages per day) and a
// month, each day with messages linking to its page; and the jump to a
// date (?date= on the room's address), which lands on that day or the
// nearest one with messages and says so.

// dayNav is the calendar part of a day page's header.
type dayNav struct {
	YearPath  string
	MonthPath string
	Jump      string // the form's action: the room's address
	Date      string
	// Jumped is the date a reader asked for when this page is the nearest
	// day with messages instead ("" otherwise).
	Jumped string
}

func (s *Server) dayNavOf(r store.Room, day time.Time) dayNav {
	return dayNav{
		YearPath:  roomPath(r, "calendar", day.Format("2006")),
		MonthPath: roomPath(r, "calendar", day.Format("2006-01")),
		Jump:      roomPath(r), Date: day.Format(dateLayout),
	}
}

type calendarView struct {
	Room     roomView
	Title    string
	Month    bool // a month view, else a year
	Months   []monthView
	PrevPath string
	PrevText string
	NextPath string
	NextText string
	UpPath   string // from a month to its year
	UpText   string
	Total    int
	// AtLeast: a day was counted only up to store.MaxCount, so Total is
	// a lower bound.
	AtLeast bool
}

type monthView struct {
	Name    string
	Path    string
	Weeks   [][]dayCell
	Total   int
	AtLeast bool
}

type dayCell struct {
	Day   int // 0: a blank before the 1st or after the last
	Date  string
	Path  string // "" for a day without messages
	Count int
	More  bool // Count is store.MaxCount: at least that many
	Level int  // 0–4, for the heatmap
}

// heatLevel buckets a day's messages for the heatmap's five shades.
func heatLevel(n int) int {
	switch {
	case n == 0:
		return 0
	case n < 10:
		return 1
	case n < 50:
		return 2
	case n < 200:
		return 3
	}
	return 4
}

// calendarLatest sends /room/{room}/calendar to the year of the room's
// latest message.
func (s *Server) calendarLatest(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	t := s.now().UTC()
	if last := latestTS(r); last > 0 {
		t = time.UnixMilli(last).UTC()
	}
	return c.Redirect(http.StatusFound, roomPath(r, "calendar", t.Format("2006")))
}

func (s *Server) calendar(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	period, err := param(c, "period")
	if err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, roomPath(r, "calendar", period))
	}
	var from, to time.Time
	month := false
	// A year's calendar and its months' agree on the years they have:
	// 1970 (where Matrix's time begins) to 9999.
	if t, err := time.Parse("2006-01", period); err == nil && len(period) == 7 && t.Year() >= 1970 {
		from, to, month = t, t.AddDate(0, 1, 0), true
	} else if y, err := strconv.Atoi(period); err == nil && len(period) == 4 && y >= 1970 {
		from = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(1, 0, 0)
	} else {
		return badRequest("%q is not a year or a month; calendars are at …/calendar/2026 or …/calendar/2026-03.", truncateRunes(period, 40))
	}
	ctx := c.Request().Context()
	if _, _, err := s.roomRobots(c, r); err != nil {
		return err
	}
	counts, err := s.store.DayCounts(ctx, r.ID, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return err
	}
	v := calendarView{Room: s.roomView(ctx, r), Month: month}
	for m := from; m.Before(to); m = m.AddDate(0, 1, 0) {
		mv := buildMonth(r, m, counts)
		v.Total += mv.Total
		v.AtLeast = v.AtLeast || mv.AtLeast
		v.Months = append(v.Months, mv)
	}
	if month {
		v.Title = from.Format("January 2006")
		v.PrevPath, v.PrevText = roomPath(r, "calendar", from.AddDate(0, -1, 0).Format("2006-01")), from.AddDate(0, -1, 0).Format("January 2006")
		v.NextPath, v.NextText = roomPath(r, "calendar", to.Format("2006-01")), to.Format("January 2006")
		v.UpPath, v.UpText = roomPath(r, "calendar", from.Format("2006")), from.Format("2006")
	} else {
		v.Title = from.Format("2006")
		v.PrevPath, v.PrevText = roomPath(r, "calendar", from.AddDate(-1, 0, 0).Format("2006")), from.AddDate(-1, 0, 0).Format("2006")
		v.NextPath, v.NextText = roomPath(r, "calendar", to.Format("2006")), to.Format("2006")
	}
	// Links lead only towards the room's messages, so that a crawler
	// following them does not walk through empty centuries.
	if r.FirstTS == 0 || from.UnixMilli() <= r.FirstTS {
		v.PrevPath = ""
	}
	if last := latestTS(r); last == 0 || to.UnixMilli() > last {
		v.NextPath = ""
	}
	b, err := s.execPage("calendar", v)
	if err != nil {
		return err
	}
	// A calendar changes as messages arrive or expire: cached like the
	// current day when it covers today, else revalidated.
	day := time.Time{}
	if now := s.now().UTC(); !now.Before(from) && now.Before(to) {
		day = now.Truncate(24 * time.Hour)
	}
	return s.sendCached(c, http.StatusOK, echo.MIMETextHTMLCharsetUTF8, b, day)
}

// buildMonth lays out month m (its first day, UTC) as weeks from Monday.
func buildMonth(r store.Room, m time.Time, counts map[int64]int) monthView {
	mv := monthView{Name: m.Format("January"), Path: roomPath(r, "calendar", m.Format("2006-01"))}
	var week []dayCell
	for i := 0; i < (int(m.Weekday())+6)%7; i++ {
		week = append(week, dayCell{})
	}
	for d := m; d.Month() == m.Month(); d = d.AddDate(0, 0, 1) {
		n := counts[d.UnixMilli()]
		cell := dayCell{Day: d.Day(), Date: d.Format(dateLayout), Count: n, More: n >= store.MaxCount, Level: heatLevel(n)}
		if n > 0 {
			cell.Path = roomPath(r, d.Format(dateLayout))
		}
		mv.Total += n
		mv.AtLeast = mv.AtLeast || n >= store.MaxCount
		week = append(week, cell)
		if len(week) == 7 {
			mv.Weeks, week = append(mv.Weeks, week), nil
		}
	}
	if len(week) > 0 {
		for len(week) < 7 {
			week = append(week, dayCell{})
		}
		mv.Weeks = append(mv.Weeks, week)
	}
	return mv
}

// jumpToDate answers /room/{room}?date=YYYY-MM-DD: that day's page if it
// or, before its first message, a room it replaced has messages
// (predecessorDay), else the nearest day that has (the earlier on a tie),
// which then says that the asked-for day had none.
func (s *Server) jumpToDate(c echo.Context, r store.Room, date string) error {
	t, from, to, err := parseDay(date)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	days, err := s.store.RoomDays(ctx, r.ID, from, to, 1)
	if err != nil {
		return err
	}
	if len(days) > 0 {
		return c.Redirect(http.StatusFound, roomPath(r, date))
	}
	// A day before r's first message of a room r replaced, as the day's
	// own link finds it: an upgrade moved the alias the form is sent to.
	if p, ok, err := s.predecessorDay(ctx, r, date); ok || err != nil {
		return redirectOr(c, roomPath(p, date), err)
	}
	prev, next, err := s.store.AdjacentMessages(ctx, r.ID, from, to)
	if err != nil {
		return err
	}
	var target int64
	switch {
	case prev == 0 && next == 0:
		return notFound("The archive has no public messages of %s.", roomName(r))
	case prev == 0:
		target = next
	case next == 0:
		target = prev
	case from-prev <= next-to:
		target = prev
	default:
		target = next
	}
	day := time.UnixMilli(target).UTC().Format(dateLayout)
	return c.Redirect(http.StatusFound, roomPath(r, day)+"?jumped="+t.Format(dateLayout))
}

// calendarText writes a count of messages.
func calendarText(n int) string {
	if n == 1 {
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}
