package testenv

import "syscall"

// ownProcessGroup starts a service in a process group of its own, so that
// a console's Ctrl-C reaches the test binary, which stops it cleanly.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
