package source

import "syscall"

// noFollow makes opening a path fail when its last element is a symbolic link.
const noFollow = syscall.O_NOFOLLOW
