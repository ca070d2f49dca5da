package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"testing"
)

// exifSegment is an APP1 payload whose IFD0 holds entries (tag, type,
// count, value), in byte order bo.
func exifSegment(bo binary.ByteOrder, entries ...[4]uint32) []byte {
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00")
	if bo == binary.LittleEndian {
		b.WriteString("II*\x00")
	} else {
		b.WriteString("MM\x00*")
	}
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, bo, uint16(e[0]))
		binary.Write(&b, bo, uint16(e[1]))
		binary.Write(&b, bo, e[2])
		binary.Write(&b, bo, uint16(e[3]))
		binary.Write(&b, bo, uint16(0))
	}
	binary.Write(&b, bo, uint32(0))
	return b.Bytes()
}

func TestEXIFOrientationReadsOnlyAWellFormedTag(t *testing.T) {
	full := exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 6})
	for _, tc := range []struct {
		name   string
		seg    []byte
		want   int
		isExif bool
	}{
		{"big endian", full, 6, true},
		{"little endian", exifSegment(binary.LittleEndian, [4]uint32{0x0112, 3, 1, 8}), 8, true},
		{"after other tags", exifSegment(binary.LittleEndian, [4]uint32{0x010f, 2, 4, 0}, [4]uint32{0x0112, 3, 1, 3}), 3, true},
		{"no orientation tag", exifSegment(binary.BigEndian, [4]uint32{0x010f, 2, 4, 0}), 1, true},
		{"out of range", exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 9}), 1, true},
		{"zero", exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 0}), 1, true},
		{"not a SHORT", exifSegment(binary.BigEndian, [4]uint32{0x0112, 4, 1, 6}), 1, true},
		{"two values", exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 2, 6}), 1, true},
		{"entry cut short", full[:len(full)-8], 1, true},
		{"IFD past the end", append([]byte("Exif\x00\x00MM\x00*"), 0xff, 0xff, 0xff, 0xf0), 1, true},
		{"bad byte order", append([]byte("Exif\x00\x00XX\x00*"), full[10:]...), 1, true},
		{"empty Exif", []byte("Exif\x00\x00"), 1, true},
		{"XMP", []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"), 1, false},
		{"nothing", nil, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o, isExif := exifOrientation(tc.seg); o != tc.want || isExif != tc.isExif {
				t.Errorf("exifOrientation = %d, %v; want %d, %v", o, isExif, tc.want, tc.isExif)
			}
		})
	}
}

// The parser reads what a room sent: any bytes give an orientation 1-8
// and no panic, and a JPEG carrying them is walked without error.
func FuzzEXIFOrientation(f *testing.F) {
	f.Add(exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 6}))
	f.Add(exifSegment(binary.LittleEndian, [4]uint32{0x010f, 2, 4, 0}, [4]uint32{0x0112, 3, 1, 5}))
	f.Add([]byte("Exif\x00\x00II*\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, seg []byte) {
		if o, _ := exifOrientation(seg); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if len(seg) > 65533 {
			return
		}
		file := append(append([]byte{0xff, 0xd8}, jpegSegment(0xe1, seg)...), 0xff, 0xd9)
		if info, err := scanJPEG(bytes.NewReader(file), maxJPEGScans); err != nil || info.orientation < 1 || info.orientation > 8 {
			t.Fatalf("scanJPEG: %+v, %v", info, err)
		}
	})
}

// Only the first Exif segment before the frame header counts, as in
// browsers; an XMP APP1 before it is passed over.
func TestScanJPEGReadsFirstExifAndFrameHeader(t *testing.T) {
	file := colourScanJPEG(64, 48)
	xmp := jpegSegment(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>"))
	first := jpegSegment(0xe1, exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 6}))
	second := jpegSegment(0xe1, exifSegment(binary.BigEndian, [4]uint32{0x0112, 3, 1, 3}))
	head := append(append(append(bytes.Clone(file[:2]), xmp...), first...), second...)
	info, err := scanJPEG(bytes.NewReader(append(head, file[2:]...)), maxJPEGScans)
	if err != nil {
		t.Fatal(err)
	}
	want := jpegInfo{sof: true, progressive: true, comps: []jpegComponent{{1, 1}, {1, 1}, {1, 1}}, orientation: 6}
	if info.sof != want.sof || info.progressive != want.progressive || len(info.comps) != 3 || info.comps[0] != want.comps[0] || info.orientation != 6 {
		t.Errorf("scanJPEG = %+v, want %+v", info, want)
	}
}

