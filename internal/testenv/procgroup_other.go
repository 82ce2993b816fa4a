//go:build !windows

package testenv

import "syscall"

// ownProcessGroup starts a service in a process group of its own, so that
// a terminal's Ctrl-C reaches the test binary, which stops it cleanly.
func ownProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
