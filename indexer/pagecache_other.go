//go:build !linux

package indexer

// DropFromPageCache does nothing off Linux (pagecache_linux.go says why
// it is there).
func DropFromPageCache(string) error { return nil }

// releaseMapped does nothing off Linux.
func releaseMapped([]string) error { return nil }
