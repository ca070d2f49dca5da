package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// zipMagic starts every ZIP file.
var zipMagic = []byte("PK\x03\x04")

func isZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(zipMagic))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, zipMagic)
}

// importZip imports Element's "Export chat" ZIP: one JSON export at the top
// level, imported as FormatElement, and its attachments under images/,
// videos/, audio/, stickers/ and files/, put into the media store for the
// events that were archived. Element names each attachment
// "{dir}/{body without extension}-{date in the exporter's locale}{extension}"
// (a sticker's extension is .png), in timeline order; the date cannot be
// recomputed, so an attachment is matched on its directory, name and
// extension, the first unclaimed one in the ZIP's order, which is the
// export's.
func (in *Ingester) importZip(ctx context.Context, p string, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{File: p, Format: FormatElement}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return rep, fmt.Errorf("import %s: %w: not a readable ZIP archive: %w", p, ErrUnknownFormat, err)
	}
	defer zr.Close()
	var exports []*zip.File
	attachments := map[string][]*zip.File{}
	for _, f := range zr.File {
		dir, name := path.Split(f.Name)
		switch {
		case dir == "" && strings.HasSuffix(strings.ToLower(name), ".json"):
			exports = append(exports, f)
		case !f.FileInfo().IsDir() && strings.Count(f.Name, "/") == 1:
			attachments[strings.TrimSuffix(dir, "/")] = append(attachments[strings.TrimSuffix(dir, "/")], f)
		}
	}
	if len(exports) != 1 {
		return rep, fmt.Errorf("import %s: %w: a ZIP archive is read as an Element export, which holds one JSON file at its top level; this one has %d", p, ErrUnknownFormat, len(exports))
	}
	// The JSON is imported from a temporary copy: the importer reads files
	// by path, twice.
	tmp, err := os.CreateTemp("", "mxarchive-import-*.json")
	if err != nil {
		return rep, fmt.Errorf("import %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	rc, err := exports[0].Open()
	if err != nil {
		tmp.Close()
		return rep, fmt.Errorf("import %s: %s: %w", p, exports[0].Name, err)
	}
	n, err := io.Copy(tmp, io.LimitReader(rc, maxExportSize+1))
	rc.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("import %s: %s: %w", p, exports[0].Name, err)
	}
	if n > maxExportSize {
		return rep, fmt.Errorf("import %s: %s is larger than the %d-byte limit", p, exports[0].Name, int64(maxExportSize))
	}
	opts.Format = FormatElement
	var before map[id.EventID]int64
	var mediaEvs []zipMediaEvent
	if opts.Media != nil {
		// The file's events that refer to media, and which of them the
		// archive held before this import.
		src, _, err := openSource(tmp.Name(), FormatElement, nil)
		if err != nil {
			return rep, err
		}
		// Messages and stickers, not state: one pass of the two.
		if err := src.each(ctx, false, nil, func(_ int, ev *event.Event) error {
			if me, ok := mediaEventOf(ev); ok {
				mediaEvs = append(mediaEvs, me)
			}
			return nil
		}, nil); err != nil {
			return rep, err
		}
		ids := make([]id.EventID, len(mediaEvs))
		for i, me := range mediaEvs {
			ids[i] = me.id
		}
		if before, err = in.store.EventTimes(ctx, ids); err != nil {
			return rep, fmt.Errorf("import %s: %w", p, err)
		}
	}
	// importFile, not ImportFile: the statistics are refreshed once,
	// when this import returns.
	rep, err = in.importFile(ctx, tmp.Name(), opts)
	rep.File = p
	if err != nil || opts.Media == nil {
		return rep, err
	}
	// An attachment's bytes are the file's claim. They are taken only
	// for a file that events this import stored alone refer to: a file
	// the archive holds for other messages (archived from the homeserver,
	// or by another import) is the homeserver's to give, and the
	// running archiver fetches it. An export naming a live message's
	// file in an event of its own (in a room it did not even archive)
	// put its bytes in that message's place.
	fresh := map[id.EventID]bool{}
	for _, me := range mediaEvs {
		if _, ok := before[me.id]; !ok {
			fresh[me.id] = true
		}
	}
	budget := &mediaBudget{left: -1, charged: map[string]bool{}}
	if opts.MediaMaxTotal > 0 {
		st, err := in.store.MediaStats(ctx)
		if err != nil {
			return rep, fmt.Errorf("import %s: %w", p, err)
		}
		budget.left = max(opts.MediaMaxTotal-st.Bytes, 0)
	}
	index := newAttachmentIndex(attachments)
	for i, me := range mediaEvs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
		// Claimed in the export's order whether stored or not, so that
		// each message is matched to its own attachment.
		f := index.claim(me)
		if f == nil {
			continue
		}
		if !fresh[me.id] {
			// Said, if its file is still to be fetched: an import run
			// again after one that stopped or found no room supplies
			// no file for the messages that one stored.
			if m, err := in.store.MediaFor(ctx, me.url); err != nil {
				return rep, fmt.Errorf("import %s: %w", p, err)
			} else if m.State == store.MediaPending {
				rep.MediaErrors = append(rep.MediaErrors, fmt.Errorf("%s (%s): %w: its message was archived before this import (from the homeserver, or by an earlier import); the archiver fetches %s from the homeserver",
					f.Name, me.id, errAttachmentNotStored, me.url))
			}
			continue
		}
		stored, err := in.storeAttachment(ctx, me.url, f, fresh, budget, opts)
		if err != nil {
			rep.MediaErrors = append(rep.MediaErrors, fmt.Errorf("%s (%s): %w", f.Name, me.id, err))
		} else if stored {
			rep.Media++
		}
	}
	return rep, nil
}

