package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestQueryTimeoutBoundsEachQuery: the read timeout bounds each query of a
// long IN list, not the whole list. The indexer's catch-up asks Related for
// thousands of messages at once; under load, twenty chunks that each took
// well under the timeout ran past it together, and the index stopped
// following the store ("related events: timeout"). One query slower than
// the timeout still fails. PostgreSQL only: it can sleep inside a query.
func TestQueryTimeoutBoundsEachQuery(t *testing.T) {
	st := storetest.Open(t, "postgres")
	ctx := context.Background()
	st.SetQueryTimeout(400 * time.Millisecond)
	ids := make([]id.EventID, 3*store.MaxIDsPerQuery)
	for i := range ids {
		ids[i] = id.EventID(fmt.Sprintf("$e%d", i))
	}
	// Three queries of 0.25 s: 0.75 s in all, each within 0.4 s.
	if _, err := st.SlowInQuery(ctx, 0.25, ids); err != nil {
		t.Fatalf("three queries each within the timeout: %v", err)
	}
	// One query of 0.6 s is past it.
	_, err := st.SlowInQuery(ctx, 0.6, ids[:1])
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !containsTimeout(err) {
		t.Fatalf("one query past the timeout: got %v, want a timeout", err)
	}
}

func containsTimeout(err error) bool {
	s := err.Error()
	return strings.Contains(s, "timeout") || strings.Contains(s, "deadline") || strings.Contains(s, "canceling statement")
}
