package web

import "github.com/mxarchive/mxarchive/store"

// The archive's words for what the store reports as facts: why a room or a
// message is not shown. They live here, in one place, so that the pages,
// the text logs and the API say the same thing, and the store says none of
// it.

// roomGone says to a reader why a room the archive does not show is gone.
func roomGone(r store.Room) string {
	switch r.Hiding() {
	case store.HiddenPurged:
		return "The archive's operator has removed this room from the archive."
	case store.HiddenByOperator:
		if r.HiddenReason != "" {
			return "The archive's operator has hidden this room: " + r.HiddenReason
		}
		return "The archive's operator has hidden this room."
	case store.HiddenBotBanned:
		return "The room's moderators banned the archive from this room, so it is no longer shown."
	case store.HiddenBotLeft:
		return "The archive is no longer a member of this room, so it is no longer shown."
	case store.HiddenNotPublic:
		return "This room's history is no longer readable by anyone, so the archive no longer shows it."
	}
	return ""
}

// optOutNotice is what readers see in place of an opted-out user's message.
const optOutNotice = "hidden at the sender's request"

// What a withdrawn message's place on a page says, by what withdrew it.
const (
	deletedOptOut   = "Hidden at the sender's request"
	deletedTakedown = "Removed by the archive's operator"
)

// withdrawnNotice is how a withdrawn message reads in plain text (the text
// log, the API): deleted by a redaction, removed by the operator, or
// hidden at the sender's request.
func withdrawnNotice(r store.Redaction) string {
	switch r.Kind {
	case store.RedactionOptOut:
		return optOutNotice
	case store.RedactionTakedown:
		return "removed by the archive's operator"
	}
	return "message deleted"
}

// withdrawnReason is the reason the API gives: the redaction's own, or for
// an opt-out, which has none, the notice, as it always has.
func withdrawnReason(r store.Redaction) string {
	if r.Kind == store.RedactionOptOut {
		return optOutNotice
	}
	return r.Reason
}
