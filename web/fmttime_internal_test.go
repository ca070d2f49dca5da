package web

import (
	"math"
	"testing"
	"time"
)

// TestFmtTime holds fmtTime's time of day, read out of its timestamp, to
// formatting it with timeLayout, for years of more and fewer than four
// digits, before the epoch and at the ends of what a millisecond count
// holds.
func TestFmtTime(t *testing.T) {
	for _, ms := range []int64{
		0, 1, -1, 86399999, 1700000000123, 2320941086250,
		time.Date(1, 1, 1, 23, 59, 0, 0, time.UTC).UnixMilli(),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli(),
		time.Date(10000, 1, 1, 7, 5, 0, 0, time.UTC).UnixMilli(),
		time.Date(-44, 3, 15, 11, 30, 0, 0, time.UTC).UnixMilli(),
		math.MaxInt64, math.MinInt64,
	} {
		want := time.UnixMilli(ms).UTC()
		short, iso := fmtTime(ms)
		if short != want.Format(timeLayout) || iso != want.Format(time.RFC3339) {
			t.Errorf("fmtTime(%d) = %q, %q; want %q, %q", ms, short, iso, want.Format(timeLayout), want.Format(time.RFC3339))
		}
	}
}
