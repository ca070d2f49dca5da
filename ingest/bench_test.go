package ingest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// BenchmarkImport measures importing a 20,000-event NDJSON file into a fresh
// store, per dialect. For the full-size figure use the bench command:
// archive-bench gen -n 1000000 -o f.ndjson && time archiver import f.ndjson.
func BenchmarkImport(b *testing.B) {
	lines := header("world_readable")
	for i := range 20_000 - len(lines) {
		lines = append(lines, msg(fmt.Sprintf("$b%06d", i), int64(1000+i), fmt.Sprintf("benchmark message %d with some ordinary words in it", i)))
	}
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			path := writeLinesB(b, lines)
			for b.Loop() {
				b.StopTimer()
				st := storetest.Open(b, dialect)
				in := ingest.New(st, storetest.Logger(b))
				b.StartTimer()
				if _, err := in.ImportFile(context.Background(), path, ingest.ImportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
