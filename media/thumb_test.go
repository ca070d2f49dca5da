package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"runtime"
	"testing"
)

// colourScanJPEG is scanBombJPEG in three full-resolution components
// (4:4:4), progressive: one interleaved DC scan, one AC scan a component,
// all blocks zero. A few hundred KB whatever size it claims within
// MaxPixels.
func colourScanJPEG(w, h int) []byte {
	var f bytes.Buffer
	f.Write([]byte{0xff, 0xd8})
	f.Write(jpegSegment(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)))
	f.Write(jpegSegment(0xc2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0}))
	dc := append(append([]byte{0x00, 1}, make([]byte, 15)...), 0x00)
	ac := append(append([]byte{0x10, 1}, make([]byte, 15)...), 0xe0)
	f.Write(jpegSegment(0xc4, append(dc, ac...)))
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	var b msbBits
	f.Write(jpegSegment(0xda, []byte{3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0x00}))
	for range 3 * blocks {
		b.write(0, 1)
	}
	f.Write(b.flush())
	for c := byte(1); c <= 3; c++ {
		f.Write(jpegSegment(0xda, []byte{1, c, 0x00, 1, 63, 0x00}))
		for left := blocks; left > 0; left -= 32767 {
			b.write(0, 1)
			b.write(0x3fff, 14)
		}
		f.Write(b.flush())
	}
	f.Write([]byte{0xff, 0xd9})
	return f.Bytes()
}

// A 266 KB progressive 4:4:4 JPEG of 6000×6600 is within MaxPixels, and
// image/jpeg keeps its coefficients as int32: decoding it took ~570 MB of
// heap, in each of the fetcher's four download slots. Its decode cost is
// now estimated from its header and it is refused before anything is
// allocated. TotalAlloc counts every allocation, so the bound does not
// depend on when the collector runs.
func TestThumbnailRefusesProgressiveJPEGCostingMoreThanBudget(t *testing.T) {
	file := colourScanJPEG(6000, 6600)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Thumbnail(bytes.NewReader(file), ThumbnailWidth, ThumbnailHeight, MaxPixels)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("a %d KB progressive 6000×6600 4:4:4 JPEG was decoded", len(file)>>10)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("thumbnailing a %d KB file allocated %d MiB (err %v)", len(file)>>10, alloc>>20, err)
	}
}

// orientedJPEG is a w×h JPEG of four solid quadrants (red, green, blue,
// white from top left, clockwise) with an EXIF APP1 segment whose
// Orientation is o, in the byte order bo, as phones write it.
func orientedJPEG(t *testing.T, w, h int, o uint16, bo binary.ByteOrder) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, quadrantColour[quadrantAt(x, y, w, h)])
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// TIFF header, IFD0 with one entry: 0x0112 SHORT 1 o.
	var tiff bytes.Buffer
	if bo == binary.LittleEndian {
		tiff.WriteString("II*\x00")
	} else {
		tiff.WriteString("MM\x00*")
	}
	binary.Write(&tiff, bo, uint32(8))
	binary.Write(&tiff, bo, uint16(1))
	binary.Write(&tiff, bo, uint16(0x0112))
	binary.Write(&tiff, bo, uint16(3))
	binary.Write(&tiff, bo, uint32(1))
	binary.Write(&tiff, bo, o)
	binary.Write(&tiff, bo, uint16(0))
	binary.Write(&tiff, bo, uint32(0))
	var out bytes.Buffer
	out.Write(enc.Bytes()[:2]) // SOI
	out.Write(jpegSegment(0xe1, append([]byte("Exif\x00\x00"), tiff.Bytes()...)))
	out.Write(enc.Bytes()[2:])
	return out.Bytes()
}

// Quadrants: 0 top left, 1 top right, 2 bottom right, 3 bottom left.
var quadrantColour = [4]color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}

