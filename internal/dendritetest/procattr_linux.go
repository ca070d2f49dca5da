package dendritetest

import "syscall"

// sysProcAttr puts Dendrite in its own process group (a terminal's Ctrl-C
// reaches the test binary, which then stops it in order) and has the kernel
// kill it if the test binary dies without cleaning up (e.g. a -timeout
// panic), so no homeserver outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
