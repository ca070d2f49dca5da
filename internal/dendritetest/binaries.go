package dendritetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvBin names an environment variable that, when set, points at a directory
// holding already-built Dendrite binaries (dendrite, generate-keys); Binaries
// then uses it instead of running scripts/build-dendrite.sh.
const EnvBin = "MXARCHIVE_DENDRITE_BIN"

// buildTimeout bounds scripts/build-dendrite.sh: about 5 minutes cold on
// 2 cores, so this only catches a hung build.
const buildTimeout = 20 * time.Minute

// The build is attempted at most once per test binary; later callers reuse
// the result, including a failure.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// Binaries returns the directory with Dendrite's binaries (dendrite,
// generate-keys, create-account), building them with
// scripts/build-dendrite.sh on first use (a few minutes, then cached under
// ~/.cache/mxarchive). If they cannot be had, the test is skipped, or failed
// when CI=true, with the reason.
func Binaries(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binDir, binErr = findBinaries() })
	if binErr != nil {
		unavailable(t, "dendritetest: Dendrite is not available: %v", binErr)
	}
	return binDir
}

// unavailable fails the test under CI=true and skips it otherwise: CI must
// not silently lose the end-to-end tests.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set CI=true to make this a failure)", args...)
}

func findBinaries() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if err := checkBinaries(dir); err != nil {
			return "", fmt.Errorf("$%s: %w", EnvBin, err)
		}
		return dir, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "build-dendrite.sh")
	if _, err := os.Stat(script); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, lastLines(stderr.String(), 30))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", fmt.Errorf("%s printed no directory\n%s", script, lastLines(stderr.String(), 30))
	}
	if err := checkBinaries(dir); err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	return dir, nil
}

func checkBinaries(dir string) error {
	for _, b := range []string{"dendrite", "generate-keys"} {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, b))
		}
	}
	return nil
}

// moduleRoot finds the directory holding mxarchive's go.mod: two levels up
// from this file, or (for a -trimpath build, where the file name is not a
// path on disk) whatever `go env GOMOD` says for the working directory.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("cannot find the module root (no go.mod)")
	}
	return filepath.Dir(gomod), nil
}

// lastLines returns at most the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
