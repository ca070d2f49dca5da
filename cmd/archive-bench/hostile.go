package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// hostileRoom is the room the load test adds to the dataset: what a hostile
// member of an archived room can post. Its messages are as large as a
// homeserver lets through (≈60 KB), full of links and NULs, with formatted
// bodies nested hundreds deep and many reactions each, and the room claims
// (squats) the canonical alias of a real room of the dataset.
type hostileRoom struct {
	Room   string   `json:"room"`
	Alias  string   `json:"alias"` // the squatted alias
	Days   []string `json:"days"`  // YYYY-MM-DD, the days its messages are on
	Events []string `json:"events"`
	// MessageBytes is the size of each message's body and formatted body
	// together; Nesting how deep the formatted body nests.
	MessageBytes int `json:"message_bytes"`
	Nesting      int `json:"nesting"`
}

const (
	hostileServer  = "hostile.example"
	hostileNesting = 400
	hostilePerDay  = 40
)

// hostileID is a deterministic v4-style event ID.
func hostileID(parts ...any) string {
	h := sha256.Sum256(fmt.Append(nil, parts...))
	return "$" + base64.RawURLEncoding.EncodeToString(h[:])
}

// firstAlias returns the first canonical alias set in an NDJSON file: the
// real room the hostile room squats.
func firstAlias(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "m.room.canonical_alias") {
			continue
		}
		var ev struct {
			Type    string `json:"type"`
			Content struct {
				Alias string `json:"alias"`
			} `json:"content"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "m.room.canonical_alias" && ev.Content.Alias != "" {
			return ev.Content.Alias, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "#general:" + hostileServer, nil
}

// hostileBody is a plain body of about n bytes: links (some unterminated,
// some in brackets), NULs and control characters, long unbroken runs.
func hostileBody(i, n int) string {
	var b strings.Builder
	for k := 0; b.Len() < n; k++ {
		switch k % 6 {
		case 0:
			fmt.Fprintf(&b, "https://%d.example.org/%s?q=%d ", k, strings.Repeat("a/", 20), i)
		case 1:
			fmt.Fprintf(&b, "(https://x.example/%s) ", strings.Repeat("((", 30))
		case 2:
			b.WriteString("nul\x00here \x01\x02\x1b[31m ")
		case 3:
			b.WriteString(strings.Repeat("w", 300) + " ")
		case 4:
			b.WriteString("www." + strings.Repeat("sub.", 40) + "example.com/.,;:!? ")
		case 5:
			b.WriteString("<script>alert(1)</script> &amp; &#0; ")
		}
	}
	return b.String()
}

// hostileHTML is a formatted body nested depth levels deep, with a link at
// every level.
func hostileHTML(depth int) string {
	var b strings.Builder
	for d := range depth {
		fmt.Fprintf(&b, `<blockquote><a href="https://%d.example.org/">l%d</a><span data-mx-color="#ff0000">`, d, d)
	}
	b.WriteString("bottom\x00")
	for range depth {
		b.WriteString("</span></blockquote>")
	}
	return b.String()
}

// writeHostileRoom appends the hostile room to an NDJSON dataset: its state
// from start, then messages of size bytes (hostilePerDay a day) with
// reactions reactions each, from 50 members.
func writeHostileRoom(w io.Writer, alias string, start int64, messages, reactions, size int) (hostileRoom, error) {
	room := "!hostile:" + hostileServer
	// Three quarters of the size at most go to the nesting (≈110 bytes a
	// level): 400 levels at 60 KiB.
	h := hostileRoom{Room: room, Alias: alias, MessageBytes: size, Nesting: min(hostileNesting, size*3/4/110)}
	enc := json.NewEncoder(w)
	admin := "@mallory:" + hostileServer
	member := func(i int) string { return fmt.Sprintf("@m%02d:%s", i%50, hostileServer) }
	ts := start
	emit := func(typ string, stateKey *string, sender string, content map[string]any) (string, error) {
		ts++
		ev := map[string]any{"event_id": hostileID(room, typ, ts), "room_id": room, "type": typ, "sender": sender,
			"origin_server_ts": ts, "content": content}
		if stateKey != nil {
			ev["state_key"] = *stateKey
		}
		return ev["event_id"].(string), enc.Encode(ev)
	}
	state := []struct {
		typ, key string
		content  map[string]any
	}{
		{"m.room.create", "", map[string]any{"room_version": "10"}},
		{"m.room.member", admin, map[string]any{"membership": "join", "displayname": strings.Repeat("\u202e", 20) + "Admin"}},
		{"m.room.power_levels", "", map[string]any{"users": map[string]any{admin: 100}}},
		{"m.room.join_rules", "", map[string]any{"join_rule": "public"}},
		{"m.room.history_visibility", "", map[string]any{"history_visibility": "world_readable"}},
		{"m.room.name", "", map[string]any{"name": "Hostile " + strings.Repeat("<b>x</b>", 30)}},
		{"m.room.canonical_alias", "", map[string]any{"alias": alias, "alt_aliases": []string{alias}}},
	}
	for _, s := range state {
		if _, err := emit(s.typ, &s.key, admin, s.content); err != nil {
			return h, err
		}
	}
	for i := range 50 {
		key := member(i)
		if _, err := emit("m.room.member", &key, key, map[string]any{"membership": "join", "displayname": fmt.Sprintf("m%02d %s", i, strings.Repeat("\u0301", 40))}); err != nil {
			return h, err
		}
	}
	html := hostileHTML(h.Nesting)
	body := hostileBody(0, size-len(html))
	day := time.UnixMilli(ts).UTC().Truncate(24 * time.Hour)
	for i := range messages {
		if i > 0 && i%hostilePerDay == 0 {
			day = day.Add(24 * time.Hour)
			ts = max(ts, day.UnixMilli())
		}
		evID, err := emit("m.room.message", nil, member(i), map[string]any{"msgtype": "m.text", "body": body,
			"format": "org.matrix.custom.html", "formatted_body": html})
		if err != nil {
			return h, err
		}
		h.Events = append(h.Events, evID)
		if d := day.Format(time.DateOnly); len(h.Days) == 0 || h.Days[len(h.Days)-1] != d {
			h.Days = append(h.Days, d)
		}
		for r := range reactions {
			key := fmt.Sprintf("%d%s", r, strings.Repeat("\u200b", 60))
			if _, err := emit("m.reaction", nil, member(r), map[string]any{"m.relates_to": map[string]any{
				"rel_type": "m.annotation", "event_id": evID, "key": key}}); err != nil {
				return h, err
			}
		}
	}
	return h, nil
}
