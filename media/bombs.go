package media

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"

	"golang.org/x/image/riff"
	"golang.org/x/image/vp8"
	"golang.org/x/image/vp8l"
)

// A header is a claim, like everything else in a file: these walks check
// the claims the decoders do not, in time linear in the file's size and
// without allocating anything the file's numbers choose.

// ErrTooManyScans: a JPEG with more scans than the archive decodes
// (maxJPEGScans).
var ErrTooManyScans = errors.New("JPEG has too many scans to decode")

// maxJPEGScans bounds the scans (SOS segments) of a JPEG the archive
// decodes. image/jpeg visits every block of the image on every scan, even
// an empty one of a few bytes, so decoding costs scans × pixels, not
// bytes: 800 empty scans of a 6000×6000 image (115 KB) took 14 s. Real
// progressive files have about 10 (libjpeg's default script: 10, mozjpeg's
// a few more); 64 empty scans of that 6000×6000 image decode, here, in
// about the time of one (1.5–3 s on a shared 2-core machine).
const maxJPEGScans = 64

// checkJPEGScans reads a JPEG to its EOI marker and refuses one with more
// than maxScans scans (scanJPEG).
func checkJPEGScans(r io.Reader, maxScans int) error {
	_, err := scanJPEG(r, maxScans)
	return err
}

// jpegInfo is what scanJPEG learns of a JPEG beyond image.DecodeConfig:
// what the decoder will allocate (decodeCost) and how to show it
// (orientation).
type jpegInfo struct {
	// sof is true once a frame header (SOF0-2, what image/jpeg decodes)
	// was read: progressive, and each component's sampling factors.
	sof         bool
	progressive bool
	comps       []jpegComponent
	// orientation is the EXIF Orientation of the first APP1 Exif segment
	// before the frame header (1-8; 1 when absent or unreadable).
	orientation int
}

type jpegComponent struct{ h, v int }

// scanJPEG reads a JPEG to its EOI marker and refuses one with more than
// maxScans scans. It finds markers as image/jpeg does: segments are
// skipped by their lengths, and between them (entropy-coded data after a
// scan header, or junk) a marker is 0xFF followed by a byte other than
// 0x00 (stuffing), 0xFF (fill) or RST0-7, which the decoder does not end
// a scan at. It may count a scan the decoder never reaches (after an
// error), never the reverse. On the way it reads the frame header and an
// APP1 Exif segment (at most 64 KiB, a segment's largest).
func scanJPEG(r io.Reader, maxScans int) (jpegInfo, error) {
	info := jpegInfo{orientation: 1}
	br := bufio.NewReaderSize(r, 64<<10)
	var two [2]byte
	if _, err := io.ReadFull(br, two[:]); err != nil || two != [2]byte{0xff, 0xd8} {
		return info, errors.New("jpeg: missing SOI marker")
	}
	scans, exif := 0, false
	for {
		m, err := nextJPEGMarker(br)
		if err != nil {
			// Truncated: the decoder stops here too.
			return info, nil
		}
		if m == 0xd9 { // EOI: the decoder reads no further.
			return info, nil
		}
		if _, err := io.ReadFull(br, two[:]); err != nil {
			return info, nil
		}
		n := int(two[0])<<8 | int(two[1]) - 2
		if n < 0 {
			return info, nil // the decoder refuses it
		}
		switch {
		case m == 0xda:
			if scans++; scans > maxScans {
				return info, fmt.Errorf("%w: more than %d", ErrTooManyScans, maxScans)
			}
		case m >= 0xc0 && m <= 0xc2 && !info.sof:
			// The decoder refuses a second frame header; the first is
			// the one it allocates for.
			seg := make([]byte, n)
			if _, err := io.ReadFull(br, seg); err != nil {
				return info, nil
			}
			info.sof, info.progressive = true, m == 0xc2
			if len(seg) >= 6 {
				for c := seg[6:]; len(c) >= 3 && len(info.comps) < 4; c = c[3:] {
					info.comps = append(info.comps, jpegComponent{h: int(c[1] >> 4), v: int(c[1] & 0x0f)})
				}
			}
			continue
		case m == 0xe1 && !exif && !info.sof:
			seg := make([]byte, n)
			if _, err := io.ReadFull(br, seg); err != nil {
				return info, nil
			}
			if o, ok := exifOrientation(seg); ok {
				info.orientation, exif = o, true
			}
			continue
		}
		if _, err := br.Discard(n); err != nil {
			return info, nil
		}
	}
}

