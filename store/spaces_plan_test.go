package store_test

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/store"
)

// TestSpaceChildrenReadsTheirIndex: SpaceChildren, asked by every
// directory page, reads events_space_child, the spaces' child events
// alone, on both databases (queryPlan), not every state event of the
// archive.
func TestSpaceChildrenReadsTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.SpaceChildrenSQL, 10000)
		if !strings.Contains(plan, "events_space_child") {
			t.Errorf("SpaceChildren does not read events_space_child:\n%s", plan)
		}
		if strings.Contains(plan, "events_state") {
			t.Errorf("SpaceChildren walks events_state:\n%s", plan)
		}
	})
}
