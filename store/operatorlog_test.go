package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestFindOperatorLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, a := range []store.OperatorAction{
			{At: t0, Actor: "a", Command: "takedown", Target: "$1"},
			{At: t0.Add(48 * time.Hour), Actor: "a", Command: "takedown", Target: "$2"},
			{At: t0.Add(72 * time.Hour), Actor: "b", Command: "optout", Target: "@u:x"},
			{At: t0.Add(96 * time.Hour), Actor: "b", Command: "optout", Target: "@irc_n_a:x,@irc_n_b%:x"},
		} {
			a.Affected = int64(i)
			if err := st.LogOperator(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		for name, c := range map[string]struct {
			q    store.OperatorLogQuery
			want []string
		}{
			"all":            {store.OperatorLogQuery{}, []string{"@irc_n_a:x,@irc_n_b%:x", "@u:x", "$2", "$1"}},
			"since":          {store.OperatorLogQuery{Since: t0.Add(time.Hour)}, []string{"@irc_n_a:x,@irc_n_b%:x", "@u:x", "$2"}},
			"one of several": {store.OperatorLogQuery{Target: "@irc_n_b%:x"}, []string{"@irc_n_a:x,@irc_n_b%:x"}},
			"part of one":    {store.OperatorLogQuery{Target: "@irc_n_"}, nil},
			"command":        {store.OperatorLogQuery{Command: "takedown"}, []string{"$2", "$1"}},
			"target":         {store.OperatorLogQuery{Target: "$1"}, []string{"$1"}},
			"limit":          {store.OperatorLogQuery{Limit: 1}, []string{"@irc_n_a:x,@irc_n_b%:x"}},
			"no such target": {store.OperatorLogQuery{Target: "' OR 1=1 --"}, nil},
		} {
			got, err := st.FindOperatorLog(ctx, c.q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var targets []string
			for _, a := range got {
				targets = append(targets, a.Target)
			}
			if len(targets) != len(c.want) {
				t.Errorf("%s: %v, want %v", name, targets, c.want)
				continue
			}
			for i := range targets {
				if targets[i] != c.want[i] {
					t.Errorf("%s: %v, want %v", name, targets, c.want)
				}
			}
		}
	})
}
