package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// AxeVersion is the axe-core release the accessibility check runs, pinned
// so that a new rule upstream cannot fail a build that changed nothing.
const AxeVersion = "4.14.1"

// envAxe names an axe.min.js to use instead of the npm-installed one.
const envAxe = "MXARCHIVE_AXE"

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// Axe returns axe-core's source, installing it with npm into
// ~/.cache/mxarchive/axe-core-VERSION on first use (.ci/run does it
// beforehand). Missing: the test skips, or fails when CI=true.
func Axe(t testing.TB) string {
	t.Helper()
	axeOnce.Do(func() { axeSource, axeErr = loadAxe() })
	if axeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: axe-core is unavailable: %v", axeErr)
		}
		t.Skipf("browsertest: axe-core is unavailable (install node and npm, or set %s): %v", envAxe, axeErr)
	}
	return axeSource
}

func loadAxe() (string, error) {
	path := os.Getenv(envAxe)
	if path == "" {
		cache, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir := filepath.Join(cache, ".cache", "mxarchive", "axe-core-"+AxeVersion)
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := installAxe(dir); err != nil {
				return "", err
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read axe-core: %w", err)
	}
	return string(b), nil
}

func installAxe(dir string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is needed to install axe-core %s: %w", AxeVersion, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", "axe-core@"+AxeVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install axe-core@%s: %w\n%s", AxeVersion, err, out)
	}
	return nil
}

// Violation is one axe rule a page breaks, with where.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s (%s): %s", v.ID, v.Impact, v.Help)
	for i, n := range v.Nodes {
		if i == 3 {
			s += fmt.Sprintf("\n    … and %d more", len(v.Nodes)-3)
			break
		}
		s += fmt.Sprintf("\n    %v %.160s", n.Target, n.HTML)
	}
	return s
}

// CheckAccessibility runs axe-core on the open page (WCAG 2.x A and AA
// rules and axe's best practices) and returns its violations. The source
// is evaluated through DevTools, which the page's CSP does not govern.
func (tab *Tab) CheckAccessibility(t testing.TB) []Violation {
	t.Helper()
	src := Axe(t)
	if !Eval[bool](t, tab, `typeof axe !== 'undefined'`) {
		Eval[bool](t, tab, src+"\n;true")
	}
	raw := Eval[string](t, tab, `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`)
	var out []Violation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("browsertest: axe result: %v", err)
	}
	return out
}
