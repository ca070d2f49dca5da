package media

import (
	"bytes"
	"encoding/binary"
	"image"
)

// Phones store a photo as the sensor saw it and say in EXIF how to turn it
// (Orientation); browsers show a JPEG turned (CSS image-orientation:
// from-image, the default). The archive's own thumbnails carry no EXIF,
// so they are turned when made, or a portrait photo's thumbnail lies on
// its side while the full image opens upright.

// exifOrientation reads the Orientation tag (0x0112) from IFD0 of an APP1
// segment's payload. isExif tells whether the payload is Exif at all (a
// JPEG's first Exif segment is the one browsers read; an XMP APP1 is
// not); orientation is 1 (as stored) when the tag is missing, malformed or
// out of range. It reads only within seg, at most one IFD's entries.
func exifOrientation(seg []byte) (orientation int, isExif bool) {
	tiff, ok := bytes.CutPrefix(seg, []byte("Exif\x00\x00"))
	if !ok {
		return 1, false
	}
	if len(tiff) < 8 {
		return 1, true
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1, true
	}
	ifd := uint64(bo.Uint32(tiff[4:]))
	if ifd+2 > uint64(len(tiff)) {
		return 1, true
	}
	n := uint64(bo.Uint16(tiff[ifd:]))
	entries := tiff[ifd+2:]
	for i := uint64(0); i < n && 12*(i+1) <= uint64(len(entries)); i++ {
		e := entries[12*i : 12*(i+1)]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		// SHORT, one value, held in the entry itself.
		if bo.Uint16(e[2:]) != 3 || bo.Uint32(e[4:]) != 1 {
			return 1, true
		}
		if o := int(bo.Uint16(e[8:])); o >= 1 && o <= 8 {
			return o, true
		}
		return 1, true
	}
	return 1, true
}

// orientedSize is the size an image of w×h stored with EXIF orientation o
// is shown at: 5-8 turn it a quarter.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// orient returns src (as stored) turned and flipped as EXIF orientation o
// says, for showing. Thumbnail scales first and orients the thumbnail:
// the same picture, as the eight orientations only move whole pixels, at
// a thumbnail's cost rather than a second copy of the full image.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := orientedSize(w, h, o)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range oh {
		for x := range ow {
			// (sx, sy): the stored pixel shown at (x, y).
			var sx, sy int
			switch o {
			case 2: // mirrored left to right
				sx, sy = w-1-x, y
			case 3: // turned half round
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored top to bottom
				sx, sy = x, h-1-y
			case 5: // mirrored about the main diagonal
				sx, sy = y, x
			case 6: // to be turned a quarter clockwise
				sx, sy = y, h-1-x
			case 7: // mirrored about the other diagonal
				sx, sy = w-1-y, h-1-x
			case 8: // to be turned a quarter anticlockwise
				sx, sy = w-1-y, x
			}
			si := src.PixOffset(b.Min.X+sx, b.Min.Y+sy)
			di := dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
