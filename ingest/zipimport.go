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
	"strings"

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
	// importFile, not ImportFile: the statistics are refreshed once,
	// when this import returns.
	rep, err = in.importFile(ctx, tmp.Name(), opts)
	rep.File = p
	if err != nil || opts.Media == nil {
		return rep, err
	}
	claimed := map[*zip.File]bool{}
	_, err = ReadFile(ctx, tmp.Name(), FormatElement, func(ev *event.Event) error {
		refs := event.MediaRefs(ev.Type, ev.Content)
		if len(refs) == 0 {
			return nil
		}
		url, ok := event.ParseMXC(event.StringField(ev.Content, "url"))
		if !ok {
			return nil
		}
		f := claim(attachments, claimed, ev)
		if f == nil {
			return nil
		}
		stored, err := in.storeAttachment(ctx, url, f, opts.MediaMaxSize, opts.Media)
		if err != nil {
			rep.MediaErrors = append(rep.MediaErrors, fmt.Errorf("%s (%s): %w", f.Name, ev.ID, err))
			return nil
		}
		if stored {
			rep.Media++
		}
		return nil
	})
	return rep, err
}

// claim finds ev's attachment in the ZIP, as Element named it.
func claim(attachments map[string][]*zip.File, claimed map[*zip.File]bool, ev *event.Event) *zip.File {
	dir := "files"
	switch event.StringField(ev.Content, "msgtype") {
	case event.MsgImage:
		dir = "images"
	case event.MsgVideo:
		dir = "videos"
	case event.MsgAudio:
		dir = "audio"
	default:
		if ev.Type == event.TypeSticker {
			dir = "stickers"
		}
	}
	body := event.StringField(ev.Content, "body")
	stem, ext := body, ""
	if i := strings.LastIndexByte(body, '.'); i >= 0 {
		stem, ext = body[:i], body[i:]
	}
	if ev.Type == event.TypeSticker {
		ext = ".png"
	}
	for _, f := range attachments[dir] {
		name := path.Base(f.Name)
		if !claimed[f] && strings.HasPrefix(name, stem+"-") && strings.HasSuffix(name, ext) && len(name) > len(stem)+1+len(ext) {
			claimed[f] = true
			return f
		}
	}
	return nil
}

// storeAttachment puts one attachment into the media store for url, if an
// archived event refers to it and the archive has no copy yet. The size
// bound applies to the decompressed bytes, so a ZIP bomb stops at it.
func (in *Ingester) storeAttachment(ctx context.Context, url event.MXC, f *zip.File, maxSize int64, blobs media.Blobs) (bool, error) {
	m, err := in.store.MediaFor(ctx, url)
	if err != nil {
		return false, err
	}
	if m.State != store.MediaPending {
		return false, nil // not archived (not public), erased, or already here
	}
	kept, err := in.putAttachment(ctx, url, f, maxSize, blobs)
	if errors.Is(err, media.ErrNotFound) {
		// A running archiver's deletion pass removed the same bytes,
		// found already on disk, before they were recorded: store them
		// again, once.
		kept, err = in.putAttachment(ctx, url, f, maxSize, blobs)
	}
	return kept, err
}

// putAttachment stores f's bytes and records them for url, checking under
// the database's write lock that they are still on disk.
func (in *Ingester) putAttachment(ctx context.Context, url event.MXC, f *zip.File, maxSize int64, blobs media.Blobs) (bool, error) {
	rc, err := f.Open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	var head bytes.Buffer
	b, err := blobs.Put(ctx, io.TeeReader(rc, &limitedBuffer{&head, media.SniffLen}), maxSize)
	if err != nil {
		return false, err
	}
	return in.store.MediaFetched(ctx, url, b.Hash, b.Size, media.Sniff(head.Bytes()), func() error {
		fl, err := blobs.Open(ctx, b.Hash)
		if err != nil {
			return err
		}
		return fl.Close()
	})
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
