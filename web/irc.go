package web

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// Lines imported from IRC logs say so: each carries its provenance
// (irclog.ProvenanceKey), shown as a marker on the line and, on a day
// page, as a note naming the logs the day's lines came from.

// ircOrigin is where one imported line came from.
type ircOrigin struct {
	Network, Channel, Source string
	Line                     int
	Nick, NewNick            string // NewNick: the line was a nick change
}

// ircOriginOf reads an event's IRC provenance; nil for a Matrix event or
// one whose content is gone (redacted, opted out).
func ircOriginOf(e *store.Event) *ircOrigin {
	if !strings.HasPrefix(string(e.ID), "$irc-") {
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
		m := it.Message
		if m == nil || m.IRC == nil {
			continue
		}
		i := slices.IndexFunc(out, func(l ircLogs) bool { return l.Network == m.IRC.Network && l.Channel == m.IRC.Channel })
		if i < 0 {
			out = append(out, ircLogs{Network: m.IRC.Network, Channel: m.IRC.Channel})
			i = len(out) - 1
		}
		if !slices.Contains(out[i].Files, m.IRC.Source) {
			out[i].Files = append(out[i].Files, m.IRC.Source)
		}
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
