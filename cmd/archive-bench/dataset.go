package main

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/corpus"
)

// sample is the bundled fallback input: the demo rooms, used when neither
// an input file nor the IRC corpus is at hand.
//
//go:embed sample/*.ndjson
var sample embed.FS

// message is one m.room.message as the peers index it: its body as sent
// (Synapse indexes content.body, reply fallbacks included).
type message struct {
	id, room, sender string
	ts               int64
	body             string
}

// dataset is the NDJSON file every system imports, and its messages.
type dataset struct {
	path   string
	source string // what it was made from, for the report
	events int
	msgs   []message // in time order; nil while ours is measured (run)
	// count and lastTS hold len(msgs) and the last message's time while
	// msgs is released.
	count  int
	lastTS int64
}

// prepareDataset writes the benchmark's input to dir/bench.ndjson: input
// replayed to scale events, or without input the IRC corpus replayed by
// corpus.GenerateShape in the given shape, or without the corpus the bundled sample replayed.
func prepareDataset(ctx context.Context, input, corpusDir, shape string, scale int, dir string) (*dataset, error) {
	ds := &dataset{path: filepath.Join(dir, "bench.ndjson")}
	f, err := os.Create(ds.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	switch {
	case input != "":
		ds.source = input
		ds.events, err = replayFile(ctx, w, input, scale)
	case corpusDir != "" && isDir(corpusDir):
		var logs []corpus.Log
		if logs, err = corpus.Read(corpusDir); err == nil {
			ds.source = fmt.Sprintf("%s (%d messages), shape %s", corpusDir, corpus.CountMessages(logs), shape)
			ds.events, err = corpus.GenerateShape(w, logs, scale, shape)
		}
	default:
		ds.source = "the bundled sample (the demo rooms; " + corpusDir + " not found)"
		ds.events, err = replaySample(ctx, w, dir, scale)
	}
	if err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	ds.msgs, err = readMessages(ctx, ds.path)
	if err != nil {
		return nil, err
	}
	if len(ds.msgs) == 0 {
		return nil, fmt.Errorf("%s has no messages to benchmark", ds.source)
	}
	ds.count, ds.lastTS = len(ds.msgs), ds.msgs[len(ds.msgs)-1].ts
	return ds, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func replaySample(ctx context.Context, w io.Writer, dir string, scale int) (int, error) {
	entries, err := sample.ReadDir("sample")
	if err != nil {
		return 0, err
	}
	p := filepath.Join(dir, "sample.ndjson")
	out, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		b, err := sample.ReadFile("sample/" + e.Name())
		if err == nil {
			_, err = out.Write(b)
		}
		if err != nil {
			out.Close()
			return 0, err
		}
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	return replayFile(ctx, w, p, scale)
}

// replayFile writes copies of an import file's events (NDJSON or an
// Element export) until scale events are written. Copy k shifts every
// timestamp by k times the file's span plus a day and suffixes every room
// ID, event ID and alias with -k, wherever they appear (relations,
// redactions, tombstones), so copies are distinct rooms with the file's
// real text, lengths and senders. State events come first in each copy.
func replayFile(ctx context.Context, w io.Writer, path string, scale int) (int, error) {
	var evs []map[string]any
	ids := map[string]bool{}
	var first, last int64
	_, err := ingest.ReadFile(ctx, path, ingest.FormatAuto, func(ev *event.Event) error {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(ev.Raw)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return err
		}
		// An Element export's events may leave room_id out; the parsed
		// event has it.
		m["room_id"] = string(ev.RoomID)
		evs = append(evs, m)
		ids[string(ev.ID)], ids[string(ev.RoomID)] = true, true
		if first == 0 || ev.OriginTS < first {
			first = ev.OriginTS
		}
		last = max(last, ev.OriginTS)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, fmt.Errorf("%s: no valid events", path)
	}
	span := last - first + 24*60*60*1000
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	written := 0
	for k := 0; written < scale; k++ {
		for _, m := range evs {
			if written >= scale {
				break
			}
			out := shift(m, "", ids, k).(map[string]any)
			if ts, ok := m["origin_server_ts"].(json.Number); ok {
				n, _ := ts.Int64()
				out["origin_server_ts"] = n + int64(k)*span
			}
			if err := enc.Encode(out); err != nil {
				return written, err
			}
			written++
		}
	}
	return written, nil
}

// shift copies a JSON value for copy k, suffixing known IDs and aliases.
func shift(v any, key string, ids map[string]bool, k int) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for kk, vv := range v {
			out[kk] = shift(vv, kk, ids, k)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, vv := range v {
			out[i] = shift(vv, key, ids, k)
		}
		return out
	case string:
		if k == 0 {
			return v
		}
		alias := (key == "alias" || key == "alt_aliases") && strings.HasPrefix(v, "#")
		if !ids[v] && !alias {
			return v
		}
		if local, server, ok := strings.Cut(v, ":"); ok {
			return fmt.Sprintf("%s-%d:%s", local, k, server)
		}
		return fmt.Sprintf("%s-%d", v, k)
	}
	return v
}

// readMessages reads back the messages of the benchmark file, in time
// order (ties in file order, as a homeserver's stream ordering would be).
func readMessages(ctx context.Context, path string) ([]message, error) {
	var msgs []message
	_, err := ingest.ReadFile(ctx, path, ingest.FormatNDJSON, func(ev *event.Event) error {
		if ev.Type != "m.room.message" || ev.IsState() {
			return nil
		}
		var c struct {
			Body string `json:"body"`
		}
		if json.Unmarshal(ev.Content, &c) != nil || c.Body == "" {
			return nil
		}
		msgs = append(msgs, message{id: string(ev.ID), room: string(ev.RoomID), sender: string(ev.Sender), ts: ev.OriginTS, body: c.Body})
		return nil
	})
	slices.SortStableFunc(msgs, func(a, b message) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	return msgs, err
}

// replay is what a benchmark replays: an import file, or the IRC corpus in
// one of its shapes (flags shared by run and load).
type replay struct{ input, corpus, shape string }

func (r *replay) register(fs *flag.FlagSet) {
	fs.StringVar(&r.input, "input", "", "an import file (NDJSON events or an Element export) to replay to -scale; default: the IRC corpus")
	fs.StringVar(&r.corpus, "corpus", "", "the IRC corpus replayed when there is no -input (default: $"+corpus.EnvDir+", else ubuntu-irc in the shared corpus beside the repository, else its bundled sample; under CI=true the corpus is required)")
	fs.StringVar(&r.shape, "shape", corpus.ShapeUbuntu, "how the corpus is replayed: "+strings.Join(corpus.Shapes, ", ")+" (ignored with -input)")
}

// prepare writes the replay, scale events long, into dir.
func (r *replay) prepare(ctx context.Context, scale int, dir string) (*dataset, error) {
	corpusDir := r.corpus
	if r.input == "" && corpusDir == "" {
		var err error
		if corpusDir, _, err = corpus.Dir(); err != nil {
			return nil, err
		}
	}
	return prepareDataset(ctx, r.input, corpusDir, r.shape, scale, dir)
}
