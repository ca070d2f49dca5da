//go:build !linux

package indexer

// DropFromPageCache does nothing off Linux (pagecache_linux.go says why
// it is there).
func DropFromPageCache(string) error { return nil }

// ReleaseMapped does nothing off Linux.
func ReleaseMapped([]string) error { return nil }
