package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	// Decoders for what Sniff lets through inline.
	_ "image/gif"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// MaxPixels bounds the images the archive decodes: a 50 MiB limit on bytes
// says nothing about pixels (a few kilobytes of PNG can claim 100000×100000,
// 40 GB decoded), so the header is read first and anything larger is
// refused before a pixel is allocated.
const MaxPixels = 40_000_000

// ErrTooManyPixels: the image's header claims more than the bound.
var ErrTooManyPixels = errors.New("image has too many pixels to decode")

// CheckPixels reads only r's image header and refuses images with more than
// maxPixels pixels, or no valid header. A WebP is read further, to its
// first image chunk: its header (VP8X) only claims the size the decoder
// will allocate (checkWebP).
func CheckPixels(r io.Reader, maxPixels int64) (image.Config, string, error) {
	cfg, format, _, err := checkPixels(r, maxPixels)
	return cfg, format, err
}

// checkPixels is CheckPixels, also telling whether a WebP is animated.
func checkPixels(r io.Reader, maxPixels int64) (image.Config, string, webpInfo, error) {
	br := bufio.NewReader(r)
	// The signature image.DecodeConfig gives to x/image/webp.
	if magic, _ := br.Peek(15); len(magic) == 15 && string(magic[:4]) == "RIFF" && string(magic[8:]) == "WEBPVP8" {
		// The bytes the header takes are kept to walk the file again
		// from its start: a few dozen (a simple VP8L file: at most 4 KiB,
		// what vp8l buffers).
		var head bytes.Buffer
		cfg, err := webp.DecodeConfig(io.TeeReader(br, &head))
		if err != nil {
			return cfg, "webp", webpInfo{}, fmt.Errorf("image header: %w", err)
		}
		if err := checkBound(cfg, maxPixels); err != nil {
			return cfg, "webp", webpInfo{}, err
		}
		info, err := checkWebP(io.MultiReader(&head, br), cfg, maxPixels)
		return cfg, "webp", info, err
	}
	cfg, format, err := image.DecodeConfig(br)
	if err != nil {
		return cfg, format, webpInfo{}, fmt.Errorf("image header: %w", err)
	}
	return cfg, format, webpInfo{}, checkBound(cfg, maxPixels)
}

func checkBound(cfg image.Config, maxPixels int64) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return fmt.Errorf("%w: %d×%d (limit %d)", ErrTooManyPixels, cfg.Width, cfg.Height, maxPixels)
	}
	return nil
}

// MaxDecodeBytes bounds the memory one thumbnail's decode may take, as
// decodeCost estimates it from the image's headers. Pixels alone do not
// bound it: image/jpeg keeps a progressive JPEG's coefficients as int32,
// 4 bytes a pixel a component, so a 266 KB progressive 6000×6600 JPEG in
// three full-resolution components (within MaxPixels) took ~570 MB of
// heap. 128 MiB lets any baseline photo within MaxPixels through (4:2:0,
// 1.5 bytes a pixel: 60 MB), a progressive 4:2:0 one up to ~17 million
// pixels and an 8-bit RGBA PNG up to ~33 million; a larger one is shown
// as it is, like a decompression bomb.
const MaxDecodeBytes = 128 << 20

// ErrTooCostly: decoding the image would take more than MaxDecodeBytes.
var ErrTooCostly = errors.New("image would take too much memory to decode")

