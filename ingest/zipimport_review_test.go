package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// exportEvent is one event of an export, as JSON.
func exportEvent(room, evID, typ, sender string, ts int64, stateKey *string, content string) json.RawMessage {
	m := map[string]any{"event_id": evID, "room_id": room, "type": typ, "sender": sender,
		"origin_server_ts": ts, "content": json.RawMessage(content)}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	raw, _ := json.Marshal(m)
	return raw
}

// exportZip writes an Element export ZIP of msgs and the given attachments.
func exportZip(t *testing.T, msgs []json.RawMessage, files map[string][]byte) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"room_name": "Old room", "messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range append([]string{"export.json"}, slices.Sorted(maps.Keys(files))...) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "export.json" {
			w.Write(b)
		} else {
			w.Write(files[name])
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// publicRoomEvents are the create and world-readable history visibility
// events of room, as an export holds them.
func publicRoomEvents(room string) []json.RawMessage {
	return []json.RawMessage{
		exportEvent(room, "$c", "m.room.create", "@a:x", 1, sk(""), `{"room_version":"10"}`),
		exportEvent(room, "$hv", "m.room.history_visibility", "@a:x", 2, sk(""), `{"history_visibility":"world_readable"}`),
	}
}

// An export's attachment is the file's claim: it is stored only for a
// file that messages the import itself archived alone refer to. A crafted
// export naming the file of a message archived live, not fetched yet,
// in an event of its own (of a room it did not archive, or of one it
// did), put its bytes in that message's place for good (helper-91).
func TestExportCannotSupplyALiveMessagesFile(t *testing.T) {
	live := event.MXC{Server: "example.org", MediaID: "LiveHolidayPhoto"}
	evil := append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), bytes.Repeat([]byte("ATTACKER"), 100)...)
	sum := sha256.Sum256(evil)
	for name, msgs := range map[string][]json.RawMessage{
		"a room the import does not archive": {
			exportEvent("!evil:evil.example", "$e1", "m.room.create", "@mallory:evil.example", 5, sk(""), `{"room_version":"10"}`),
			exportEvent("!evil:evil.example", "$e2", "m.room.message", "@mallory:evil.example", 6, nil,
				`{"msgtype":"m.image","body":"cat.jpg","url":"mxc://example.org/LiveHolidayPhoto"}`),
		},
		"a room the import archives": {
			exportEvent("!evil:evil.example", "$e1", "m.room.create", "@mallory:evil.example", 5, sk(""), `{"room_version":"10"}`),
			exportEvent("!evil:evil.example", "$e0", "m.room.history_visibility", "@mallory:evil.example", 5, sk(""), `{"history_visibility":"world_readable"}`),
			exportEvent("!evil:evil.example", "$e2", "m.room.message", "@mallory:evil.example", 6, nil,
				`{"msgtype":"m.image","body":"cat.jpg","url":"mxc://example.org/LiveHolidayPhoto"}`),
		},
		"the live message itself": {
			exportEvent("!live:example.org", "$limg", "m.room.message", "@bob:example.org", 2001, nil,
				`{"msgtype":"m.image","body":"cat.jpg","url":"mxc://example.org/LiveHolidayPhoto"}`),
		},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				in := ingest.New(st, storetest.Logger(t), "")
				res, err := in.IngestTransaction(ctx, "t1", []*event.Event{
					parseEvent(t, exportEvent("!live:example.org", "$lcreate", "m.room.create", "@alice:example.org", 1000, sk(""), `{"room_version":"10","creator":"@alice:example.org"}`)),
					parseEvent(t, exportEvent("!live:example.org", "$lhv", "m.room.history_visibility", "@alice:example.org", 1003, sk(""), `{"history_visibility":"world_readable"}`)),
					parseEvent(t, exportEvent("!live:example.org", "$limg", "m.room.message", "@bob:example.org", 2001, nil,
						`{"msgtype":"m.image","body":"holiday.jpg","url":"mxc://example.org/LiveHolidayPhoto"}`)),
				})
				if err != nil || res.Stored != 3 {
					t.Fatalf("live: %+v %v", res, err)
				}
				blobs, err := media.OpenDir(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				p := exportZip(t, msgs, map[string][]byte{"images/cat-Mon 1.jpg": evil})
				rep, err := in.ImportFile(ctx, p, ingest.ImportOptions{Media: blobs, MediaMaxSize: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				if m, err := st.MediaFor(ctx, live); err != nil || m.SHA256 == hex.EncodeToString(sum[:]) || m.State != store.MediaPending {
					t.Errorf("the live message's image after the import: %+v, %v; want it still waiting for the homeserver's bytes (report %s)", m, err, rep)
				}
				if rep.Media != 0 {
					t.Errorf("the import stored %d attachments", rep.Media)
				}
			})
		})
	}
}

func parseEvent(t *testing.T, raw json.RawMessage) *event.Event {
	t.Helper()
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// An export's attachments count against media.max_total as the
// fetcher's downloads do: 200 KiB of room left, 20 attachments of 64 KiB
// (from a ZIP of a few KiB, each compressing to nothing) store at most
// what is left, and the rest are reported.
func TestExportAttachmentsKeepToMediaMaxTotal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const n, size, maxTotal = 20, 64 << 10, 200 << 10
		contents := make([][]byte, n)
		for i := range n {
			contents[i] = append([]byte(fmt.Sprintf("%016d", i)), make([]byte, size-16)...)
		}
		rep := importFilesUnder(t, st, contents, maxTotal)
		stats, err := st.MediaStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if stats.Bytes > maxTotal || rep.Media != maxTotal/size || len(rep.MediaErrors) != n-rep.Media {
			t.Errorf("the media store holds %d bytes (media.max_total %d) after %d attachments stored, %d reported: %v", stats.Bytes, maxTotal, rep.Media, len(rep.MediaErrors), rep.MediaErrors)
		}
		for _, e := range rep.MediaErrors {
			if !strings.Contains(e.Error(), "media.max_total") {
				t.Errorf("an attachment left out is reported as %q", e)
			}
		}
	})
}

