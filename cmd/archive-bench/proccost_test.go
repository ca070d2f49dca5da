//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

func TestMinorFaults(t *testing.T) {
	for _, c := range []struct {
		stat string
		want int64
		ok   bool
	}{
		{"4242 (archive-web) S 1 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 9 0 100 1000 200", 1234, true},
		// A command named to confuse: spaces and parentheses in it.
		{"7 (a) b (c) d) R 1 7 7 0 -1 0 99 0 0 0 1 1", 99, true},
		{"7 (no end S 1 7 7 0 -1 0 99", 0, false},
		{"7 (short) S 1 7", 0, false},
		{"7 (x) S 1 7 7 0 -1 0 many 0", 0, false},
	} {
		got, ok := minorFaults(c.stat)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %d, %v; want %d, %v", c.stat, got, ok, c.want, c.ok)
		}
	}
	if ns, ok := schedstatNS("123456789 1000 42\n"); !ok || ns != 123456789 {
		t.Errorf("schedstat: %d, %v", ns, ok)
	}
	if _, ok := schedstatNS(""); ok {
		t.Error("an empty schedstat read")
	}
}

// TestReadProcCost reads this process's cost around work of a known kind:
// CPU time spent, and 256 pages of fresh memory touched.
func TestReadProcCost(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, ok := readProcCost(os.Getpid()); ok {
			t.Fatal("read /proc where there is none")
		}
		return
	}
	before, ok := readProcCost(os.Getpid())
	if !ok {
		t.Fatal("this process's cost not read")
	}
	const pages = 256
	b, err := syscall.Mmap(-1, 0, pages*4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	x := 0
	for i := range 20_000_000 {
		x ^= i * i
	}
	after, ok := readProcCost(os.Getpid())
	if !ok {
		t.Fatal("this process's cost not read again")
	}
	if d := after.faults - before.faults; d < pages {
		t.Errorf("%d faults counted for %d fresh pages touched", d, pages)
	}
	if d := after.cpuNS - before.cpuNS; d <= 0 {
		t.Errorf("CPU time %d ns after a busy loop (%d)", d, x)
	}
	if _, ok := readProcCost(1 << 30); ok {
		t.Error("the cost of a process that does not exist read")
	}
}
