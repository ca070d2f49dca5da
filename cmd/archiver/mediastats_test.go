package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `archiver media stats` shows the usage against media.max_total.
func TestMediaStatsShowsQuota(t *testing.T) {
	t.Setenv("MXARCHIVE_DATA_DIR", t.TempDir())
	for quota, want := range map[string]string{
		"1000": "quota: 0 of 1000 bytes used (0.0%); 0 waiting for space",
		"0":    "quota: none (media.max_total 0); 0 bytes used",
	} {
		t.Setenv("MXARCHIVE_MEDIA_MAX_TOTAL", quota)
		var out, errs bytes.Buffer
		if err := run(context.Background(), []string{"media", "stats"}, &out, &errs); err != nil {
			t.Fatalf("media stats: %v\n%s", err, errs.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("media.max_total %s: %q, want %q", quota, out.String(), want)
		}
	}
}
