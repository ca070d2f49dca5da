package store

import (
	"context"

	"maunium.net/go/mautrix/id"
)

// ReadState is where the archive stands for a reader that keeps what it
// read (web's page keys): head is a change-feed position every read that
// starts after this call sees at least (every write feeds the change in
// its own transaction, and writers are serialised, so positions commit in
// order), and cutoff is the time (ms) before which room's non-state events
// have expired now (0: none have; it moves with the clock, with no change
// in the feed). It costs the one query the read-side screening makes
// anyway to know its copy of opt-outs and policies is current.
func (s *Store) ReadState(ctx context.Context, room id.RoomID) (head, cutoff int64, err error) {
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return 0, 0, err
	}
	// consentView has just read the feed's head into c.pos (or another
	// read moved it further, having read a later head itself): either way
	// a head read before now.
	s.consent.mu.Lock()
	head = s.consent.pos
	s.consent.mu.Unlock()
	return head, s.expiredBefore(roomMax, room), nil
}
