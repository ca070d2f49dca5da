//go:build !linux

package dendritetest

import "syscall"

// sysProcAttr: elsewhere than Linux there is no parent-death signal; the
// test's cleanup has to stop Dendrite.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processAlive is only needed where /dev/shm exists; say yes to keep.
func processAlive(pid int) bool { return true }
