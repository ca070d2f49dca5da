package corpus

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"
)

// Shapes Generate's replay can be given besides the corpus's own (one
// room per channel, steady traffic, short IRC lines). A search index
// tuned on one distribution can be slow on another, so the benchmark
// measures each.
const (
	// ShapeUbuntu is the corpus as it is (Generate).
	ShapeUbuntu = "ubuntu"
	// ShapeSkewed puts 85% of the messages in three very busy rooms and
	// scatters the rest over 400 sparse rooms per copy.
	ShapeSkewed = "skewed"
	// ShapeBursty squeezes each copy into four months of one year (two of
	// them carrying 75% of it) and leaves the next two years empty.
	ShapeBursty = "bursty"
	// ShapeMarkdown merges runs of 3 to 14 lines into one long Markdown
	// message (heading, list, code block, link) with its HTML, as in
	// Matrix rooms where people write paragraphs, not IRC lines.
	ShapeMarkdown = "markdown"
)

// Shapes lists every shape, the corpus's own first.
var Shapes = []string{ShapeUbuntu, ShapeSkewed, ShapeBursty, ShapeMarkdown}

// item is one message of a shaped copy, before it is written.
type item struct {
	room, nick, body, html string
	ts                     time.Time
	replyTo                int // index in the copy's items, or -1
}

// GenerateShape writes events until n are written, like Generate, with the
// corpus's messages rearranged into the given shape (rooms, times, message
// lengths); the text and nicks stay the corpus's. Output is deterministic.
func GenerateShape(w io.Writer, logs []Log, n int, shape string) (int, error) {
	switch shape {
	case "", ShapeUbuntu:
		return Generate(w, logs, n)
	case ShapeSkewed, ShapeBursty, ShapeMarkdown:
	default:
		return 0, fmt.Errorf("unknown replay shape %q (want one of %s)", shape, strings.Join(Shapes, ", "))
	}
	written := 0
	emit := emitter(w, n, &written)
	first, span := corpusSpan(logs)
	if len(logs) == 0 {
		return 0, fmt.Errorf("no corpus to replay")
	}
	for copyNo := 0; written < n; copyNo++ {
		items := shaped(logs, copyNo, shape, first, span)
		headers := map[string]bool{}
		joined := map[string]bool{}
		ids := make([]string, len(items))
		for i, it := range items {
			if !headers[it.room] {
				headers[it.room] = true
				if err := roomHeader(emit, it.room, Log{channel: roomChannel(it.room, copyNo)}, copyNo, it.ts.Add(-time.Minute)); err != nil {
					return written, err
				}
			}
			sender := "@" + localpart(it.nick) + ":" + server
			if !joined[it.room+"\x00"+sender] {
				joined[it.room+"\x00"+sender] = true
				if err := emit(map[string]any{
					"event_id": eventID(it.room, "join", sender), "room_id": it.room, "type": "m.room.member",
					"sender": sender, "state_key": sender, "origin_server_ts": it.ts.UnixMilli() - 1,
					"content": map[string]any{"membership": "join", "displayname": it.nick},
				}); err != nil {
					return written, err
				}
			}
			ids[i] = eventID(it.room, shape, fmt.Sprint(i))
			content := map[string]any{"msgtype": "m.text", "body": it.body}
			if it.html != "" {
				content["format"] = "org.matrix.custom.html"
				content["formatted_body"] = it.html
			}
			if it.replyTo >= 0 && items[it.replyTo].room == it.room {
				content["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": ids[it.replyTo]}}
			}
			if err := emit(map[string]any{
				"event_id": ids[i], "room_id": it.room, "type": "m.room.message", "sender": sender,
				"origin_server_ts": it.ts.UnixMilli(), "content": content,
			}); err != nil {
				return written, err
			}
			if written >= n {
				return written, nil
			}
		}
	}
	return written, nil
}

// roomChannel is the channel a shaped copy's room (!channel-copy:server)
// stands for, which roomHeader names its alias and name after.
func roomChannel(room string, copyNo int) string {
	return strings.TrimSuffix(strings.TrimPrefix(room, "!"), fmt.Sprintf("-%d:%s", copyNo, server))
}

