package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/store"
)

// roomStatus is one room as `archiver status --json` prints it.
type roomStatus struct {
	RoomID string `json:"room_id"`
	Name   string `json:"name,omitempty"`
	// State is recording, hidden, purged, not_public, left, banned or
	// imported (never joined by the bot).
	State             string     `json:"state"`
	HiddenReason      string     `json:"hidden_reason,omitempty"`
	HistoryVisibility string     `json:"history_visibility,omitempty"`
	Messages          int64      `json:"messages"`
	LastEventAt       *time.Time `json:"last_event_at,omitempty"`
	// CompleteFrom: history is complete from then on; ReachedCreate: back
	// to the room's creation.
	CompleteFrom   *time.Time `json:"complete_from,omitempty"`
	ReachedCreate  bool       `json:"reached_create"`
	Backfill       string     `json:"backfill"` // never, complete, failed, refused
	BackfillError  string     `json:"backfill_error,omitempty"`
	BackfillNextAt *time.Time `json:"backfill_next_at,omitempty"`
	NotPublicSince *time.Time `json:"not_public_since,omitempty"`
	MediaPending   int64      `json:"media_pending"`
	MediaGaveUp    int64      `json:"media_gave_up"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func statusOf(s store.RoomStatus) roomStatus {
	r := s.Room
	out := roomStatus{RoomID: string(r.ID), Name: r.Name, HiddenReason: r.HiddenReason, HistoryVisibility: r.HistoryVisibility,
		Messages: r.MessageCount, CompleteFrom: timePtr(s.Sync.CompleteFrom), ReachedCreate: s.Sync.ReachedCreate,
		Backfill: s.Sync.Backfill, BackfillError: s.Sync.BackfillError, NotPublicSince: timePtr(s.Sync.NotPublicSince),
		MediaPending: s.MediaPending, MediaGaveUp: s.MediaGaveUp}
	if r.LastTS > 0 {
		out.LastEventAt = timePtr(time.UnixMilli(r.LastTS).UTC())
	}
	if out.Backfill == "" {
		out.Backfill = "never"
	}
	if out.Backfill == store.BackfillFailed {
		out.BackfillNextAt = timePtr(s.Sync.BackfillNextAt)
	}
	switch {
	case r.Purged:
		out.State = "purged"
	case r.Hidden:
		out.State = "hidden"
	case r.BotMembership == "ban":
		out.State = "banned"
	case r.BotMembership == "leave" || r.BotMembership == "invite":
		out.State = "left"
	case r.HistoryVisibility != "" && r.HistoryVisibility != "world_readable":
		out.State = "not_public"
	case r.BotMembership == "":
		out.State = "imported"
	default:
		out.State = "recording"
	}
	return out
}

// statusCmd prints every room's recording status.
func statusCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "one JSON object per room")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openArchive(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	all, err := st.RoomStatuses(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, s := range all {
		rs := statusOf(s)
		if *asJSON {
			if err := enc.Encode(rs); err != nil {
				return err
			}
			continue
		}
		// Names and reasons come from room members and operators:
		// quoted, so none can forge a line.
		line := fmt.Sprintf("%s %s  %s", rs.RoomID, strconv.Quote(rs.Name), rs.State)
		if rs.HiddenReason != "" {
			line += " " + strconv.Quote(rs.HiddenReason)
		}
		if rs.LastEventAt != nil {
			line += "  last event " + rs.LastEventAt.Format(time.RFC3339)
		}
		switch {
		case rs.ReachedCreate:
			line += "  history complete"
		case rs.CompleteFrom != nil:
			line += "  history from " + rs.CompleteFrom.Format(time.DateOnly)
		}
		line += "  backfill " + rs.Backfill
		if rs.BackfillError != "" {
			line += " " + strconv.Quote(rs.BackfillError)
		}
		line += fmt.Sprintf("  media pending %d, gave up %d", rs.MediaPending, rs.MediaGaveUp)
		if _, err := fmt.Fprintln(stdout, line); err != nil {
			return err
		}
	}
	return nil
}
