package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// OptedOutAt is when a user's messages were withdrawn, which an opt-out's
// redaction (OptOutRedaction) has no time for: the meetings feed dates an
// entry's update by it. It is screening's: a request's reads under one
// ScreenOnce see one answer, and the operator's opt-out over the user's
// own keeps the first time, when the messages left.
func TestOptedOutAtIsScreeningsOptOutTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		bg := context.Background()
		const user = "@bob:example.org"
		if at, err := st.OptedOutAt(bg, user); err != nil || !at.IsZero() {
			t.Fatalf("before any opt-out: %v, %v; want zero", at, err)
		}
		request := st.ScreenOnce(bg)
		if at, err := st.OptedOutAt(request, user); err != nil || !at.IsZero() {
			t.Fatalf("before any opt-out, under ScreenOnce: %v, %v; want zero", at, err)
		}
		before := time.Now().Add(-time.Second)
		if _, err := st.OptOut(bg, user, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		at, err := st.OptedOutAt(bg, user)
		if err != nil || at.Before(before) || at.After(after) {
			t.Fatalf("after the opt-out: %v, %v; want between %v and %v", at, err, before, after)
		}
		if got, err := st.OptedOutAt(request, user); err != nil || !got.IsZero() {
			t.Errorf("under the ScreenOnce taken before the opt-out: %v, %v; want zero, as its reads screen", got, err)
		}
		if _, err := st.OptOut(bg, user, store.OptOutByOperator); err != nil {
			t.Fatal(err)
		}
		if got, err := st.OptedOutAt(bg, user); err != nil || !got.Equal(at) {
			t.Errorf("after the operator's opt-out over the user's: %v, %v; want the first, %v", got, err, at)
		}
		if _, err := st.OptIn(bg, user); err != nil {
			t.Fatal(err)
		}
		if got, err := st.OptedOutAt(bg, user); err != nil || !got.IsZero() {
			t.Errorf("after the opt-in: %v, %v; want zero", got, err)
		}
	})
}
