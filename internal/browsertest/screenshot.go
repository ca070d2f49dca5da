package browsertest

import (
	"os"
	"path/filepath"
	"testing"
)

// envScreenshots names the folder screenshots are written to.
const envScreenshots = "MXARCHIVE_SCREENSHOTS"

// ScreenshotDir is where screenshots go for review: $MXARCHIVE_SCREENSHOTS,
// or bin/screenshots in the module (ignored by git). root is the path from
// the test's package to the module root.
func ScreenshotDir(t testing.TB, root string) string {
	t.Helper()
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		dir = filepath.Join(root, "bin", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: screenshot folder: %v", err)
	}
	return dir
}

// SaveScreenshot writes a full-page PNG of the open page to dir/name.png.
func (tab *Tab) SaveScreenshot(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".png"), tab.Screenshot(t), 0o644); err != nil {
		t.Fatalf("browsertest: save screenshot: %v", err)
	}
}
