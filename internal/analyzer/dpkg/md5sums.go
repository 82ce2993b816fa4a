package dpkg

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
)

// InfoDir is where dpkg keeps each package's file list and digests.
const InfoDir = "var/lib/dpkg/info"

// Limits on an md5sums file; real ones stay far below them.
const (
	// MaxMD5SumsBytes is the largest md5sums file read.
	MaxMD5SumsBytes = 16 << 20
	// MaxOwnedFiles is how many files one package may list.
	MaxOwnedFiles = 200_000
)

// IsMD5Sums reports whether p is a package's md5sums file, in info/ or
// in distroless images' status.d/.
func IsMD5Sums(p string) bool {
	d := path.Dir(p)
	return (d == InfoDir || d == StatusDir) && strings.HasSuffix(p, ".md5sums")
}

// md5sumsPackage is the package an md5sums file belongs to:
// "libc6:amd64.md5sums" is libc6's.
func md5sumsPackage(p string) string {
	name := strings.TrimSuffix(path.Base(p), ".md5sums")
	name, _, _ = strings.Cut(name, ":")
	return name
}

// ParseMD5Sums reads an md5sums file: lines of 32 hexadecimal digits, two
// spaces (or a space and an asterisk) and a path relative to the root.
// Malformed lines are counted in the error and skipped.
func ParseMD5Sums(b []byte) ([]analyzer.OwnedFile, error) {
	var (
		out []analyzer.OwnedFile
		bad int
	)
	for l := range bytes.Lines(b) {
		l = bytes.TrimRight(l, "\r\n")
		if len(l) == 0 {
			continue
		}
		if len(l) < 35 || !isHex(l[:32]) || l[32] != ' ' || (l[33] != ' ' && l[33] != '*') {
			bad++
			continue
		}
		if len(out) == MaxOwnedFiles {
			return out, fmt.Errorf("more than %d files", MaxOwnedFiles)
		}
		p := strings.TrimLeft(path.Clean("/"+string(l[34:])), "/")
		out = append(out, analyzer.OwnedFile{Path: p, Digest: "md5:" + strings.ToLower(string(l[:32]))})
	}
	if bad > 0 {
		return out, fmt.Errorf("%d malformed lines", bad)
	}
	return out, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