// Attachments are matched to their messages as Element named them, the
// first unclaimed one in the ZIP's order: of many alike, each message
// gets the next; a name that begins like another's ("cat-" and
// "cat-food-") goes to its own message.
func TestExportAttachmentsMatchInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		msgs := append(publicRoomEvents("!m:x"),
			exportEvent("!m:x", "$food", "m.room.message", "@a:x", 10, nil, `{"msgtype":"m.image","body":"cat-food.jpg","url":"mxc://x/FOOD"}`))
		files := map[string][]byte{"images/cat-food-Mon 9.jpg": []byte("food")}
		for i := range 3 {
			msgs = append(msgs, exportEvent("!m:x", fmt.Sprintf("$cat%d", i), "m.room.message", "@a:x", int64(20+i), nil,
				fmt.Sprintf(`{"msgtype":"m.image","body":"cat.jpg","url":"mxc://x/CAT%d"}`, i)))
			files[fmt.Sprintf("images/cat-Mon %d.jpg", i)] = []byte(fmt.Sprintf("cat %d", i))
		}
		blobs, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rep, err := in.ImportFile(ctx, exportZip(t, msgs, files), ingest.ImportOptions{Media: blobs, MediaMaxSize: 1 << 20})
		if err != nil || rep.Media != 4 {
			t.Fatalf("report %s (media %d, errors %v), %v", rep, rep.Media, rep.MediaErrors, err)
		}
		for mxc, want := range map[string]string{"FOOD": "food", "CAT0": "cat 0", "CAT1": "cat 1", "CAT2": "cat 2"} {
			m, err := st.MediaFor(ctx, event.MXC{Server: "x", MediaID: mxc})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(want))
			if m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("mxc://x/%s holds %s; want the bytes %q", mxc, m.SHA256, want)
			}
		}
	})
}

// An import run again after one that stored its messages without their
// attachments (no media store then, or no room in it) supplies no file
// for those messages, which it cannot tell from messages archived live
// (TestExportCannotSupplyALiveMessagesFile); it says so for each file
// still to be fetched, which the running archiver fetches from the
// homeserver, rather than leaving it out unsaid (helper-92).
func TestExportRunAgainSaysWhatItLeaves(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		msgs := append(publicRoomEvents("!m:x"),
			exportEvent("!m:x", "$img", "m.room.message", "@a:x", 10, nil, `{"msgtype":"m.image","body":"cat.jpg","url":"mxc://x/CAT"}`))
		p := exportZip(t, msgs, map[string][]byte{"images/cat-Mon 1.jpg": []byte("cat")})
		if rep, err := in.ImportFile(ctx, p, ingest.ImportOptions{}); err != nil || rep.Stored != 3 {
			t.Fatalf("first import: %s, %v", rep, err)
		}
		blobs, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rep, err := in.ImportFile(ctx, p, ingest.ImportOptions{Media: blobs, MediaMaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Media != 0 || len(rep.MediaErrors) != 1 || !strings.Contains(rep.MediaErrors[0].Error(), "archived before this import") {
			t.Errorf("second import: %d attachments stored, errors %v; want none stored and cat.jpg's reported", rep.Media, rep.MediaErrors)
		}
	})
}

// The media store counts each blob once, however many files are its
// bytes, and so does an import's room under media.max_total: an export
// that sends one image twice was charged twice, and a file that fit was
// left out (helper-93). Two files of the same 64 KiB and one other fit
// in 150 KiB.
func TestExportChargesTheSameBytesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const size, maxTotal = 64 << 10, 150 << 10
		other := make([]byte, size)
		copy(other, "other")
		rep := importFilesUnder(t, st, [][]byte{make([]byte, size), make([]byte, size), other}, maxTotal)
		if rep.Media != 3 {
			t.Errorf("%d of 3 attachments stored (media.max_total %d): %v", rep.Media, maxTotal, rep.MediaErrors)
		}
	})
}

// importFilesUnder imports an export of a public room whose messages are
// files of the given contents, under media.max_total maxTotal.
func importFilesUnder(t *testing.T, st *store.Store, contents [][]byte, maxTotal int64) ingest.ImportReport {
	t.Helper()
	msgs, files := publicRoomEvents("!amp:x"), map[string][]byte{}
	for i, b := range contents {
		msgs = append(msgs, exportEvent("!amp:x", fmt.Sprintf("$m%d", i), "m.room.message", "@a:x", int64(i+10), nil,
			fmt.Sprintf(`{"msgtype":"m.file","body":"f%d.bin","url":"mxc://x/F%d"}`, i, i)))
		files[fmt.Sprintf("files/f%d-x.bin", i)] = b
	}
	blobs, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), exportZip(t, msgs, files),
		ingest.ImportOptions{Media: blobs, MediaMaxSize: 1 << 20, MediaMaxTotal: maxTotal})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
