package gcpolicy

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPretouchedHeapDoesNotFault: memory the heap takes after Pretouch,
// within StartFloor's floor, is memory the process already has: writing
// to it is no page fault. Each case runs in a process of its own (this
// test binary again), whose heap nothing else has grown.
func TestPretouchedHeapDoesNotFault(t *testing.T) {
	if mode := os.Getenv("GCPOLICY_FAULTS_CHILD"); mode != "" {
		faultsChild(mode)
		return
	}
	faults := func(mode string) int64 {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPretouchedHeapDoesNotFault$")
		cmd.Env = append(os.Environ(), "GCPOLICY_FAULTS_CHILD="+mode, "GOGC=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		var n int64
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "faults "); ok {
				n, err = strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", mode, line, err)
				}
				return n
			}
		}
		t.Fatalf("%s: no count in\n%s", mode, out)
		return 0
	}
	cold, warm := faults("start"), faults("pretouch")
	t.Logf("32 MiB allocated and written: %d page faults after Start, %d after StartFloor and Pretouch", cold, warm)
	// 8,192 pages of 4 KiB; fewer faults where the system gives huge
	// pages without being asked (transparent_hugepage=always). With the
	// race detector, its shadow memory faults as well, a third of them
	// after Pretouch (8,423 against 24,660).
	bound := cold / 4
	if raceEnabled {
		bound = cold / 2
	}
	if warm > max(bound, 256) {
		t.Errorf("after Pretouch: %d page faults for 32 MiB, against %d without", warm, cold)
	}
}

// faultsChild is TestPretouchedHeapDoesNotFault's other process: it
// prints the minor page faults of allocating and writing 32 MiB, after
// Start ("start") or after StartFloor and Pretouch of 64 MiB ("pretouch").
func faultsChild(mode string) {
	const floor = 64 << 20
	if mode == "pretouch" {
		defer StartFloor(time.Hour, floor)()
		Pretouch(floor)
	} else {
		defer Start(time.Hour)()
	}
	minflt := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			panic(err)
		}
		return ru.Minflt
	}
	keep := make([][]byte, 0, 512)
	before := minflt()
	for range 512 {
		b := make([]byte, 64<<10)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	after := minflt()
	runtime.KeepAlive(keep)
	fmt.Printf("faults %d\n", after-before)
}
