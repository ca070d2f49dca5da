package indexer

import "time"

// SetWait replaces the timer Follow waits on between rounds, so tests
// can count its back-off without waiting for it.
func (ix *Indexer) SetWait(wait func(time.Duration) <-chan time.Time) { ix.wait = wait }