// zipMediaEvent is what matching an export's event to its attachment
// needs of it.
type zipMediaEvent struct {
	id        id.EventID
	url       event.MXC
	dir       string // Element's directory for its kind
	stem, ext string // its body's name and extension, as Element names the file
}

// mediaEventOf is ev as zipMediaEvent, if it refers to a file by its url.
func mediaEventOf(ev *event.Event) (zipMediaEvent, bool) {
	if len(event.MediaRefs(ev.Type, ev.Content)) == 0 {
		return zipMediaEvent{}, false
	}
	url, ok := event.ParseMXC(event.StringField(ev.Content, "url"))
	if !ok {
		return zipMediaEvent{}, false
	}
	me := zipMediaEvent{id: ev.ID, url: url, dir: "files"}
	switch event.StringField(ev.Content, "msgtype") {
	case event.MsgImage:
		me.dir = "images"
	case event.MsgVideo:
		me.dir = "videos"
	case event.MsgAudio:
		me.dir = "audio"
	default:
		if ev.Type == event.TypeSticker {
			me.dir = "stickers"
		}
	}
	body := event.StringField(ev.Content, "body")
	me.stem = body
	if i := strings.LastIndexByte(body, '.'); i >= 0 {
		me.stem, me.ext = body[:i], body[i:]
	}
	if ev.Type == event.TypeSticker {
		me.ext = ".png"
	}
	return me, true
}

// attachmentIndex finds each event's attachment in the ZIP, as Element
// named it: the first unclaimed one in the ZIP's order, in the event's
// directory, named its body's name, "-", something, and its extension.
// The names that start with the body's name and "-" are a run of the
// directory's names sorted, and those of one body, once found, are kept
// in the ZIP's order for the next event of the same name: a scan of every
// attachment for each event took 28 s for 20,000 of them (helper-91).
type attachmentIndex struct {
	files   map[string][]*zip.File // by directory, in the ZIP's order
	names   map[string][]string    // their base names
	sorted  map[string][]int       // their indexes, by name
	runs    map[[3]string][]int    // (directory, name, extension): the candidates left, in the ZIP's order
	claimed map[*zip.File]bool
}

func newAttachmentIndex(files map[string][]*zip.File) *attachmentIndex {
	x := &attachmentIndex{files: files, names: map[string][]string{}, sorted: map[string][]int{},
		runs: map[[3]string][]int{}, claimed: map[*zip.File]bool{}}
	for dir, fs := range files {
		names := make([]string, len(fs))
		order := make([]int, len(fs))
		for i, f := range fs {
			names[i], order[i] = path.Base(f.Name), i
		}
		slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
		x.names[dir], x.sorted[dir] = names, order
	}
	return x
}

func (x *attachmentIndex) claim(me zipMediaEvent) *zip.File {
	key := [3]string{me.dir, me.stem, me.ext}
	run, ok := x.runs[key]
	if !ok {
		names, order, prefix := x.names[me.dir], x.sorted[me.dir], me.stem+"-"
		lo, _ := slices.BinarySearchFunc(order, prefix, func(i int, p string) int { return strings.Compare(names[i], p) })
		for _, i := range order[lo:] {
			name := names[i]
			if !strings.HasPrefix(name, prefix) {
				break
			}
			if strings.HasSuffix(name, me.ext) && len(name) > len(prefix)+len(me.ext) {
				run = append(run, i)
			}
		}
		slices.Sort(run)
	}
	files := x.files[me.dir]
	for len(run) > 0 && x.claimed[files[run[0]]] {
		run = run[1:]
	}
	if len(run) == 0 {
		x.runs[key] = run
		return nil
	}
	f := files[run[0]]
	x.claimed[f] = true
	x.runs[key] = run[1:]
	return f
}

// maxAttachmentRefs bounds the events storeAttachment reads that refer to
// one file: a file more of them refer to is left to the fetcher.
const maxAttachmentRefs = 1000