func quadrantAt(x, y, w, h int) int {
	switch right, bottom := x >= w/2, y >= h/2; {
	case !right && !bottom:
		return 0
	case right && !bottom:
		return 1
	case right && bottom:
		return 2
	}
	return 3
}

// The archive's thumbnails carry no EXIF, and a phone photo (stored
// 1600×1200, Orientation 6) got an 800×600 landscape thumbnail that pages
// showed on its side while browsers open the full image upright. Each of
// the eight orientations is now applied: the thumbnail has the shown size
// and each corner the colour a browser shows there.
func TestThumbnailTurnsJPEGAsItsEXIFOrientationSays(t *testing.T) {
	// Which stored quadrant each orientation shows at the top left, top
	// right, bottom right and bottom left.
	shown := map[uint16][4]int{
		1: {0, 1, 2, 3},
		2: {1, 0, 3, 2}, // mirrored left to right
		3: {2, 3, 0, 1}, // half round
		4: {3, 2, 1, 0}, // mirrored top to bottom
		5: {0, 3, 2, 1}, // mirrored about the main diagonal
		6: {3, 0, 1, 2}, // a quarter clockwise
		7: {2, 1, 0, 3}, // mirrored about the other diagonal
		8: {1, 2, 3, 0}, // a quarter anticlockwise
	}
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(bo.String()+"/"+string(rune('0'+o)), func(t *testing.T) {
				// 1600×1200 stored, thumbnailed into 800×800.
				out, _, err := Thumbnail(bytes.NewReader(orientedJPEG(t, 1600, 1200, o, bo)), ThumbnailWidth, ThumbnailHeight, MaxPixels)
				if err != nil {
					t.Fatal(err)
				}
				th, _, err := image.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				w, h := th.Bounds().Dx(), th.Bounds().Dy()
				wantW, wantH := 800, 600
				if o >= 5 {
					wantW, wantH = 600, 800
				}
				if w != wantW || h != wantH {
					t.Fatalf("orientation %d: thumbnail %d×%d, want %d×%d as shown", o, w, h, wantW, wantH)
				}
				corners := [4]image.Point{{w / 4, h / 4}, {3 * w / 4, h / 4}, {3 * w / 4, 3 * h / 4}, {w / 4, 3 * h / 4}}
				for i, p := range corners {
					want := quadrantColour[shown[o][i]]
					r, g, b, _ := th.At(p.X, p.Y).RGBA()
					if d := max(absDiff(r>>8, uint32(want.R)), absDiff(g>>8, uint32(want.G)), absDiff(b>>8, uint32(want.B))); d > 40 {
						t.Errorf("orientation %d: at %v (corner %d) rgb %d %d %d, want %v", o, p, i, r>>8, g>>8, b>>8, want)
					}
				}
			})
		}
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// A WebP sticker with transparency: the thumbnail was a JPEG, which has no
// alpha, and its transparent background turned opaque black. A thumbnail
// that is not opaque is now a PNG, transparent where the image is.
func TestThumbnailOfTransparentWebPStaysTransparent(t *testing.T) {
	src, err := os.ReadFile("testdata/yellow_rose.lossy-with-alpha.webp")
	if err != nil {
		t.Fatal(err)
	}
	// Its top left corner is fully transparent; halved, the thumbnail's
	// is too.
	out, ct, err := Thumbnail(bytes.NewReader(src), 200, 200, MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	th, _, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, a := th.At(0, 0).RGBA(); ct != "image/png" || a != 0 {
		t.Errorf("thumbnail of a transparent WebP is %s with alpha %d at its transparent corner, want image/png, 0", ct, a>>8)
	}
	// An opaque JPEG still gets a JPEG.
	if _, ct, err := Thumbnail(bytes.NewReader(orientedJPEG(t, 64, 48, 1, binary.BigEndian)), 32, 32, MaxPixels); err != nil || ct != "image/jpeg" {
		t.Errorf("thumbnail of an opaque JPEG: %s, %v; want image/jpeg", ct, err)
	}
}
