//go:build race

package indexer

// raceEnabled: the race detector makes Bleve's analysis some ten times
// slower, so the longest exhaustive comparisons are cut short under it.
const raceEnabled = true
