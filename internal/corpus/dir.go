package corpus

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvDir names the environment variable that points tests and benchmarks at
// a copy of the ubuntu-irc corpus other than the one beside the repository.
const EnvDir = "MXARCHIVE_TEST_CORPUS"

// modulePath identifies the repository's go.mod while walking up.
const modulePath = "github.com/mxarchive/mxarchive"

// Source says where Dir found the corpus.
type Source int

const (
	// Shared is the whole corpus: $MXARCHIVE_TEST_CORPUS, else
	// ../shared/corpus/ubuntu-irc beside the repository.
	Shared Source = iota
	// Sample is the small sample bundled in testdata/corpus-sample, read
	// where the whole corpus is absent so that a fresh clone's tests and
	// benchmark still run on real chat.
	Sample
)

// Dir returns the ubuntu-irc corpus directory that tests and archive-bench
// read, so that one function, not every test, knows where it lives: the
// directory $MXARCHIVE_TEST_CORPUS names, else ../shared/corpus/ubuntu-irc
// beside the repository (found by walking up from the working directory to
// this module's go.mod), else the bundled sample. Under CI=true a missing
// corpus is an error instead: CI must measure and test on the whole corpus,
// and a silent fallback would hide that it did not.
func Dir() (string, Source, error) {
	root, rootErr := repoRoot()
	want := os.Getenv(EnvDir)
	if want == "" && rootErr == nil {
		want = filepath.Join(root, "..", "shared", "corpus", "ubuntu-irc")
	}
	if want != "" && isDir(want) {
		return want, Shared, nil
	}
	missing := want
	if missing == "" {
		missing = filepath.Join("..", "shared", "corpus", "ubuntu-irc") + " (" + rootErr.Error() + ")"
	}
	if os.Getenv("CI") == "true" {
		return "", Shared, fmt.Errorf("the IRC corpus %s is missing, and CI=true requires it (set %s to its ubuntu-irc directory)", missing, EnvDir)
	}
	if rootErr != nil {
		return "", Sample, fmt.Errorf("the IRC corpus %s is missing, and so is the bundled sample: %w", missing, rootErr)
	}
	sample := filepath.Join(root, "testdata", "corpus-sample", "ubuntu-irc")
	if !isDir(sample) {
		return "", Sample, fmt.Errorf("the IRC corpus %s is missing, and so is the bundled sample %s", missing, sample)
	}
	return sample, Sample, nil
}

// repoRoot is the nearest directory at or above the working directory whose
// go.mod declares this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("not run inside the mxarchive repository")
		}
		dir = up
	}
}

func declaresModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(rest) == modulePath
		}
	}
	return false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
