package corpus

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// With the corpus pointed at a missing directory, tests read the bundled
// sample: real chat, with the channels the tests need.
func TestDirFallsBackToTheSample(t *testing.T) {
	t.Setenv(EnvDir, filepath.Join(t.TempDir(), "missing"))
	t.Setenv("CI", "")
	dir, src, err := Dir()
	if err != nil || src != Sample {
		t.Fatalf("Dir() = %q, %v, %v; want the sample", dir, src, err)
	}
	if !strings.HasSuffix(filepath.ToSlash(dir), "testdata/corpus-sample/ubuntu-irc") {
		t.Errorf("sample at %s", dir)
	}
	logs, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]int{}
	for _, l := range logs {
		channels[l.channel] += len(l.lines)
	}
	if channels["ubuntu"] < 1000 {
		t.Errorf("the sample holds %v messages by channel", channels)
	}
}

// Under CI a missing corpus fails, saying what is missing and how to point
// at it, instead of quietly testing on less.
func TestDirRefusesTheSampleUnderCI(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv(EnvDir, missing)
	t.Setenv("CI", "true")
	dir, _, err := Dir()
	if err == nil {
		t.Fatalf("Dir() = %q under CI with the corpus missing", dir)
	}
	for _, want := range []string{missing, "CI=true", EnvDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A corpus that is there is used, under CI too.
func TestDirUsesTheCorpusNamed(t *testing.T) {
	there := t.TempDir()
	t.Setenv(EnvDir, there)
	t.Setenv("CI", "true")
	if dir, src, err := Dir(); err != nil || src != Shared || dir != there {
		t.Fatalf("Dir() = %q, %v, %v; want %s", dir, src, err, there)
	}
}

// Every test and the benchmark find the corpus through Dir: no Go file
// spells out the shared corpus's path in a string of its own.
func TestNoOtherPathToTheCorpus(t *testing.T) {
	t.Setenv(EnvDir, "")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`"[^"\n]*shared/` + `corpus`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if literal.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d names the corpus's path; use corpus.Dir: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
