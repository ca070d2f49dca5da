package web_test

import (
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// BenchmarkMediaServe measures serving one archived image through the
// whole handler (the per-request visibility check against the store, the
// open, the headers, the bytes), and reports p50 and p99 besides the mean:
//
//	go test -run '^$' -bench BenchmarkMediaServe -benchtime 2000x ./web/
func BenchmarkMediaServe(b *testing.B) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			room := filepath.Join(b.TempDir(), "room.ndjson")
			lines := []string{
				`{"event_id":"$c","room_id":"!x:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"3"}}`,
				`{"event_id":"$hv","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
				msgLine("$png", 1767225601000, `{"msgtype":"m.image","body":"shot.png","url":"mxc://example.org/png"}`),
			}
			if err := os.WriteFile(room, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
				b.Fatal(err)
			}
			e := newMediaEnv(b, st, room)
			// A 640×480 PNG of noise: 1.2 MB, larger than a typical screenshot,
			// so the copy is not flattered.
			img := image.NewRGBA(image.Rect(0, 0, 640, 480))
			r := rand.New(rand.NewPCG(1, 2))
			for i := range img.Pix {
				img.Pix[i] = byte(r.IntN(64))
			}
			var buf bytes.Buffer
			png.Encode(&buf, img)
			blob := e.fetch(b, "mxc://example.org/png", buf.String())
			durs := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/example.org/png", nil))
				durs = append(durs, time.Since(start))
				if rec.Code != http.StatusOK || rec.Body.Len() != buf.Len() {
					b.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(blob.Size), "bytes/image")
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
		})
	}
}
