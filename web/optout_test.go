package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// An opt-out covers the user's messages, their reactions (key and sender
// gone, not counted), the reasons of redactions they sent, and their
// display name on state lines.
func TestOptOutCoversReactionsReasonsAndNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$pl", "m.room.power_levels", 3, aUser, sk(""), `{"users":{"@a:example.org":100,"@z:example.org":50},"redact":50}`),
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			zLine("$am", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"a message to react to"}`),
			zLine("$zx", "m.reaction", 1500, zUser, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$am","key":"zkeyword"}}`),
			zLine("$am2", "m.room.message", 2000, aUser, nil, `{"msgtype":"m.text","body":"a message z deletes"}`),
			redactionLine("$zr", zUser, 1767225602500, "$am2", "zreasonword"),
			zLine("$zn", "m.room.member", 3000, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblaxian"}`),
		))
		secrets := []string{"zkeyword", "zreasonword", "Zorblax"}
		routes := e.everywhere(t, "$am", "$am2", "$zj", "$zn")
		routes["redactions page"] = e.get(t, "/room/!x:example.org/redactions").Body.String()
		routes["redactions API"] = e.get(t, "/api/v1/rooms/!x:example.org/redactions").Body.String()
		all := strings.Join(mapValues(routes), "\n")
		for _, s := range secrets {
			if !strings.Contains(all, s) {
				t.Fatalf("before the opt-out no route shows %q", s)
			}
		}
		if _, err := st.OptOut(context.Background(), zUser, "dm"); err != nil {
			t.Fatal(err)
		}
		routes = e.everywhere(t, "$am", "$am2", "$zj", "$zn")
		routes["redactions page"] = e.get(t, "/room/!x:example.org/redactions").Body.String()
		routes["redactions API"] = e.get(t, "/api/v1/rooms/!x:example.org/redactions").Body.String()
		for route, body := range routes {
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("after the opt-out %s shows %q:\n%.3000s", route, s, body)
				}
			}
		}
		var ev struct {
			Reactions []struct {
				Key   string `json:"key"`
				Count int    `json:"count"`
			} `json:"reactions"`
		}
		decode(t, e.get(t, "/api/v1/events/$am"), http.StatusOK, &ev)
		if len(ev.Reactions) != 0 {
			t.Errorf("the opted-out user's reaction is still counted: %+v", ev.Reactions)
		}
	})
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
