package web

import (
	"io"
	"net/http"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// streamDayText answers the text log of a day busier than one read of
// APIDayPageSize events (first is that read: a flood, a bridge replaying
// its backlog), a read at a time: each read's lines are written and
// flushed before the next read, so the log takes one read's memory
// however busy the day. Read whole, the log of a day of 500,000 messages
// took archive-web from 174 to 861 MiB of resident memory and 14 s before
// its first byte, and four at once 1,292 MiB before all four failed at
// the request's time limit; streamed, one took 9 MiB more and 0.16 s to
// its first byte, and four were answered whole in 10 s.
//
// It says what the whole day's log would, byte for byte (the names its
// lines tell apart are the whole day's, dayNameClashes), but for two
// things its bytes not being known before they are written makes it
// leave out or move: it has no ETag and is not cached (it is gzipped as
// it goes when the client takes gzip), and its header names the IRC logs
// of its first read's lines only, each later one being named in a "# "
// line right before its first line. A read that fails once the first
// byte is out cuts the transfer short (http.ErrAbortHandler): a client
// must not take a log cut at the failure for the whole day. A day with no
// message in any of its reads is answered as a quiet one would be (404).
// A HEAD request is answered once the first read has lines.
func (s *Server) streamDayText(c echo.Context, r store.Room, date string, day time.Time, from, to int64, first []store.Event, firstMsgs map[id.EventID]*shown, turn func()) error {
	ctx := c.Request().Context()
	defer func() { turn() }() // the turn held (takeDayRead): given back before each write
	var (
		out    io.Writer // nil until the first line
		zw     *gzip.Writer
		buf    []byte
		noted  []ircLogs
		evs    = first
		msgs   = firstMsgs
		more   = true
		err    error
		failed = func(err error) error {
			if out == nil {
				return err // nothing sent: the error handler answers
			}
			s.log.Warn("the text log of a busy day was cut short", "path", c.Request().URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		}
	)
	// Which names its lines follow with their sender's ID is the whole
	// day's to say, not each read's: two Bobs speaking in different reads
	// are told apart as in the whole day's log.
	names, err := s.dayNameClashes(ctx, r, from, to)
	if err != nil {
		return failed(err)
	}
	for {
		if msgs == nil { // a read's messages, its relations bounded as it was
			var kept int
			if msgs, kept, err = s.shownDay(ctx, r.ID, evs, s.opts.TextReadBytes); err != nil {
				return failed(err)
			}
			if kept < len(evs) {
				evs, more = evs[:kept], true
			}
		}
		var polls map[id.EventID]*pollView
		if polls, err = s.polls(ctx, r, evs, ""); err != nil {
			return failed(err)
		}
		var q renderQueue
		lines := s.textLogLines(evs, msgs, polls, names, &q)
		if len(lines) > 0 {
			if err := s.run(ctx, &q); err != nil {
				return failed(err)
			}
			if out == nil {
				out, zw = s.startTextStream(c, day)
				if c.Request().Method == http.MethodHead {
					return nil // the rest would be read only to be dropped
				}
				buf = append(append(buf, textLogHeader(r, date, ircTextNote(evs, &noted))...), '\n')
				buf = appendTextLogLines(buf, lines)
			} else {
				buf = appendNotedLines(buf, evs, msgs, polls, lines, &noted)
			}
			turn()
			if _, err := out.Write(buf); err != nil {
				s.log.Debug("the text log of a busy day was not read to its end", "path", c.Request().URL.Path, "err", err)
				return nil // the client is gone
			}
			buf = buf[:0]
			if zw != nil {
				if err := zw.Flush(); err != nil {
					return nil
				}
			}
			_ = http.NewResponseController(c.Response().Writer).Flush()
		}
		if !more || len(evs) == 0 {
			break
		}
		pos := store.PositionOf(evs[len(evs)-1])
		evs, msgs = nil, nil // not held while the next turn is waited for
		turn()               // if this read had no lines to write
		if turn, err = s.takeDayRead(c); err != nil {
			turn = func() {}
			return failed(err)
		}
		evs, more, err = s.store.DayPage(ctx, r.ID, from, to, pos, s.opts.APIDayPageSize, s.opts.TextReadBytes)
		if err != nil {
			return failed(err)
		}
	}
	if out == nil {
		return s.sendDayText(c, r, date, day, nil, nil)
	}
	if zw != nil {
		_ = zw.Close() // an error is a client gone, as a failed write above
	}
	return nil
}

// startTextStream sends a streamed text log's status and headers (those
// sendValidated sends, but the ETag) and returns where its body goes,
// and the gzip writer in between if the client takes gzip.
func (s *Server) startTextStream(c echo.Context, day time.Time) (io.Writer, *gzip.Writer) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/plain; charset=utf-8")
	if s.cache != nil {
		h.Add("Vary", "Accept-Encoding")
	}
	s.cacheHeaders(c, "", day)
	var zw *gzip.Writer
	if s.cache != nil && acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
		h.Set(echo.HeaderContentEncoding, "gzip")
		zw, _ = gzip.NewWriterLevel(c.Response(), gzip.BestSpeed) // a valid level: no error
	}
	c.Response().WriteHeader(http.StatusOK)
	if zw != nil {
		return zw, zw
	}
	return c.Response(), nil
}

// appendNotedLines appends lines, those of the messages of evs that msgs
// shows and of its polls, to b, and names each IRC log not in noted in a "# " line right
// before its first line.
func appendNotedLines(b []byte, evs []store.Event, msgs map[id.EventID]*shown, polls map[id.EventID]*pollView, lines []textLogLine, noted *[]ircLogs) []byte {
	n, from := 0, 0
	for i := range evs {
		if msgs[evs[i].ID] == nil && polls[evs[i].ID] == nil {
			continue
		}
		if notes := ircTextNote(evs[i:i+1], noted); len(notes) > 0 {
			b = appendTextLogLines(b, lines[from:n])
			for _, l := range notes {
				b = append(append(append(b, "# "...), logField(l)...), '\n')
			}
			from = n
		}
		n++
	}
	return appendTextLogLines(b, lines[from:])
}
