package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// Lines imported from IRC logs say so: each carries its provenance
// (irclog.ProvenanceKey), shown as a marker on the line and, on a day
// page, as a note naming the logs the day's lines came from.

// fromIRC says whether an event ID is one an IRC import made
// (irclog.EventID): no homeserver knows it, so it has no matrix.to link.
func fromIRC(ev id.EventID) bool { return strings.HasPrefix(string(ev), "$irc-") }

// ircRoom says whether a room is one an IRC import made (--new-room: its
// creation is an imported line): no homeserver knows it, so it has no
// matrix.to link.
func ircRoom(r store.Room) bool { return fromIRC(r.CreateEventID) }

// ircOrigin is where one imported line came from.
type ircOrigin struct {
	Network, Channel, Source string
	Line                     int
	Nick, NewNick            string // NewNick: the line was a nick change
}

// ircOriginOf reads an event's IRC provenance; nil for a Matrix event or
// one whose content is gone (redacted, opted out).
func ircOriginOf(e *store.Event) *ircOrigin {
	if !fromIRC(e.ID) {
		return nil
	}
	var c struct {
		P *irclog.Provenance `json:"org.mxarchive.irc"`
	}
	if json.Unmarshal(e.Content, &c) != nil || c.P == nil || c.P.Network == "" {
		return nil
	}
	return &ircOrigin{Network: c.P.Network, Channel: c.P.Channel, Source: c.P.Source, Line: c.P.Line, Nick: c.P.Nick, NewNick: c.P.NewNick}
}

// ircLogs are the IRC logs of one channel that lines of a page came from.
type ircLogs struct {
	Network, Channel string
	Files            []string
}

// ircNote lists the logs a page's lines came from, in order of first use.
func ircNote(items []itemView) []ircLogs {
	var out []ircLogs
	for _, it := range items {
		if it.Message != nil {
			out = addIRCLog(out, it.Message.IRC)
		}
	}
	return out
}

func addIRCLog(out []ircLogs, o *ircOrigin) []ircLogs {
	if o == nil {
		return out
	}
	i := slices.IndexFunc(out, func(l ircLogs) bool { return l.Network == o.Network && l.Channel == o.Channel })
	if i < 0 {
		out = append(out, ircLogs{Network: o.Network, Channel: o.Channel})
		i = len(out) - 1
	}
	if !slices.Contains(out[i].Files, o.Source) {
		out[i].Files = append(out[i].Files, o.Source)
	}
	return out
}

// ircTextNote is the plain-text log's header lines naming the IRC logs
// the day's messages came from. Names are the operator's file names; any
// control character (a newline would start a line of its own) is dropped.
// With noted, the logs in it are left out and those named are added to
// it: a streamed log names a read's new logs before its lines.
func ircTextNote(evs []store.Event, noted *[]ircLogs) []string {
	var logs []ircLogs
	for i := range evs {
		if evs[i].IsState() {
			continue
		}
		o := ircOriginOf(&evs[i])
		if o == nil {
			continue
		}
		if noted != nil {
			if slices.ContainsFunc(*noted, func(l ircLogs) bool {
				return l.Network == o.Network && l.Channel == o.Channel && slices.Contains(l.Files, o.Source)
			}) {
				continue
			}
			*noted = addIRCLog(*noted, o)
		}
		logs = addIRCLog(logs, o)
	}
	var out []string
	for _, l := range logs {
		line := fmt.Sprintf("Lines from IRC: %s on %s, logs %s", l.Channel, l.Network, strings.Join(l.Files, ", "))
		out = append(out, strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, line))
	}
	return out
}

// ircNickChange is the provenance of an imported nick change, nil for any
// other event.
func ircNickChange(e *store.Event) *ircOrigin {
	if o := ircOriginOf(e); o != nil && o.NewNick != "" && o.Nick != "" {
		return o
	}
	return nil
}
