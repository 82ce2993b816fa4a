//go:build !unix

package cache

import "io/fs"

// ownedByMe cannot tell the owner of a file on this system (Windows keeps
// the profile's cache directory private by its ACL).
func ownedByMe(fs.FileInfo) (uid int, mine, ok bool) { return 0, false, false }

// othersMayWrite cannot be told from mode bits on this system.
func othersMayWrite(fs.FileInfo) bool { return false }
