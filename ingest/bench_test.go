package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

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
				in := ingest.New(st, storetest.Logger(b), "")
				b.StartTimer()
				if _, err := in.ImportFile(context.Background(), path, ingest.ImportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkTransactionAck measures the appservice's ack latency for
// 100-event transactions over HTTP to the real handler, through to commit,
// per dialect, and reports p50 and p99.
func BenchmarkTransactionAck(b *testing.B) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			// As `archiver run` does: on PostgreSQL its writes then ask
			// whether the lock is still held (store.lockedWriteSQL).
			lock, err := st.LockArchiver(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer lock.Release()
			as := ingest.NewAppService(ingest.New(st, storetest.Logger(b), "@archive:example.org"), hsToken, nil, storetest.Logger(b))
			srv := httptest.NewServer(as.Handler())
			defer srv.Close()
			send := func(txn int, lines []string) time.Duration {
				req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/_matrix/app/v1/transactions/%d", srv.URL, txn),
					strings.NewReader(txnBody(lines...)))
				req.Header.Set("Authorization", "Bearer "+hsToken)
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("transaction %d: %v %v", txn, resp, err)
				}
				resp.Body.Close()
				return time.Since(start)
			}
			send(0, header("world_readable"))
			var lat []time.Duration
			txn := 0
			for b.Loop() {
				txn++
				lines := make([]string, 100)
				for i := range lines {
					n := txn*100 + i
					lines[i] = msg(fmt.Sprintf("$t%08d", n), int64(10+n), fmt.Sprintf("message %d in a transaction of a hundred, with ordinary words", n))
				}
				lat = append(lat, send(txn, lines))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}
