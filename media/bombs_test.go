package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"runtime"
	"strings"
	"testing"
)

// Hostile images are made here, byte by byte, rather than kept as
// fixtures: each is a few hundred bytes whatever the size it claims.

// lsbBits writes VP8L's least-significant-bit-first bit stream.
type lsbBits struct {
	buf  []byte
	acc  uint64
	nacc uint
}

func (b *lsbBits) write(v uint64, n uint) {
	b.acc |= v << b.nacc
	b.nacc += n
	for b.nacc >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.nacc -= 8
	}
}

// vp8lImage is a lossless WebP bitstream of w×h pixels of one colour: a
// few bytes whatever the size (every prefix code has one symbol, so a
// pixel costs no bits).
func vp8lImage(w, h int) []byte {
	var b lsbBits
	b.write(0x2f, 8)
	b.write(uint64(w-1), 14)
	b.write(uint64(h-1), 14)
	b.write(0, 1+3+1+1+1) // alpha hint, version, no transform, no colour cache, no meta codes
	for range 5 {
		b.write(1, 1) // simple code
		b.write(0, 3) // one 1-bit symbol: 0
	}
	out := b.buf
	if b.nacc > 0 {
		out = append(out, byte(b.acc))
	}
	return append(out, 0, 0, 0, 0)
}

// vp8KeyFrame is the start of a lossy WebP bitstream of w×h: what a
// decoder reads before allocating the frame.
func vp8KeyFrame(w, h int) []byte {
	return []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8 & 0x3f), byte(h), byte(h >> 8 & 0x3f), 0, 0}
}

func riffChunk(fcc string, data []byte) []byte {
	out := append([]byte(fcc), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func u24(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }

// vp8xChunk is an extended WebP's header: flags and a cw×ch canvas.
func vp8xChunk(flags byte, cw, ch int) []byte {
	b := make([]byte, 10)
	b[0] = flags
	u24(b[4:], cw-1)
	u24(b[7:], ch-1)
	return riffChunk("VP8X", b)
}

// anmfChunk is an animation frame of w×h at (x, y) (even offsets).
func anmfChunk(x, y, w, h int) []byte {
	b := make([]byte, 16)
	u24(b[0:], x/2)
	u24(b[3:], y/2)
	u24(b[6:], w-1)
	u24(b[9:], h-1)
	return riffChunk("ANMF", append(b, riffChunk("VP8L", vp8lImage(w, h))...))
}

func webpFile(chunks ...[]byte) []byte {
	body := append([]byte("WEBP"), bytes.Join(chunks, nil)...)
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...)
}

// An extended WebP's header (VP8X) states a canvas, but x/image/webp's
// Decode allocates what the image chunk after it says, up to 16384×16384
// (1 GiB): the pixel bound must hold for the image, and a still image
// that is not its canvas is refused (libwebp refuses it too, so no
// browser would show it).
func TestWebPImageMustBeItsCanvas(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      []byte
		maxPixels int64
		tooMany   bool // want ErrTooManyPixels; else another error
		ok        bool
	}{
		{"lossless image larger than its canvas", webpFile(vp8xChunk(0, 1, 1), riffChunk("VP8L", vp8lImage(64, 64))), 100, true, false},
		{"lossy image larger than its canvas", webpFile(vp8xChunk(0, 1, 1), riffChunk("VP8 ", vp8KeyFrame(64, 64))), 100, true, false},
		{"image over MaxPixels behind a page-sized canvas", webpFile(vp8xChunk(0, 801, 1), riffChunk("VP8L", vp8lImage(6400, 6400))), MaxPixels, true, false},
		{"VP8L maximum behind a 1×1 canvas", webpFile(vp8xChunk(0, 1, 1), riffChunk("VP8L", vp8lImage(16384, 16384))), MaxPixels, true, false},
		{"image smaller than its canvas", webpFile(vp8xChunk(0, 64, 64), riffChunk("VP8L", vp8lImage(8, 8))), MaxPixels, false, false},
		{"canvas and no image", webpFile(vp8xChunk(0, 64, 64)), MaxPixels, false, false},
		{"unknown chunk before an honest image", webpFile(vp8xChunk(0, 64, 48), riffChunk("ZZZZ", make([]byte, 1001)), riffChunk("VP8L", vp8lImage(64, 48))), MaxPixels, false, true},
		{"extended, honest", webpFile(vp8xChunk(0, 64, 48), riffChunk("VP8L", vp8lImage(64, 48))), MaxPixels, false, true},
		{"simple, honest", webpFile(riffChunk("VP8L", vp8lImage(64, 48))), MaxPixels, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ct := Sniff(tc.file); !IsImage(ct) {
				t.Fatalf("sniffed %q, not an inline image", ct)
			}
			_, _, err := CheckPixels(bytes.NewReader(tc.file), tc.maxPixels)
			if _, _, terr := Thumbnail(bytes.NewReader(tc.file), 32, 32, tc.maxPixels); (terr == nil) != (err == nil) {
				t.Errorf("CheckPixels: %v, but Thumbnail: %v", err, terr)
			}
			switch {
			case tc.ok && err != nil:
				t.Fatalf("an honest WebP refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("accepted")
			case tc.tooMany != errors.Is(err, ErrTooManyPixels):
				t.Fatalf("err = %v, want ErrTooManyPixels %v", err, tc.tooMany)
			}
		})
	}
}