// errAttachmentNotStored says why an attachment was left to the fetcher.
var errAttachmentNotStored = errors.New("not stored")

// storeAttachment puts one attachment into the media store for url, if
// archived events refer to it, each one this import stored (fresh), and
// the archive has no copy yet. It reports false if no archived event
// refers to it or the archive has it, and errAttachmentNotStored, saying
// why, for the rest it leaves to the fetcher. The size bound applies to the decompressed bytes, so a ZIP
// bomb stops at it, and so does what media.max_total leaves.
func (in *Ingester) storeAttachment(ctx context.Context, url event.MXC, f *zip.File, fresh map[id.EventID]bool, budget *mediaBudget, opts ImportOptions) (bool, error) {
	m, err := in.store.MediaFor(ctx, url)
	if err != nil {
		return false, err
	}
	if m.State != store.MediaPending {
		return false, nil // not archived (not public), erased, or already here
	}
	refs, err := in.store.MediaRefEvents(ctx, url, maxAttachmentRefs+1)
	if err != nil {
		return false, err
	}
	if len(refs) > maxAttachmentRefs {
		return false, fmt.Errorf("%w: more than %d messages refer to %s; the archiver fetches it from the homeserver", errAttachmentNotStored, maxAttachmentRefs, url)
	}
	for _, r := range refs {
		if !fresh[r] {
			return false, fmt.Errorf("%w: %s, to which %s refers, was archived from elsewhere; the archiver fetches it from the homeserver", errAttachmentNotStored, url, r)
		}
	}
	maxSize, full := opts.MediaMaxSize, error(nil)
	if left := budget.left; left >= 0 {
		if left == 0 {
			return false, fmt.Errorf("%w: the media store is full (media.max_total %d bytes); the archiver fetches it when there is space", errAttachmentNotStored, opts.MediaMaxTotal)
		}
		if maxSize <= 0 || left < maxSize {
			maxSize = left
			full = fmt.Errorf("%w: the media store is too full for it (media.max_total %d bytes, %d left); the archiver fetches it when there is space",
				errAttachmentNotStored, opts.MediaMaxTotal, left)
		}
	}
	kept, b, err := in.putAttachment(ctx, url, f, maxSize, opts.Media)
	if errors.Is(err, media.ErrNotFound) {
		// A running archiver's deletion pass removed the same bytes,
		// found already on disk, before they were recorded: store them
		// again, once.
		kept, b, err = in.putAttachment(ctx, url, f, maxSize, opts.Media)
	}
	if errors.Is(err, media.ErrTooLarge) && full != nil {
		return false, full
	}
	if kept {
		budget.charge(b)
	}
	return kept, err
}

// mediaBudget is what media.max_total leaves an import: read once
// (MediaStats counts over the whole media table: read for each
// attachment, it made an import of 10,000 take 5.5 min, helper-92) and
// kept as attachments are stored; left -1: no bound.
type mediaBudget struct {
	left    int64
	charged map[string]bool // the blobs charged, by hash
}

// charge takes b's bytes from what is left, once a blob: the store counts
// each blob once, however many files are its bytes (MediaStats), so an
// export's image sent twice costs once (helper-93).
func (m *mediaBudget) charge(b media.Blob) {
	if m.left >= 0 && !m.charged[b.Hash] {
		m.charged[b.Hash] = true
		m.left = max(m.left-b.Size, 0)
	}
}

// putAttachment stores f's bytes and records them for url, checking under
// the database's write lock that they are still on disk.
func (in *Ingester) putAttachment(ctx context.Context, url event.MXC, f *zip.File, maxSize int64, blobs media.Blobs) (bool, media.Blob, error) {
	rc, err := f.Open()
	if err != nil {
		return false, media.Blob{}, err
	}
	defer rc.Close()
	var head bytes.Buffer
	b, err := blobs.Put(ctx, io.TeeReader(rc, &limitedBuffer{&head, media.SniffLen}), maxSize)
	if err != nil {
		return false, media.Blob{}, err
	}
	ct := media.Sniff(head.Bytes())
	kept, err := in.store.MediaFetched(ctx, url, b.Hash, b.Size, ct, func() error {
		fl, err := blobs.Open(ctx, b.Hash)
		if err != nil {
			return err
		}
		return fl.Close()
	})
	if err == nil && kept {
		// The thumbnail the fetcher would have made: nothing makes one
		// later, and pages would load the whole image through /thumbnail.
		if terr := media.StoreThumbnail(ctx, in.store, blobs, url, b, ct, in.log); terr != nil {
			// Pages then show the image itself, as after a fetch.
			in.log.Warn("media thumbnail not made", "mxc", url.String(), "err", terr)
		}
	}
	return kept, b, err
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if rest := l.n - l.b.Len(); rest > 0 {
		l.b.Write(p[:min(rest, len(p))])
	}
	return len(p), nil
}