// Thumbnail scales the image in r to fit within maxW×maxH (never up) and
// encodes it: PNG for PNG and GIF sources and for any thumbnail that is
// not opaque (JPEG has no alpha: a transparent WebP turned black), JPEG
// otherwise. A JPEG is turned as its EXIF Orientation says, as browsers
// show it. The header is checked against maxPixels before decoding, a
// JPEG's scans are counted (checkJPEGScans), and the memory the decoder
// will take is estimated and held to MaxDecodeBytes (decodeCost): these
// bound what the decoder spends.
func Thumbnail(r io.ReadSeeker, maxW, maxH int, maxPixels int64) ([]byte, string, error) {
	cfg, format, wp, err := checkPixels(r, maxPixels)
	if err != nil {
		return nil, "", err
	}
	if wp.animated {
		// x/image/webp decodes no animation frame (ANMF); what it would
		// decode is not what the file shows.
		return nil, "", errors.New("thumbnail: animated WebP is not decoded")
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("thumbnail seek: %w", err)
	}
	var jp jpegInfo
	interlaced := false
	switch format {
	case "jpeg":
		if jp, err = scanJPEG(r, maxJPEGScans); err != nil {
			return nil, "", err
		}
	case "png":
		// IHDR's last byte, at a fixed place: checkPixels read it.
		var head [29]byte
		if _, err := io.ReadFull(r, head[:]); err == nil {
			interlaced = head[28] != 0
		}
	}
	if cost := decodeCost(cfg, format, jp, interlaced); cost > MaxDecodeBytes {
		return nil, "", fmt.Errorf("%w: a %d×%d %s would take about %d MiB (limit %d MiB)",
			ErrTooCostly, cfg.Width, cfg.Height, format, cost>>20, MaxDecodeBytes>>20)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("thumbnail seek: %w", err)
	}
	src, format, err := image.Decode(r)
	if err != nil {
		return nil, "", fmt.Errorf("thumbnail decode: %w", err)
	}
	o := 1
	if format == "jpeg" {
		o = jp.orientation
	}
	b := src.Bounds()
	// Fit the image as shown (turned) in the box, then scale the stored
	// image to that size turned back: orient turns the thumbnail only.
	w, h := orientedSize(b.Dx(), b.Dy(), o)
	if w > maxW {
		h, w = max(1, h*maxW/w), maxW
	}
	if h > maxH {
		w, h = max(1, w*maxH/h), maxH
	}
	w, h = orientedSize(w, h, o)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	dst = orient(dst, o)
	var out bytes.Buffer
	if format == "png" || format == "gif" || !dst.Opaque() {
		if err := png.Encode(&out, dst); err != nil {
			return nil, "", fmt.Errorf("thumbnail encode: %w", err)
		}
		return out.Bytes(), "image/png", nil
	}
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, "", fmt.Errorf("thumbnail encode: %w", err)
	}
	return out.Bytes(), "image/jpeg", nil
}

// decodeCost estimates the bytes image.Decode allocates for an image
// whose header is cfg, from what each decoder is known to allocate; it
// errs high, never low. jp is a JPEG's frame header, interlaced a PNG's
// interlace flag.
func decodeCost(cfg image.Config, format string, jp jpegInfo, interlaced bool) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	switch format {
	case "jpeg":
		if !jp.sof || len(jp.comps) == 0 {
			// Unread (the decoder will likely refuse it): the worst,
			// progressive CMYK at full resolution.
			return 24 * px
		}
		// image/jpeg pads each component to whole MCUs; each keeps a
		// byte a sample, and in a progressive file 64 int32 coefficients
		// a block as well (4 bytes a sample).
		hmax, vmax := 1, 1
		for _, c := range jp.comps {
			hmax, vmax = max(hmax, clampSampling(c.h)), max(vmax, clampSampling(c.v))
		}
		mxx := (int64(cfg.Width) + 8*int64(hmax) - 1) / (8 * int64(hmax))
		myy := (int64(cfg.Height) + 8*int64(vmax) - 1) / (8 * int64(vmax))
		var samples int64
		for _, c := range jp.comps {
			samples += 64 * mxx * int64(clampSampling(c.h)) * myy * int64(clampSampling(c.v))
		}
		cost := samples
		if jp.progressive {
			cost += 4 * samples
		}
		if len(jp.comps) == 4 {
			cost += 4 * px // converted to a CMYK image at the end
		}
		return cost
	case "png":
		// The image type image/png decodes into, by its colour model (a
		// Palette first: a slice, which == cannot compare).
		bpp := int64(8) // 16-bit colour
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bpp = 1
		} else {
			switch cfg.ColorModel {
			case color.GrayModel:
				bpp = 1
			case color.Gray16Model:
				bpp = 2
			case color.RGBAModel, color.NRGBAModel:
				bpp = 4
			}
		}
		if interlaced {
			// Each pass is decoded into an image of its own, then
			// copied into the whole.
			bpp *= 2
		}
		return bpp * px
	case "gif":
		// The first frame, a byte a pixel, within the screen.
		return 2 * px
	case "webp":
		switch cfg.ColorModel {
		case color.YCbCrModel:
			return 2 * px // lossy, 4:2:0
		case color.NYCbCrAModel:
			// Lossy with an alpha plane, which is itself decoded as a
			// lossless (4 bytes a pixel) image first.
			return 7 * px
		}
		// Lossless: NRGBA, and transforms that may copy it.
		return 8 * px
	}
	return 8 * px
}

func clampSampling(f int) int { return min(max(f, 1), 4) }