// Refusing the WebP bomb costs what reading its header costs: nothing is
// allocated in proportion to the image it claims (1 GiB decoded).
func TestWebPBombAllocatesNothing(t *testing.T) {
	file := webpFile(vp8xChunk(0, 1, 1), riffChunk("VP8L", vp8lImage(16384, 16384)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Thumbnail(bytes.NewReader(file), ThumbnailWidth, ThumbnailHeight, MaxPixels)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing a %d-byte WebP allocated %d KiB", len(file), alloc>>10)
	}
}

// x/image/webp decodes no animation frame (ANMF chunks are skipped), so an
// animated WebP gets no thumbnail of ours; a homeserver's animated
// thumbnail is still accepted when its frames lie within its canvas,
// which is what a browser allocates.
func TestAnimatedWebP(t *testing.T) {
	const anim = 0x02
	good := webpFile(vp8xChunk(anim, 64, 64), riffChunk("ANIM", make([]byte, 6)), anmfChunk(0, 0, 64, 64), anmfChunk(32, 32, 32, 32))
	if cfg, _, err := CheckPixels(bytes.NewReader(good), MaxPixels); err != nil || cfg.Width != 64 || cfg.Height != 64 {
		t.Fatalf("an animation within its canvas: %+v, %v", cfg, err)
	}
	_, _, err := Thumbnail(bytes.NewReader(good), 32, 32, MaxPixels)
	if err == nil || !strings.Contains(err.Error(), "animated") {
		t.Fatalf("Thumbnail of an animated WebP: %v, want it refused as animated", err)
	}
	for name, file := range map[string][]byte{
		"frame outside the canvas":    webpFile(vp8xChunk(anim, 64, 64), anmfChunk(0, 0, 64, 64), anmfChunk(2, 0, 64, 64)),
		"frame larger than a 1×1 one": webpFile(vp8xChunk(anim, 1, 1), anmfChunk(0, 0, 6400, 6400)),
		// Not an animation x/image knows, but an image it decodes.
		"bare image after the frames": webpFile(vp8xChunk(anim, 1, 1), anmfChunk(0, 0, 1, 1), riffChunk("VP8L", vp8lImage(6400, 6400))),
	} {
		if _, _, err := CheckPixels(bytes.NewReader(file), MaxPixels); !errors.Is(err, ErrTooManyPixels) {
			t.Errorf("%s: %v, want ErrTooManyPixels", name, err)
		}
	}
}

// msbBits writes a JPEG entropy-coded segment, stuffing 0x00 after 0xFF.
type msbBits struct {
	out  bytes.Buffer
	acc  uint32
	nacc uint
}

func (b *msbBits) write(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		b.acc = b.acc<<1 | (v>>uint(i))&1
		if b.nacc++; b.nacc == 8 {
			b.out.WriteByte(byte(b.acc))
			if byte(b.acc) == 0xff {
				b.out.WriteByte(0)
			}
			b.acc, b.nacc = 0, 0
		}
	}
}

func (b *msbBits) flush() []byte {
	for b.nacc != 0 {
		b.write(1, 1)
	}
	out := bytes.Clone(b.out.Bytes())
	b.out.Reset()
	return out
}

func jpegSegment(marker byte, data []byte) []byte {
	out := []byte{0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(out[2:], uint16(len(data)+2))
	return append(out, data...)
}

// scanBombJPEG is a progressive grayscale JPEG of w×h whose blocks are all
// zero, with a DC scan and then `scans` AC scans of a few bytes each
// (end-of-band runs of 32767 blocks), each of which makes image/jpeg visit
// every block again.
func scanBombJPEG(w, h, scans int) []byte {
	var f bytes.Buffer
	f.Write([]byte{0xff, 0xd8})
	f.Write(jpegSegment(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)))
	f.Write(jpegSegment(0xc2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0}))
	dc := append(append([]byte{0x00, 1}, make([]byte, 15)...), 0x00) // one code: category 0
	ac := append(append([]byte{0x10, 1}, make([]byte, 15)...), 0xe0) // one code: EOBRUN r=14
	f.Write(jpegSegment(0xc4, append(dc, ac...)))
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	var b msbBits
	f.Write(jpegSegment(0xda, []byte{1, 1, 0x00, 0, 0, 0x00}))
	for range blocks {
		b.write(0, 1)
	}
	f.Write(b.flush())
	for range scans {
		f.Write(jpegSegment(0xda, []byte{1, 1, 0x00, 1, 63, 0x00}))
		for left := blocks; left > 0; left -= 32767 {
			b.write(0, 1)
			b.write(0x3fff, 14)
		}
		f.Write(b.flush())
	}
	f.Write([]byte{0xff, 0xd9})
	return f.Bytes()
}

