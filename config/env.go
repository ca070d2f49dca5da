package config

import (
	"fmt"
	"sort"
	"strings"
)

// envNotConfig lists the MXARCHIVE_ environment variables that are not
// configuration keys, so Load lets them through: every other MXARCHIVE_
// variable must name a key, or Load refuses it (a misspelt override would
// otherwise fall back to the default without a word). A name ending in
// "*" is a prefix. Keep this list in step with the scripts, tests, CI
// (.ci/), the Makefile and the docs: TestEnvNamesInRepository fails on a
// MXARCHIVE_ name used there that is neither a key nor listed here.
var envNotConfig = []string{
	"MXARCHIVE_TEST_*",        // test switches: MXARCHIVE_TEST_POSTGRES (internal/pgtest, Makefile), MXARCHIVE_TEST_CORPUS (internal/corpus)
	"MXARCHIVE_BENCH_*",       // archive-bench: MXARCHIVE_BENCH_POSTGRES (cmd/archive-bench, Makefile)
	"MXARCHIVE_CHROMIUM",      // browser tests: the Chromium binary (internal/browsertest)
	"MXARCHIVE_SCREENSHOTS",   // browser tests: where screenshots go (internal/browsertest, Makefile)
	"MXARCHIVE_AXE",           // browser tests: the axe-core script (internal/browsertest/axe.go)
	"MXARCHIVE_CACHE",         // scripts/build-dendrite.sh, scripts/build-versitygw.sh: their build cache
	"MXARCHIVE_DENDRITE_BIN",  // end-to-end tests: a Dendrite binary (internal/dendritetest)
	"MXARCHIVE_VERSITYGW_BIN", // S3 tests: a versitygw binary (internal/s3test)
}

// envExempt reports whether name is one of envNotConfig.
func envExempt(name string) bool {
	for _, n := range envNotConfig {
		if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(name, p) || name == n {
			return true
		}
	}
	return false
}

// checkEnvNames refuses every MXARCHIVE_ variable of env that is neither
// a configuration key (known, as applyEnv saw them) nor exempt, like an
// unknown key in the file.
func checkEnvNames(env map[string]string, known map[string]bool) error {
	var bad []string
	for name := range env {
		if !known[name] && !envExempt(name) {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	msgs := make([]string, len(bad))
	for i, name := range bad {
		msgs[i] = "environment variable " + name + " names no configuration key"
		if s := closestEnvName(name, known); s != "" {
			msgs[i] += " (did you mean " + s + "?)"
		}
	}
	return fmt.Errorf("%s: fix its name or unset it (each key of the file is MXARCHIVE_ and its path in capitals, like MXARCHIVE_WEB_BASE_URL for web.base_url)", strings.Join(msgs, "; "))
}

// closestEnvName returns the known name the misspelt one most likely
// meant, or "" when none is close: the same but for underscores
// (MXARCHIVE_DATADIR), the only one with the same words in the same
// order and more (RETENTION_MAX_LIFETIME for RETENTION_DEFAULT_MAX_LIFETIME),
// or one a few letters away (MXARCHIVE_DATABASE_URL).
func closestEnvName(name string, known map[string]bool) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	squash := func(s string) string { return strings.ReplaceAll(s, "_", "") }
	for _, k := range names {
		if squash(k) == squash(name) {
			return k
		}
	}
	words := strings.Split(strings.TrimPrefix(name, EnvPrefix), "_")
	var subset []string
	for _, k := range names {
		// name's words, in order, among k's.
		n := 0
		for _, w := range strings.Split(strings.TrimPrefix(k, EnvPrefix), "_") {
			if n < len(words) && w == words[n] {
				n++
			}
		}
		if n == len(words) {
			subset = append(subset, k)
		}
	}
	if len(subset) == 1 {
		return subset[0]
	}
	best, bestD := "", 4 // at most 3 edits away
	for _, k := range names {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
