package store

import (
	"fmt"
	"strings"
	"testing"
)

// repack is relPackedSQL in Go, for the values unpackRel read.
func repack(r *scanRow) string {
	k := -1
	if r.stateKey.Valid {
		k = len(r.stateKey.String)
	}
	return fmt.Sprintf("%d,%d,%d,%d,%d:%s%s%s%s%s", k, len(r.relType), len(r.relTarget), len(r.relKey), len(r.replyTo),
		r.stateKey.String, r.relType, r.relTarget, r.relKey, r.replyTo)
}

// TestUnpackRel: a packed value is read back into its five columns, and
// one that is not what relPackedSQL writes is an error, never a panic or
// a guess.
func TestUnpackRel(t *testing.T) {
	var valid []string
	for _, c := range []struct {
		key                        *string
		typ, target, relKey, reply string
	}{
		{nil, "", "", "", ""}, {ptr(""), "", "", "", ""}, {ptr("a,b:1"), "m.reference", "$x:1,2", "", ""},
		{nil, "m.annotation", "$x", "👍🏽", "$y"}, {ptr("@zoë:example.org"), "", "", "", ""}, {nil, "", "", "", "$r"},
	} {
		r := scanRow{relType: c.typ, relTarget: c.target, relKey: c.relKey, replyTo: c.reply}
		if c.key != nil {
			r.stateKey.String, r.stateKey.Valid = *c.key, true
		}
		valid = append(valid, repack(&r))
	}
	if valid[2] != "5,11,6,0,0:a,b:1m.reference$x:1,2" {
		t.Fatalf("repack wrote %q", valid[2])
	}
	for _, v := range valid {
		var r scanRow
		if err := unpackRel(v, &r); err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if got := repack(&r); got != v {
			t.Errorf("%q read back as %q", v, got)
		}
	}
	for _, v := range []string{"", ":", "0,0,0,0:", "0,0,0,0,0", "0,0,0,0,0;", "1,0,0,0,0:", "0,0,0,0,0:x", "-2,0,0,0,0:", "0,-1,0,0,1:x",
		"x,0,0,0,0:", "0,0,0,0,99999999999999999999:", "-,0,0,0,0:", "+1,0,0,0,0:x", " 1,0,0,0,0:x", "9223372036854775807,1,0,0,0:xx",
		"9223372036854775807,9223372036854775807,4,0,0:xx"} {
		var r scanRow
		if err := unpackRel(v, &r); err == nil || !strings.Contains(err.Error(), "state key and relation") {
			t.Errorf("%q: error %v", v, err)
		}
	}
}

func FuzzUnpackRel(f *testing.F) {
	for _, s := range []string{"-1,0,0,0,0:", "3,6,2,0,0:a,bm.refr:", "0,0,0,0,0:x", "1,1,1,1,1:abcde"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var r scanRow
		if unpackRel(v, &r) == nil {
			if got := repack(&r); got != v {
				t.Errorf("%q read back as %q", v, got)
			}
		}
	})
}

func ptr(s string) *string { return &s }
