//go:build unix && !linux

package source

import "syscall"

// noFollow makes opening a path fail when its last element is a symbolic
// link (darwin and the BSDs have O_NOFOLLOW too).
const noFollow = syscall.O_NOFOLLOW
