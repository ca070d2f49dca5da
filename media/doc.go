// Package media keeps the archive's own copy of the files archived events
// refer to (images, files, audio, video, stickers and their thumbnails),
// and decides how they may be served.
//
// Bytes are content-addressed: a blob is named by the SHA-256 of its
// contents, so the same file posted in ten rooms is stored once. Which
// mxc URI maps to which blob, and which events refer to which mxc URI, are
// facts in the database (store/media.go); a blob whose last reference is
// gone (redaction, expiry, erasure, purge) is deleted by the archiver, the
// only writer. Blobs is the small interface a backend satisfies (Dir, a
// directory under the data directory, is the only one today; an object
// store would be another).
//
// Nothing from the event is trusted to say what a file is: Sniff decides
// the content type from the bytes, and only a short list of image, audio
// and video types is ever served inline; SVG, HTML and everything else are
// attachments under a sandbox CSP. Image decoding for thumbnails reads the
// header first and refuses more than MaxPixels, so a decompression bomb
// costs nothing; a header is not taken at its word where the decoder does
// not (a WebP's image must be its canvas), and a JPEG with more scans than
// any real one is refused, since each scan costs a pass over every block
// (bombs.go).
//
// Fetcher downloads media through the homeserver's authenticated client
// media API (MSC3916) as the bot, falling back to the legacy endpoint, with
// a size bound and a minimum rate; the archiver's fetch loop drives it from
// the store's queue, claiming a file as a download slot frees, and deletes
// orphaned bytes beside the downloads, never after them.
package media
