package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// latency is a summary of measured durations, in milliseconds.
type latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// Samples are kept for the chart, not written to the JSON.
	samples []time.Duration
}

func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return latency{N: len(s), P50: ms(s[len(s)/2]), P99: ms(s[min(len(s)-1, len(s)*99/100)]), Max: ms(s[len(s)-1]), samples: s}
}

// budget bounds one measurement: at most runs, and no more than dur once
// minRuns are done, so a slow system is measured in bounded time.
type budget struct {
	runs    int
	minRuns int
	dur     time.Duration
}

// sequential runs op (after two unmeasured warm-up runs) within the budget
// and summarizes its latencies. The last result is returned too.
func sequential(ctx context.Context, b budget, op func(context.Context) (int, error)) (latency, int, error) {
	var n int
	var err error
	for range 2 {
		if n, err = op(ctx); err != nil {
			return latency{}, 0, err
		}
	}
	var lat []time.Duration
	start := time.Now()
	for i := 0; i < b.runs; i++ {
		if i >= b.minRuns && time.Since(start) > b.dur {
			break
		}
		t0 := time.Now()
		n, err = op(ctx)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return latency{}, 0, err
		}
	}
	return summarize(lat), n, nil
}

// throughput is the result of clients running operations at once.
type throughput struct {
	Clients int     `json:"clients"`
	Ops     int     `json:"ops"`
	PerSec  float64 `json:"per_second"`
	latency
}

// concurrent runs clients goroutines for dur, each calling ops in turn
// (client i starts at ops[i%len(ops)]), and reports the operations per
// second and their latency.
func concurrent(ctx context.Context, clients int, dur time.Duration, ops []func(context.Context) (int, error)) (throughput, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := c; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				_, err := ops[i%len(ops)](ctx)
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return throughput{}, firstErr
	}
	return throughput{Clients: clients, Ops: len(lat), PerSec: float64(len(lat)) / elapsed.Seconds(), latency: summarize(lat)}, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