// The decision to decode is taken on the estimated memory, which must be
// at least what image/jpeg, image/png and x/image/webp allocate, and leave
// ordinary photos within MaxDecodeBytes.
func TestDecodeCostWithinBudgetForPhotosNotForProgressiveGiants(t *testing.T) {
	jpegOf := func(progressive bool, comps ...jpegComponent) jpegInfo {
		return jpegInfo{sof: true, progressive: progressive, comps: comps, orientation: 1}
	}
	yuv420 := []jpegComponent{{2, 2}, {1, 1}, {1, 1}}
	yuv444 := []jpegComponent{{1, 1}, {1, 1}, {1, 1}}
	cfg := func(w, h int, m color.Model) image.Config { return image.Config{Width: w, Height: h, ColorModel: m} }
	for _, tc := range []struct {
		name       string
		cfg        image.Config
		format     string
		jpeg       jpegInfo
		interlaced bool
		atLeast    int64 // what the decoder allocates, by its code
		within     bool  // within MaxDecodeBytes
	}{
		// 12 bytes a pixel of coefficients and 3 of image: measured
		// ~570 MB.
		{"progressive 4:4:4 6000×6600", cfg(6000, 6600, color.YCbCrModel), "jpeg", jpegOf(true, yuv444...), false, 15 * 6000 * 6600, false},
		{"baseline 4:2:0 6000×6600", cfg(6000, 6600, color.YCbCrModel), "jpeg", jpegOf(false, yuv420...), false, 6000 * 6600 * 3 / 2, true},
		{"baseline 4:4:4 6000×6600", cfg(6000, 6600, color.YCbCrModel), "jpeg", jpegOf(false, yuv444...), false, 3 * 6000 * 6600, true},
		{"progressive 4:2:0 12 MP phone photo", cfg(4000, 3000, color.YCbCrModel), "jpeg", jpegOf(true, yuv420...), false, 4000 * 3000 * 15 / 2, true},
		{"progressive 4:2:0 24 MP", cfg(6000, 4000, color.YCbCrModel), "jpeg", jpegOf(true, yuv420...), false, 6000 * 4000 * 15 / 2, false},
		{"CMYK", cfg(2000, 2000, color.CMYKModel), "jpeg", jpegOf(false, yuv444[0], yuv444[0], yuv444[0], yuv444[0]), false, 8 * 2000 * 2000, true},
		{"no frame header read", cfg(4000, 3000, color.YCbCrModel), "jpeg", jpegInfo{}, false, 24 * 4000 * 3000, false},
		{"RGBA PNG 24 MP", cfg(6000, 4000, color.NRGBAModel), "png", jpegInfo{}, false, 4 * 6000 * 4000, true},
		{"interlaced RGBA PNG 24 MP", cfg(6000, 4000, color.NRGBAModel), "png", jpegInfo{}, true, 8 * 6000 * 4000, false},
		{"16-bit PNG", cfg(4000, 4000, color.NRGBA64Model), "png", jpegInfo{}, false, 8 * 4000 * 4000, true},
		{"paletted PNG 40 MP", cfg(8000, 5000, color.Palette{color.Black}), "png", jpegInfo{}, false, 8000 * 5000, true},
		{"lossy WebP with alpha", cfg(4000, 4000, color.NYCbCrAModel), "webp", jpegInfo{}, false, 6 * 4000 * 4000, true},
		{"lossless WebP 20 MP", cfg(5000, 4000, color.NRGBAModel), "webp", jpegInfo{}, false, 4 * 5000 * 4000, false},
		{"GIF", cfg(8000, 5000, color.Palette{color.Black}), "gif", jpegInfo{}, false, 8000 * 5000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeCost(tc.cfg, tc.format, tc.jpeg, tc.interlaced)
			if got < tc.atLeast {
				t.Errorf("decodeCost = %d MiB, below the %d MiB the decoder allocates", got>>20, tc.atLeast>>20)
			}
			if (got <= MaxDecodeBytes) != tc.within {
				t.Errorf("decodeCost = %d MiB: within the %d MiB budget %v, want %v", got>>20, MaxDecodeBytes>>20, got <= MaxDecodeBytes, tc.within)
			}
		})
	}
}

// orient moves whole pixels: each orientation and its inverse give back
// the image.
func TestOrientMovesWholePixels(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = byte(i)
	}
	inverse := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	for o := 1; o <= 8; o++ {
		back := orient(orient(src, o), inverse[o])
		if !bytes.Equal(back.Pix, src.Pix) || back.Bounds() != src.Bounds() {
			t.Errorf("orientation %d then %d: %v %v, want %v %v", o, inverse[o], back.Bounds(), back.Pix, src.Bounds(), src.Pix)
		}
	}
}
