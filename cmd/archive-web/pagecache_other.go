//go:build !linux

package main

// dropFromPageCache does nothing off Linux (pagecache_linux.go says why
// it is there).
func dropFromPageCache(string) error { return nil }
