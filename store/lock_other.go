//go:build !unix

package store

import "errors"

// lockFile has no flock to use here; refusing is better than letting two
// archivers share a database unnoticed.
func lockFile(path string) (*ArchiverLock, error) {
	return nil, errors.New("take the archiver lock: file locks are not supported on this platform; use PostgreSQL")
}
