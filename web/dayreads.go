package web

import (
	"context"
	"fmt"
	"sync"

	"github.com/labstack/echo/v4"
)

// takeDayRead waits for a turn to read a JSON day or a text log, each read
// up to APIDayPageSize events (or a meeting's window, up to
// store.MaxDayEvents), and returns what gives it back; waiting
// ends with the request's time (a 503 that asks to retry). Each such
// request holds one read's events and what is made of them (about 20-35
// MiB for 20,000 events of a flooded day), so Options.MaxDayReads turns
// at once bound archive-web's memory where many clients ask for busy
// days: 24 clients at once, each asking another JSON page of a day of
// 500,000 messages, took it from 158 to 712 MiB resident when none
// waited. Two cores are kept as busy by a few at once as by many; day
// pages (DayPageSize events) take no turn. The turn is given back before
// the answer is written (sendValidated; a streamed log before each of its
// writes), or when the handler returns: a client that reads slowly holds
// none.
func (s *Server) takeDayRead(c echo.Context) (release func(), err error) {
	release, err = s.takeReadTurn(c.Request().Context())
	if err == nil {
		c.Set(dayReadKey, release)
	}
	return release, err
}

// takeReadTurn is takeDayRead for a read whose caller gives the turn back
// itself, before it answers (a meeting's window of events, loadMeeting).
func (s *Server) takeReadTurn(ctx context.Context) (release func(), err error) {
	select {
	case s.dayReads <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a turn to read a day: %w", ctx.Err())
	}
	var once sync.Once
	return func() { once.Do(func() { <-s.dayReads }) }, nil
}

// dayReadKey is where takeDayRead leaves its release in the request's
// context.
const dayReadKey = "mxarchive.dayRead"

// giveBackDayRead gives back the request's turn to read a day, if it holds
// one: its answer is built, and writing it may take as long as the client
// reads.
func giveBackDayRead(c echo.Context) {
	if release, ok := c.Get(dayReadKey).(func()); ok {
		release()
	}
}
