package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const room = "!r:example.org"

// ev renders one client-format event as a JSON line.
func ev(evID, typ, sender string, ts int64, stateKey *string, content string) string {
	m := map[string]any{"event_id": evID, "room_id": room, "type": typ, "sender": sender,
		"origin_server_ts": ts, "content": json.RawMessage(content)}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sk(s string) *string { return &s }

func header(visibility string) []string {
	return []string{
		ev("$create", "m.room.create", "@alice:example.org", 1, sk(""), `{"room_version":"10"}`),
		ev("$join", "m.room.member", "@alice:example.org", 2, sk("@alice:example.org"), `{"membership":"join","displayname":"Alice"}`),
		ev("$hv", "m.room.history_visibility", "@alice:example.org", 3, sk(""), fmt.Sprintf(`{"history_visibility":%q}`, visibility)),
	}
}

func msg(evID string, ts int64, body string) string {
	return ev(evID, "m.room.message", "@alice:example.org", ts, nil, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body))
}

func writeLines(t *testing.T, lines []string) string { return writeLinesB(t, lines) }

func writeLinesB(t testing.TB, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func importFile(t *testing.T, in *ingest.Ingester, path string, opts ingest.ImportOptions) ingest.ImportReport {
	t.Helper()
	rep, err := in.ImportFile(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("ImportFile: %v", err)
	}
	return rep
}

func storedIDs(t *testing.T, st *store.Store, candidates ...string) []string {
	t.Helper()
	ids := make([]id.EventID, len(candidates))
	for i, c := range candidates {
		ids[i] = id.EventID(c)
	}
	evs, err := st.EventsByID(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, string(e.ID))
	}
	slices.Sort(out)
	return out
}

// The acceptance test: importing the same 10,000-event file twice
// leaves exactly 10,000 events, and a malformed line is reported and skipped.
func TestImportTenThousandTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		lines := header("world_readable")
		for i := len(lines); i < 10_000; i++ {
			lines = append(lines, msg(fmt.Sprintf("$m%05d", i), int64(1000+i), fmt.Sprintf("message number %d", i)))
		}
		// A malformed line in the middle: line 5001 of the file.
		lines = slices.Insert(lines, 5000, `{"event_id": "$broken", "type": "m.room.message", "content": `)
		path := writeLines(t, lines)
		in := ingest.New(st, storetest.Logger(t), "")

		rep := importFile(t, in, path, ingest.ImportOptions{BatchSize: 1000})
		if rep.Events != 10_000 || rep.Stored != 10_000 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 5001 {
			t.Fatalf("first import: %s; rejected %v", rep, rep.Rejected)
		}
		again := importFile(t, ingest.New(st, storetest.Logger(t), ""), path, ingest.ImportOptions{BatchSize: 1000})
		if again.Stored != 0 || again.Duplicates != 10_000 {
			t.Fatalf("second import: %s", again)
		}
		n, err := st.CountEvents(ctx)
		if err != nil || n != 10_000 {
			t.Fatalf("CountEvents = %d, %v; want 10000", n, err)
		}
		r, err := st.Room(ctx, room)
		if err != nil || r.MessageCount != 10_000-3 {
			t.Fatalf("MessageCount = %d, %v", r.MessageCount, err)
		}
	})
}

func TestImportMalformedFixture(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rep := importFile(t, ingest.New(st, storetest.Logger(t), ""), "../testdata/import/malformed.ndjson", ingest.ImportOptions{})
		var lines []int
		for _, r := range rep.Rejected {
			lines = append(lines, r.Line)
		}
		if fmt.Sprint(lines) != "[3 6 8]" || rep.Stored != 5 {
			t.Fatalf("rejected lines %v, stored %d; want [3 6 8] and 5", lines, rep.Stored)
		}
		for _, r := range rep.Rejected {
			if !strings.Contains(r.Error(), fmt.Sprintf("line %d:", r.Line)) {
				t.Errorf("error does not name its line: %v", r)
			}
		}
	})
}

