package testenv

import "syscall"

// childProcAttr makes the kernel kill a server started by a test when the
// test binary dies (a panic, a go test timeout) before its cleanups run.
// Strictly it fires when the OS thread that started the child exits, which
// in a Go program happens only to threads locked with runtime.LockOSThread.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