// image/jpeg visits every block on every scan, so an 800-scan 6000×6000
// JPEG of 115 KB (within MaxPixels) kept Thumbnail busy for 14 s: its
// cost was scans × pixels, set by the sender. Scans past maxJPEGScans are
// refused before decoding; an ordinary progressive file is not.
func TestJPEGScanBomb(t *testing.T) {
	bomb := scanBombJPEG(6000, 6000, 800)
	if ct := Sniff(bomb); !IsImage(ct) {
		t.Fatalf("sniffed %q", ct)
	}
	if _, _, err := Thumbnail(bytes.NewReader(bomb), ThumbnailWidth, ThumbnailHeight, MaxPixels); !errors.Is(err, ErrTooManyScans) {
		t.Fatalf("a %d KB JPEG of 800 scans: err = %v, want ErrTooManyScans before decoding", len(bomb)>>10, err)
	}
	// At the bound the file is decoded: the bound is what it says.
	for scans, ok := range map[int]bool{maxJPEGScans - 1: true, maxJPEGScans: false} {
		// One DC scan plus the AC ones.
		file := scanBombJPEG(64, 64, scans)
		_, ct, err := Thumbnail(bytes.NewReader(file), 32, 32, MaxPixels)
		if ok && (err != nil || ct != "image/jpeg") {
			t.Errorf("%d scans: %q, %v; want a thumbnail", scans+1, ct, err)
		}
		if !ok && !errors.Is(err, ErrTooManyScans) {
			t.Errorf("%d scans: %v; want ErrTooManyScans", scans+1, err)
		}
	}
}

// The marker walk finds scans where image/jpeg does: never inside a
// segment skipped by its length, never at stuffed 0xFF00 or a restart
// marker inside entropy-coded data, and not after EOI; and it does find
// them after fill bytes and junk.
func TestJPEGScanCount(t *testing.T) {
	sos := jpegSegment(0xda, []byte{1, 1, 0, 0, 63, 0})
	scans := func(n int, data []byte) []byte {
		return bytes.Repeat(append(bytes.Clone(sos), data...), n)
	}
	soi, eoi := []byte{0xff, 0xd8}, []byte{0xff, 0xd9}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		file []byte
		want bool // refused
	}{
		{"at the bound", join(soi, scans(3, []byte{1, 2, 3}), eoi), false},
		{"over the bound", join(soi, scans(4, []byte{1, 2, 3}), eoi), true},
		{"stuffing and restarts in the data", join(soi, scans(3, []byte{0xff, 0x00, 0xda, 0xff, 0xd0, 0xda, 0xff, 0xd7, 0xff, 0xff, 0x00, 0xda}), eoi), false},
		{"markers inside an APP segment", join(soi, jpegSegment(0xe1, scans(10, nil)), scans(3, nil), eoi), false},
		{"markers inside a COM segment", join(soi, jpegSegment(0xfe, scans(10, nil)), scans(3, nil), eoi), false},
		{"scans after EOI", join(soi, scans(3, nil), eoi, scans(10, nil)), false},
		{"fill bytes before markers", join(soi, bytes.Repeat(join([]byte{0xff, 0xff, 0xff}, sos[1:]), 4), eoi), true},
		{"junk between segments", join(soi, jpegSegment(0xe0, []byte("JFIF")), []byte("junk"), scans(4, nil), eoi), true},
		{"no EOI", join(soi, scans(4, []byte{0xff})), true},
		{"truncated segment", join(soi, scans(3, nil), []byte{0xff, 0xe1, 0xff}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJPEGScans(bytes.NewReader(tc.file), 3)
			if tc.want != errors.Is(err, ErrTooManyScans) {
				t.Fatalf("err = %v, want refused %v", err, tc.want)
			}
		})
	}
}

// The walks read hostile bytes: they must neither panic nor loop.
func FuzzImageWalks(f *testing.F) {
	f.Add(scanBombJPEG(16, 16, 3))
	f.Add(webpFile(vp8xChunk(0, 64, 48), riffChunk("VP8L", vp8lImage(64, 48))))
	f.Add(webpFile(vp8xChunk(0x02, 64, 64), anmfChunk(0, 0, 64, 64)))
	f.Add(webpFile(vp8xChunk(0, 1, 1), riffChunk("VP8 ", vp8KeyFrame(64, 64))))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkJPEGScans(bytes.NewReader(b), 3)
		_, _, _ = CheckPixels(bytes.NewReader(b), 1<<20)
		_, _ = checkWebP(bytes.NewReader(b), image.Config{Width: 64, Height: 64}, 1<<20)
	})
}

// The scan count costs one pass over the file: BenchmarkJPEGScanCount
// reads 8 MiB of entropy-coded data (go test -bench JPEGScanCount).
func BenchmarkJPEGScanCount(b *testing.B) {
	data := bytes.Repeat([]byte{0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, 0x78}, 1<<20)
	file := bytes.Join([][]byte{{0xff, 0xd8}, jpegSegment(0xda, []byte{1, 1, 0, 0, 63, 0}), data, {0xff, 0xd9}}, nil)
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		if err := checkJPEGScans(bytes.NewReader(file), maxJPEGScans); err != nil {
			b.Fatal(err)
		}
	}
}