// Visibility is judged per event by the state in force when it was sent,
// whatever order the file is in.
func TestVisibilityChangesMidway(t *testing.T) {
	lines := append(header("world_readable"),
		msg("$pub1", 100, "public one"),
		ev("$hv2", "m.room.history_visibility", "@alice:example.org", 200, sk(""), `{"history_visibility":"shared"}`),
		msg("$private", 300, "members only"),
		ev("$hv3", "m.room.history_visibility", "@alice:example.org", 400, sk(""), `{"history_visibility":"world_readable"}`),
		msg("$pub2", 500, "public again"),
		ev("$enc", "m.room.encryption", "@alice:example.org", 600, sk(""), `{"algorithm":"m.megolm.v1.aes-sha2"}`),
		ev("$secret", "m.room.encrypted", "@alice:example.org", 700, nil, `{"ciphertext":"..."}`),
		msg("$after-enc", 800, "sent after encryption"),
	)
	reversed := slices.Clone(lines)
	slices.Reverse(reversed)
	for name, file := range map[string][]string{"forward": lines, "reversed": reversed} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				rep := importFile(t, ingest.New(st, storetest.Logger(t), ""), writeLines(t, file), ingest.ImportOptions{})
				got := storedIDs(t, st, "$pub1", "$private", "$pub2", "$secret", "$after-enc")
				if fmt.Sprint(got) != "[$pub1 $pub2]" || rep.NotPublic != 3 {
					t.Errorf("stored %v, not public %d; want [$pub1 $pub2] and 3", got, rep.NotPublic)
				}
				// The visibility changes themselves are public when either
				// side is world_readable; the room summary follows the latest.
				evs, _ := st.EventsByID(context.Background(), []id.EventID{"$hv2", "$hv3", "$hv"})
				for _, e := range evs {
					if !e.Public {
						t.Errorf("%s should be public", e.ID)
					}
				}
			})
		})
	}
}

func TestDisplayNameAtTheTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		lines := append(header("world_readable"),
			msg("$before", 100, "as Alice"),
			ev("$rename", "m.room.member", "@alice:example.org", 200, sk("@alice:example.org"), `{"membership":"join","displayname":"Alice Liddell"}`),
			msg("$after", 300, "as Alice Liddell"),
		)
		importFile(t, ingest.New(st, storetest.Logger(t), ""), writeLines(t, lines), ingest.ImportOptions{})
		ctx := context.Background()
		for evID, want := range map[id.EventID]string{"$before": "Alice", "$after": "Alice Liddell"} {
			e, err := st.EventByID(ctx, evID)
			if err != nil || e.SenderName != want {
				t.Errorf("%s sender name = %q, %v; want %q", evID, e.SenderName, err, want)
			}
		}
	})
}

func TestRedactionBeforeTargetInFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		lines := append(header("world_readable"),
			ev("$red", "m.room.redaction", "@alice:example.org", 300, nil, `{"redacts":"$oops","reason":"typo"}`),
			msg("$oops", 100, "my password is hunter2"),
		)
		rep := importFile(t, ingest.New(st, storetest.Logger(t), ""), writeLines(t, lines), ingest.ImportOptions{})
		if rep.RedactionsApplied != 1 {
			t.Errorf("redactions applied = %d", rep.RedactionsApplied)
		}
		e, err := st.EventByID(context.Background(), "$oops")
		if err != nil || !e.Redacted || strings.Contains(string(e.Raw), "hunter2") {
			t.Errorf("target after import: redacted=%v raw=%s err=%v", e.Redacted, e.Raw, err)
		}
	})
}

