package indexer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// TestIndexedTextIsShownText: for every message of the demo rooms (what
// `make demo` imports) and of a sample of the IRC corpus, the text the
// indexer puts in a message's document is the text the web shows for it
// without markup (the JSON API's text, as in the text log), and a message
// the web shows with text is in the index. The one deliberate difference:
// a captioned file's name is findable too. A poll's text is its question
// and answers, as the JSON API gives them. Search re-checks hits against
// this same text, so the two must never disagree.
func TestIndexedTextIsShownText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		for _, f := range []string{"../testdata/demo/ansible-community.ndjson", "../testdata/demo/opendev-infra.ndjson"} {
			if _, err := in.ImportFile(ctx, f, ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
				t.Fatal(err)
			}
		}
		alias := "#opendev-meeting:example.org"
		room, err := irclog.RoomID(alias)
		if err != nil {
			t.Fatal(err)
		}
		irc := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{Network: "OFTC", Channel: "#opendev-meeting", Server: "example.org", Room: room}}
		if _, err := in.ImportFile(ctx, "../testdata/demo/irc/opendev-meeting.2026-03-03.log", ingest.ImportOptions{IRC: irc}); err != nil {
			t.Fatal(err)
		}
		checkIndexedText(t, st, 150)
	})
	t.Run("corpus", func(t *testing.T) {
		checkIndexedText(t, corpusStore(t, "sqlite", 3000), 2000)
	})
}

// checkIndexedText compares index and web for every message of every room
// in st, and fails unless at least minMessages were compared.
func checkIndexedText(t *testing.T, st *store.Store, minMessages int) {
	t.Helper()
	ctx := context.Background()
	ix := openIndex(t, st, t.TempDir())
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := st.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compared, indexed := 0, 0
	for _, r := range rooms {
		var msgs []store.Event
		for after := (*store.Event)(nil); ; {
			page, err := st.RoomMessages(ctx, r.ID, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			msgs = append(msgs, page...)
			after = &page[len(page)-1]
		}
		texts, err := ix.IndexedTexts(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		shown := shownTexts(t, srv, r.ID, msgs)
		for _, m := range msgs {
			w, onPage := shown[m.ID]
			got, inIndex := texts[m.ID]
			switch {
			case !onPage && inIndex:
				t.Errorf("%s is indexed (%q) but no day page shows it", m.ID, got)
			case !onPage:
			case w.redacted || w.text == undisplayable:
				if inIndex {
					t.Errorf("%s is indexed (%q) but the web shows it withdrawn or undisplayable", m.ID, got)
				}
			case !inIndex:
				t.Errorf("the web shows %s as %q but the index does not hold it", m.ID, w.text)
			default:
				want := w.text
				if w.fileName != "" && w.text != w.fileName {
					want += " " + w.fileName
				}
				compared++
				if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(want), " ") {
					t.Errorf("%s: index holds %q, the web shows %q", m.ID, got, want)
				}
			}
			if inIndex {
				indexed++
			}
		}
	}
	if compared < minMessages {
		t.Fatalf("compared %d messages (%d indexed), want at least %d: the fixture lost its messages", compared, indexed, minMessages)
	}
	t.Logf("%d messages compared in %d rooms", compared, len(rooms))
}

const undisplayable = "(this message could not be displayed)"

type shownText struct {
	text, fileName string
	redacted       bool
}

// shownTexts reads the messages' days from the JSON API, page after page.
func shownTexts(t *testing.T, srv *web.Server, room id.RoomID, msgs []store.Event) map[id.EventID]shownText {
	t.Helper()
	days := map[string]bool{}
	for _, m := range msgs {
		days[time.UnixMilli(m.OriginTS).UTC().Format(time.DateOnly)] = true
	}
	out := map[id.EventID]shownText{}
	for day := range days {
		after := ""
		for {
			path := fmt.Sprintf("/api/v1/rooms/%s/events?date=%s", url.PathEscape(string(room)), day)
			if after != "" {
				path += "&after=" + url.QueryEscape(after)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d: %.500s", path, rec.Code, rec.Body.String())
			}
			var page struct {
				Events []struct {
					EventID  string `json:"event_id"`
					Text     string `json:"text"`
					Redacted bool   `json:"redacted"`
					Content  *struct {
						FileName string `json:"filename"`
					} `json:"content"`
					Type string `json:"type"`
					Poll *struct {
						Question string `json:"question"`
						Answers  []struct {
							Text string `json:"text"`
						} `json:"answers"`
					} `json:"poll"`
				} `json:"events"`
				NextAfter string `json:"next_after"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				s := shownText{text: e.Text, redacted: e.Redacted}
				if e.Content != nil {
					s.fileName = e.Content.FileName
				}
				// A poll shows its question and answers; a poll start
				// whose content is not a poll shows none.
				if event.IsPollStart(e.Type) && !e.Redacted {
					s.text = undisplayable
					if e.Poll != nil {
						s.text = e.Poll.Question
						for _, a := range e.Poll.Answers {
							s.text += "\n" + a.Text
						}
					}
				}
				out[id.EventID(e.EventID)] = s
			}
			if page.NextAfter == "" {
				break
			}
			after = page.NextAfter
		}
	}
	return out
}
