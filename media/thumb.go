package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
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

// Thumbnail scales the image in r to fit within maxW×maxH (never up) and
// encodes it: PNG for PNG and GIF sources (transparency), JPEG otherwise.
// The header is checked against maxPixels before decoding, and a JPEG's
// scans are counted (checkJPEGScans): both bound what the decoder spends.
func Thumbnail(r io.ReadSeeker, maxW, maxH int, maxPixels int64) ([]byte, string, error) {
	_, format, wp, err := checkPixels(r, maxPixels)
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
	if format == "jpeg" {
		if err := checkJPEGScans(r, maxJPEGScans); err != nil {
			return nil, "", err
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, "", fmt.Errorf("thumbnail seek: %w", err)
		}
	}
	src, format, err := image.Decode(r)
	if err != nil {
		return nil, "", fmt.Errorf("thumbnail decode: %w", err)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxW {
		h, w = max(1, h*maxW/w), maxW
	}
	if h > maxH {
		w, h = max(1, w*maxH/h), maxH
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	var out bytes.Buffer
	if format == "png" || format == "gif" {
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