func TestElementExport(t *testing.T) {
	const path = "../testdata/import/element-export.json"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		rep := importFile(t, in, path, ingest.ImportOptions{})
		if rep.Format != ingest.FormatElement || len(rep.Unstated) != 1 || rep.NotPublic == 0 {
			t.Fatalf("without vouching: %s, unstated %v", rep, rep.Unstated)
		}
		r, err := st.Room(ctx, rep.Unstated[0])
		if err != nil || r.MessageCount != 0 {
			t.Fatalf("messages archived without a stated visibility: %d, %v", r.MessageCount, err)
		}
		rep = importFile(t, in, path, ingest.ImportOptions{AssumeWorldReadable: true})
		if rep.Stored == 0 || rep.NotPublic != 0 {
			t.Fatalf("vouched: %s", rep)
		}
		r, _ = st.Room(ctx, rep.Rooms[0])
		if r.Name != "Homelab Automation" || r.MessageCount == 0 {
			t.Errorf("room after vouched import: name %q, %d messages", r.Name, r.MessageCount)
		}
	})
}

func TestImportErrors(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	in := ingest.New(st, storetest.Logger(t), "")
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, nil, 0o600)
	garbage := filepath.Join(dir, "garbage.ndjson")
	os.WriteFile(garbage, []byte("not json\nalso not json\n"), 0o600)
	notExport := filepath.Join(dir, "export.json")
	os.WriteFile(notExport, []byte("{\n  \"room_name\": \"x\"\n}\n"), 0o600)
	for name, tc := range map[string]struct {
		path string
		want string
	}{
		"missing": {filepath.Join(dir, "nope"), "no such file"},
		"empty":   {empty, "the file is empty"},
		// A file in no known format is refused whole, naming the formats tried.
		"all garbage":    {garbage, "tried ndjson and element (no line is a JSON object), and it is not an IRC log in any known format (tried limnoria, irssi, weechat, hexchat, znc, plain"},
		"export no msgs": {notExport, "no \"messages\" array"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := in.ImportFile(ctx, tc.path, ingest.ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// The demo rooms import completely: every line valid, every message public.
func TestImportDemo(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	in := ingest.New(st, storetest.Logger(t), "")
	files, _ := filepath.Glob("../testdata/demo/*.ndjson")
	if len(files) < 2 {
		t.Fatalf("demo files: %v", files)
	}
	for _, f := range files {
		rep := importFile(t, in, f, ingest.ImportOptions{})
		lines := countLines(t, f)
		if len(rep.Rejected) != 0 || rep.NotPublic != 0 || rep.Stored != lines {
			t.Errorf("%s: %s (file has %d lines)", f, rep, lines)
		}
	}
}

func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n
}

// An import's transactions end at BatchSize events or once their JSON
// reaches BatchBytes, whichever comes first, the state pass's too, and
// every event is stored whatever the cut.
func TestImportBatchesBoundedByEventsAndBytes(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	lines := header("world_readable")
	nState := len(lines)
	for i := range 60 {
		body := "short"
		if i%10 == 0 {
			body = strings.Repeat("long ", 200) // about 1 KB
		}
		lines = append(lines, msg(fmt.Sprintf("$b%03d", i), int64(1000+i), body))
	}
	path := writeLines(t, lines)
	const maxEvents, maxBytes = 8, 1500
	type batch struct{ events, bytes int }
	var batches []batch
	opts := ingest.WithBatched(ingest.ImportOptions{BatchSize: maxEvents, BatchBytes: maxBytes}, func(events, bytes int) {
		batches = append(batches, batch{events, bytes})
	})
	rep := importFile(t, ingest.New(st, storetest.Logger(t), ""), path, opts)
	if rep.Stored != len(lines) {
		t.Fatalf("import: %s; want %d stored", rep, len(lines))
	}
	total, byBytes := 0, 0
	for i, b := range batches {
		total += b.events
		if b.events > maxEvents {
			t.Errorf("batch %d: %d events, more than %d", i, b.events, maxEvents)
		}
		// A batch ends with the event that reached the bound: before it,
		// the batch was under it (no event is over 1,100 bytes alone).
		if b.bytes >= maxBytes+1100 {
			t.Errorf("batch %d: %d bytes, past %d by more than one event", i, b.bytes, maxBytes)
		}
		if b.events < maxEvents && b.bytes >= maxBytes {
			byBytes++
		}
	}
	if total != len(lines) {
		t.Errorf("the batches hold %d events; the file %d", total, len(lines))
	}
	if byBytes == 0 {
		t.Errorf("no batch was ended by its bytes: %v", batches)
	}
	if len(batches) == 0 || batches[0].events != nState {
		t.Errorf("the state pass's batch: %v; want its %d events", batches, nState)
	}
}

// By default a batch holds up to DefaultBatchSize events on SQLite and
// PostgresBatchSize on PostgreSQL, where larger ones gained nothing.
func TestImportDefaultBatchPerDatabase(t *testing.T) {
	lines := header("world_readable")
	for i := len(lines); i < ingest.PostgresBatchSize+2000; i++ {
		lines = append(lines, msg(fmt.Sprintf("$d%05d", i), int64(1000+i), "hi"))
	}
	path := writeLines(t, lines)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var largest int
		opts := ingest.WithBatched(ingest.ImportOptions{}, func(events, _ int) { largest = max(largest, events) })
		rep := importFile(t, ingest.New(st, storetest.Logger(t), ""), path, opts)
		if rep.Stored != len(lines) {
			t.Fatalf("import: %s; want %d stored", rep, len(lines))
		}
		want := ingest.DefaultBatchSize
		if st.Dialect() == "postgres" {
			want = ingest.PostgresBatchSize
		}
		if got := min(want, len(lines)-len(header("world_readable"))); largest != got {
			t.Errorf("the largest batch held %d events; want %d", largest, got)
		}
	})
}

