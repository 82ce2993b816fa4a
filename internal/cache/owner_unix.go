//go:build unix

package cache

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByMe reports the owner of fi and whether it is the current user;
// ok is false where the owner cannot be told.
func ownedByMe(fi fs.FileInfo) (uid int, mine, ok bool) {
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix {
		return 0, false, false
	}
	return int(st.Uid), int(st.Uid) == os.Geteuid(), true
}

// othersMayWrite reports whether the group or others may write to fi.
func othersMayWrite(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o022 != 0 }
