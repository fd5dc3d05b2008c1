//go:build !linux

package testenv

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent's; elsewhere
// a server outlives a test binary that dies before its cleanups run.
func childProcAttr() *syscall.SysProcAttr { return nil }