// shaped lays out one copy of the corpus in the shape, in time order.
func shaped(logs []Log, copyNo int, shape string, first time.Time, span time.Duration) []item {
	var items []item
	for fileNo, l := range logs {
		base := len(items)
		for i, ln := range l.lines {
			it := item{room: fmt.Sprintf("!%s-%d:%s", l.channel, copyNo, server), nick: ln.nick, body: strings.TrimPrefix(ln.text, "ACTION "),
				ts: ln.ts.Add(copyShift(copyNo, span)), replyTo: -1}
			if ln.replyTo >= 0 {
				it.replyTo = base + ln.replyTo
			}
			u := unit(copyNo, fileNo, i)
			switch shape {
			case ShapeSkewed:
				if u < 0.85 {
					it.room = fmt.Sprintf("!busy%d-%d:%s", int(u/0.85*3), copyNo, server)
				} else {
					it.room = fmt.Sprintf("!sparse%d-%d:%s", int((u-0.85)/0.15*400), copyNo, server)
				}
			case ShapeBursty:
				it.ts = bursty(ln.ts.Sub(first), span, copyNo, first)
			}
			items = append(items, it)
		}
	}
	if shape == ShapeMarkdown {
		items = markdown(items, copyNo)
	}
	// Time order, so that a room's header and joins precede its messages
	// and replies follow what they answer.
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return items[a].ts.Compare(items[b].ts) })
	pos := make([]int, len(items))
	for k, i := range order {
		pos[i] = k
	}
	out := make([]item, len(items))
	for k, i := range order {
		out[k] = items[i]
		if r := items[i].replyTo; r >= 0 {
			out[k].replyTo = pos[r]
			if pos[r] >= k {
				out[k].replyTo = -1
			}
		}
	}
	return out
}

// unit is a deterministic number in [0, 1) for a line of a copy.
func unit(parts ...int) float64 {
	h := sha256.New()
	for _, p := range parts {
		binary.Write(h, binary.LittleEndian, int64(p))
	}
	return float64(binary.LittleEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
}

// burstMonths are the months of a bursty year that have messages, and
// their shares of the copy.
var burstMonths = []struct {
	month int
	share float64
}{{0, 0.45}, {1, 0.05}, {4, 0.30}, {9, 0.20}}

// bursty maps an offset into the corpus (of the given span) to a time in
// copy k's year: three years per copy (a century at most), messages only in burstMonths of the
// first, in the corpus's order.
func bursty(off, span time.Duration, k int, first time.Time) time.Time {
	// Within a century, as copyShift: 33 copies of three years.
	year := time.Date(first.Year()+3*(k%33), 1, 1, 0, 0, 0, 0, time.UTC)
	p := float64(off) / float64(span)
	for _, b := range burstMonths {
		if p < b.share {
			start := year.AddDate(0, b.month, 0)
			return start.Add(time.Duration(p / b.share * float64(start.AddDate(0, 1, 0).Sub(start))))
		}
		p -= b.share
	}
	last := burstMonths[len(burstMonths)-1]
	return year.AddDate(0, last.month+1, 0).Add(-time.Second)
}

// markdown merges runs of consecutive lines of a room into long Markdown
// messages: a heading, a paragraph, a list, a code block and a link.
func markdown(items []item, copyNo int) []item {
	var out []item
	for i := 0; i < len(items); {
		size := 3 + int(unit(copyNo, i, 7)*12)
		j := i + 1
		for j < len(items) && j-i < size && items[j].room == items[i].room {
			j++
		}
		run := items[i:j]
		var md, h strings.Builder
		fmt.Fprintf(&md, "## %s\n\n", run[0].body)
		fmt.Fprintf(&h, "<h2>%s</h2>", html.EscapeString(run[0].body))
		rest := run[1:]
		if len(rest) > 0 {
			fmt.Fprintf(&md, "%s\n\n", rest[0].body)
			fmt.Fprintf(&h, "<p>%s</p>", html.EscapeString(rest[0].body))
			rest = rest[1:]
		}
		code := len(rest) / 3
		if len(rest)-code > 0 {
			h.WriteString("<ul>")
			for _, r := range rest[:len(rest)-code] {
				fmt.Fprintf(&md, "- %s\n", r.body)
				fmt.Fprintf(&h, "<li>%s</li>", html.EscapeString(r.body))
			}
			h.WriteString("</ul>")
			md.WriteString("\n")
		}
		if code > 0 {
			md.WriteString("```\n")
			h.WriteString("<pre><code>")
			for _, r := range rest[len(rest)-code:] {
				md.WriteString(r.body + "\n")
				h.WriteString(html.EscapeString(r.body) + "\n")
			}
			md.WriteString("```\n\n")
			h.WriteString("</code></pre>")
		}
		link := fmt.Sprintf("https://wiki.example.org/notes/%d/%d", copyNo, i)
		fmt.Fprintf(&md, "See [the notes](%s).", link)
		fmt.Fprintf(&h, `<p>See <a href="%s">the notes</a>.</p>`, link)
		out = append(out, item{room: run[0].room, nick: run[0].nick, body: md.String(), html: h.String(), ts: run[0].ts, replyTo: -1})
		i = j
	}
	return out
}
