package media

import "time"

// What the package_test files need from inside: hostile WebP files, and
// download limits short enough for a test.

// WebPWithCanvas is an extended WebP whose header claims a cw×ch canvas
// around a w×h image of one colour, followed by pad bytes of a chunk
// decoders skip.
func WebPWithCanvas(cw, ch, w, h, pad int) []byte {
	return webpFile(vp8xChunk(0, cw, ch), riffChunk("VP8L", vp8lImage(w, h)), riffChunk("ZZZZ", make([]byte, pad)))
}

// SetDownloadLimits sets the client's timeout (standing for production's
// 15 minutes) and the minimum rate per window (0: none).
func (f *Fetcher) SetDownloadLimits(timeout time.Duration, minRate int64, window time.Duration) {
	f.http.Timeout = timeout
	f.minRate, f.rateWindow = minRate, window
}
