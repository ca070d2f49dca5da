package indexer

import (
	"fmt"
	"testing"
)

// A run of words is searched by the terms its index holds: an index of
// format 7 or older by the pairs themselves (two words exactly by their
// one pair), one of format 8 by the pairs' buckets, required with the
// words and checked against the store, and one without pairs by the
// words alone.
func TestSearchTermsFollowTheIndex(t *testing.T) {
	b := func(x, y string) string { return string(pairBucket([]byte(x), []byte(y), pairBuckets)) }
	for _, c := range []struct {
		a             pairsAnalyzer
		ws            []string
		terms, filter string
		exact         bool
	}{
		{pairsAnalyzer{buckets: pairBuckets}, []string{"apt"}, `["apt"]`, `[]`, true},
		{pairsAnalyzer{buckets: pairBuckets}, []string{"apt", "get"}, fmt.Sprintf("%q", []string{b("apt", "get")}), `["apt" "get"]`, false},
		{pairsAnalyzer{buckets: pairBuckets}, []string{"a", "b", "a", "b"}, fmt.Sprintf("%q", []string{b("a", "b"), b("b", "a")}), `["a" "b"]`, false},
		// The two longest words only.
		{pairsAnalyzer{buckets: pairBuckets}, []string{"sudo", "apt", "get", "install"},
			fmt.Sprintf("%q", []string{b("sudo", "apt"), b("apt", "get"), b("get", "install")}), `["install" "sudo"]`, false},
		{pairsAnalyzer{}, []string{"apt"}, `["apt"]`, `[]`, true},
		{pairsAnalyzer{}, []string{"apt", "get"}, `["apt get"]`, `[]`, true},
		{pairsAnalyzer{}, []string{"sudo", "apt", "get"}, `["sudo apt" "apt get"]`, `[]`, false},
		{pairsAnalyzer{none: true}, []string{"apt", "get"}, `["apt" "get"]`, `[]`, false},
	} {
		terms, filter, exact := searchTerms(c.a, c.ws)
		if fmt.Sprintf("%q", terms) != c.terms || fmt.Sprintf("%q", filter) != c.filter || exact != c.exact {
			t.Errorf("%+v %q: %q, filter %q, exact %v; want %s, %s, %v", c.a, c.ws, terms, filter, exact, c.terms, c.filter, c.exact)
		}
	}
	// A bucket is no word: it begins with the separator no word holds.
	if got := b("apt", "get"); len(got) != 3 || got[0] != ' ' {
		t.Errorf("bucket %q", got)
	}
}
