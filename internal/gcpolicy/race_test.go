//go:build race

package gcpolicy

// raceEnabled: the race detector writes shadow memory of its own for
// each page the test writes, which Pretouch does not touch whole.
const raceEnabled = true
