package media

import (
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
	_ "golang.org/x/image/webp"
)

// MaxPixels bounds the images the archive decodes: a 50 MiB limit on bytes
// says nothing about pixels (a few kilobytes of PNG can claim 100000×100000,
// 40 GB decoded), so the header is read first and anything larger is
// refused before a pixel is allocated.
const MaxPixels = 40_000_000

// ErrTooManyPixels: the image's header claims more than the bound.
var ErrTooManyPixels = errors.New("image has too many pixels to decode")

// CheckPixels reads only r's image header and refuses images with more than
// maxPixels pixels, or no valid header.
func CheckPixels(r io.Reader, maxPixels int64) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return cfg, format, fmt.Errorf("image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return cfg, format, fmt.Errorf("%w: %d×%d (limit %d)", ErrTooManyPixels, cfg.Width, cfg.Height, maxPixels)
	}
	return cfg, format, nil
}

// Thumbnail scales the image in r to fit within maxW×maxH (never up) and
// encodes it: PNG for PNG and GIF sources (transparency), JPEG otherwise.
// The header is checked against maxPixels before decoding.
func Thumbnail(r io.ReadSeeker, maxW, maxH int, maxPixels int64) ([]byte, string, error) {
	if _, _, err := CheckPixels(r, maxPixels); err != nil {
		return nil, "", err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("thumbnail seek: %w", err)
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
