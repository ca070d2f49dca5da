//go:build !linux

package main

import "syscall"

// procAttr: elsewhere than Linux there is no parent-death signal; the
// benchmark stops archive-web itself.
func procAttr() *syscall.SysProcAttr { return nil }
