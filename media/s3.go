package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names an S3-compatible bucket (AWS S3, MinIO, Ceph RGW,
// Garage, versitygw…).
type S3Config struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint  string
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	// Prefix is put before every key ("mxarchive/"), so one bucket can
	// hold other things too.
	Prefix string
	// Insecure talks plain HTTP (a bucket on loopback or a private network).
	Insecure bool
	// TempDir is where Put keeps a download while hashing it (default: the
	// system's temporary directory). OpenS3 removes the stale ones a
	// killed process left there (the system cleans its own).
	TempDir string
}

// s3TempPrefix begins the name of each download S3.Put spools.
const s3TempPrefix = "mxarchive-s3-put-"

// S3 keeps blobs as objects in a bucket, keyed <prefix>ab/cd/<hash> like
// Dir's paths. It satisfies Blobs: an object appears whole or not at all
// (PutObject is atomic), and the key is the content's hash, so the same
// bytes twice are one object.
type S3 struct {
	client  *minio.Client
	bucket  string
	prefix  string
	tempDir string
}

// OpenS3 connects to the bucket and checks that it exists, so a wrong
// name or key fails at start, not at the first download.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("media s3: endpoint and bucket are required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("media s3: endpoint %q: give host[:port] without a scheme (insecure: true for plain HTTP)", cfg.Endpoint)
	}
	if cfg.TempDir != "" {
		// Up to media.max_size a download, beside the database: an
		// archiver killed while hashing one (OOM, SIGKILL) left it there.
		if err := removeStale(cfg.TempDir, s3TempPrefix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("media s3: temporary files: %w", err)
		}
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("media s3: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("media s3: bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("media s3: bucket %s does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix, tempDir: cfg.TempDir}, nil
}

func (s *S3) key(hash string) string {
	return s.prefix + hash[:2] + "/" + hash[2:4] + "/" + hash
}

// Put spools r to a temporary file while hashing it, because the key is
// the hash and is known only at the end; then uploads it under that key
// unless an object with the same bytes is already there.
func (s *S3) Put(ctx context.Context, r io.Reader, max int64) (Blob, error) {
	tmp, err := os.CreateTemp(s.tempDir, s3TempPrefix+"*")
	if err != nil {
		return Blob{}, fmt.Errorf("media temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	b, err := spool(ctx, tmp, r, max)
	if err != nil {
		return Blob{}, err
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.key(b.Hash), minio.StatObjectOptions{}); err == nil {
		return b, nil // the same bytes are already there
	} else if !notFound(err) {
		return Blob{}, fmt.Errorf("media s3 stat %s: %w", b.Hash, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Blob{}, fmt.Errorf("media temp file: %w", err)
	}
	// The content type is not stored: the archive sniffs it from the bytes
	// and keeps it in the database, and never serves from the bucket.
	if _, err := s.client.PutObject(ctx, s.bucket, s.key(b.Hash), tmp, b.Size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true}); err != nil {
		return Blob{}, fmt.Errorf("media s3 put %s: %w", b.Hash, err)
	}
	return b, nil
}

// s3File is an object opened for reading; minio.Object reads ranges as
// http.ServeContent seeks.
type s3File struct {
	*minio.Object
	mod time.Time
}

func (f s3File) ModTime() time.Time { return f.mod }

// Open opens a blob for reading. It asks for the object's metadata first,
// so a missing blob is ErrNotFound here rather than an error on the first
// read.
func (s *S3) Open(ctx context.Context, hash string) (File, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("%w: invalid hash %q", ErrNotFound, hash)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(hash), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("media s3 get %s: %w", hash, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if notFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, hash)
		}
		return nil, fmt.Errorf("media s3 get %s: %w", hash, err)
	}
	return s3File{obj, info.LastModified}, nil
}

// Delete removes a blob's object; S3 answers a missing key with success.
func (s *S3) Delete(ctx context.Context, hash string) error {
	if !validHash(hash) {
		return fmt.Errorf("media delete: invalid hash %q", hash)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.key(hash), minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("media s3 delete %s: %w", hash, err)
	}
	return nil
}

func notFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey"
}

var _ Blobs = (*S3)(nil)