// nextJPEGMarker returns the byte of the next marker in br, skipping
// whatever is not one.
func nextJPEGMarker(br *bufio.Reader) (byte, error) {
	for {
		// ReadSlice finds the 0xFF within the buffer, so a long run of
		// entropy-coded data costs one pass.
		if _, err := br.ReadSlice(0xff); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			return 0, err
		}
		c, err := br.ReadByte()
		for err == nil && c == 0xff {
			c, err = br.ReadByte()
		}
		if err != nil {
			return 0, err
		}
		if c == 0x00 || c >= 0xd0 && c <= 0xd7 {
			continue
		}
		return c, nil
	}
}

// webpInfo is what checkWebP learnt beyond the header.
type webpInfo struct {
	animated bool
}

// checkWebP walks a WebP's chunks as golang.org/x/image/webp does and
// checks the image it would decode against canvas, the size DecodeConfig
// reported. For an extended file (VP8X) that is only the canvas: Decode
// allocates whatever the first VP8 or VP8L chunk says (up to
// 16384×16384, 1 GiB), and a still image whose frame is not its canvas is
// invalid (libwebp refuses it too). An animation's frames (ANMF) must lie
// within the canvas, which is what a browser allocates; x/image does not
// decode them at all.
func checkWebP(r io.Reader, canvas image.Config, maxPixels int64) (webpInfo, error) {
	var info webpInfo
	form, chunks, err := riff.NewReader(r)
	if err != nil {
		return info, fmt.Errorf("webp: %w", err)
	}
	if form != (riff.FourCC{'W', 'E', 'B', 'P'}) {
		return info, errors.New("webp: not a WEBP form")
	}
	for first := true; ; first = false {
		id, n, data, err := chunks.Next()
		if errors.Is(err, io.EOF) {
			if info.animated {
				return info, nil
			}
			return info, errors.New("webp: no image data")
		}
		if err != nil {
			return info, fmt.Errorf("webp: %w", err)
		}
		var w, h int
		switch id {
		case riff.FourCC{'V', 'P', '8', 'X'}:
			var b [10]byte
			if !first || n != 10 {
				return info, errors.New("webp: misplaced VP8X chunk")
			}
			if _, err := io.ReadFull(data, b[:]); err != nil {
				return info, fmt.Errorf("webp: %w", err)
			}
			info.animated = b[0]&0x02 != 0
			continue
		case riff.FourCC{'A', 'N', 'M', 'F'}:
			if !info.animated {
				continue // ignored by the decoder
			}
			var b [16]byte
			if _, err := io.ReadFull(data, b[:]); err != nil {
				return info, fmt.Errorf("webp: animation frame: %w", err)
			}
			u24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
			x, y := 2*u24(b[0:]), 2*u24(b[3:])
			fw, fh := u24(b[6:])+1, u24(b[9:])+1
			if x+fw > canvas.Width || y+fh > canvas.Height {
				return info, fmt.Errorf("%w: WebP animation frame %d×%d at (%d,%d) outside its %d×%d canvas",
					ErrTooManyPixels, fw, fh, x, y, canvas.Width, canvas.Height)
			}
			continue
		case riff.FourCC{'V', 'P', '8', ' '}:
			d := vp8.NewDecoder()
			d.Init(data, int(n))
			fh, err := d.DecodeFrameHeader()
			if err != nil {
				return info, fmt.Errorf("webp: %w", err)
			}
			w, h = fh.Width, fh.Height
		case riff.FourCC{'V', 'P', '8', 'L'}:
			cfg, err := vp8l.DecodeConfig(data)
			if err != nil {
				return info, fmt.Errorf("webp: %w", err)
			}
			w, h = cfg.Width, cfg.Height
		default:
			continue
		}
		// The decoder stops at the first image chunk: so does the walk.
		if int64(w)*int64(h) > maxPixels {
			return info, fmt.Errorf("%w: WebP image %d×%d behind a %d×%d header (limit %d)",
				ErrTooManyPixels, w, h, canvas.Width, canvas.Height, maxPixels)
		}
		if w != canvas.Width || h != canvas.Height {
			return info, fmt.Errorf("image header: WebP image is %d×%d, its canvas %d×%d", w, h, canvas.Width, canvas.Height)
		}
		return info, nil
	}
}