// A message judged not public as it arrives stays unarchived whatever
// comes later: the admin's server makes the room world_readable with an
// origin_server_ts earlier than the message's (a clock behind, or chosen:
// it is the sender's claim), and a sweep brings both again; judged by
// timestamps, the message was archived as public. Its ID is kept (not its
// content), and the archive still says it never held it.
func TestBackdatedVisibilityPublishesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "@archive:example.org")
		if _, err := in.Ingest(ctx, parse(t, header("shared")...)); err != nil {
			t.Fatal(err)
		}
		private := ev("$private", "m.room.message", "@bob:example.org", 50_000, nil, `{"msgtype":"m.text","body":"private, members only"}`)
		res, err := in.IngestTransaction(ctx, "1", parse(t, private))
		if err != nil || res.NotPublic != 1 || res.Stored != 0 {
			t.Fatalf("live delivery: %+v %v; want it left out", res, err)
		}
		flip := ev("$flip", "m.room.history_visibility", "@alice:example.org", 47_000, sk(""), `{"history_visibility":"world_readable"}`)
		later := ev("$later", "m.room.message", "@bob:example.org", 60_000, nil, `{"msgtype":"m.text","body":"public now"}`)
		if _, err := in.IngestTransaction(ctx, "2", parse(t, flip, later)); err != nil {
			t.Fatal(err)
		}
		// The sweep's /messages page holds them all, in the room's order.
		if _, err := in.IngestFrom(ctx, store.SourceSweep, parse(t, private, flip, later)); err != nil {
			t.Fatal(err)
		}
		if got := storedIDs(t, st, "$private", "$later"); !slices.Equal(got, []string{"$later"}) {
			t.Errorf("stored %v, want only $later: a message sent while the room was members-only was archived", got)
		}
		if _, err := st.Tombstone(ctx, "$private"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the withheld message reads as deleted: %v", err)
		}
		// History read back is judged by the state then, as before: an
		// import the operator vouches for is not refused by it.
		imp := ev("$imported", "m.room.message", "@bob:example.org", 48_000, nil, `{"msgtype":"m.text","body":"read back"}`)
		if _, err := in.IngestFrom(ctx, store.SourceImport, parse(t, imp)); err != nil {
			t.Fatal(err)
		}
		if got := storedIDs(t, st, "$imported"); len(got) != 1 {
			t.Errorf("a message read back after the flip: stored %v", got)
		}
	})
}
