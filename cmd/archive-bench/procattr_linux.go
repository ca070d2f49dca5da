package main

import "syscall"

// procAttr has the kernel kill archive-web if the benchmark dies first.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
