// Package analyzer defines the contract between the layer engine and the
// plugins that inspect files. The engine walks every layer once; for each tar
// entry it asks every analyzer what it needs, reads the file's bytes at most
// once, and hands them to each analyzer that asked. Analyzers write what they
// find into a per-layer Result, which the engine caches by layer diff ID and
// the analyzers' versions, and later merges across layers.
package analyzer

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// Need says what an analyzer wants of an entry.
type Need int

// Needs, from least to most.
const (
	// Skip: the analyzer does not want the entry.
	Skip Need = iota
	// Header: the analyzer wants the entry's header only (path, mode, size,
	// owner, link target); Analyze is called with no content.
	Header
	// Content: the analyzer wants the file's bytes (regular files only).
	Content
)

// Entry is one tar entry as the engine presents it.
type Entry struct {
	// Path is clean, relative to the image root, with no leading slash
	// ("etc/os-release").
	Path string
	// Mode holds the permission bits and the type bits (fs.ModeDir,
	// fs.ModeSymlink, fs.ModeSetuid, ...). A hard link has type bits of a
	// regular file and a non-empty HardLink.
	Mode fs.FileMode
	UID  int
	GID  int
	Size int64
	// Linkname is a symlink's target, as written in the archive.
	Linkname string
	// HardLink is the clean path of a hard link's target within the layer.
	HardLink string
}

// IsRegular reports whether e is a regular file (not a hard link).
func (e *Entry) IsRegular() bool { return e.Mode.IsRegular() && e.HardLink == "" }

// Base is the last element of the entry's path.
func (e *Entry) Base() string { return path.Base(e.Path) }

// File is a wanted entry with its content.
type File struct {
	Entry
	// Content holds the file's bytes, at most the engine's per-file limit.
	// It is only valid during the Analyze call: copy what you keep. It
	// is read-only (a large file's content may be a read-only mapping).
	// It is nil when the analyzer asked for the header only.
	Content []byte
	// Truncated is true when the file is larger than the per-file limit and
	// Content holds only its beginning.
	Truncated bool
}

// Analyzer inspects files of a layer. Implementations must be safe for
// concurrent use: the engine analyzes several layers at once, each with its
// own Result.
type Analyzer interface {
	// Name identifies the analyzer in caches, warnings and --help.
	Name() string
	// Version changes whenever the analyzer's output for the same input
	// may change; it invalidates cached layer results.
	Version() int
	// Need is called for every entry of every layer.
	Need(e *Entry) Need
	// Analyze is called for each entry whose Need was Header or Content.
	Analyze(ctx context.Context, f *File, r *Result) error
}

// Configured is implemented by analyzers whose output depends on settings
// (rules files, whether secrets are shown): ConfigKey summarizes those
// settings, and it becomes part of the layer cache key.
type Configured interface {
	ConfigKey() string
}

// Result is what analyzers found in one layer. Every item names the path it
// came from, so the engine can tell which items survive in the final image.
type Result struct {
	OS       []OSRecord      `json:"os,omitempty"`
	Packages []model.Package `json:"packages,omitempty"`
	Findings []model.Finding `json:"findings,omitempty"`
	// Files keeps small whole files that image-level checks read later
	// (e.g. etc/passwd), keyed by path.
	Files map[string][]byte `json:"files,omitempty"`
	// Warnings are problems that did not stop the analysis (a malformed
	// database, a file too large), each naming the path.
	Warnings []string `json:"warnings,omitempty"`
	// Owned lists the files OS packages installed, as their package
	// databases record them: what the image author did not change.
	Owned []OwnedFiles `json:"owned,omitempty"`
	// Digests holds the content digests of files analyzers reported on,
	// by path, so that the engine can tell a finding in a file an OS
	// package installed unchanged from one in a file the author wrote.
	Digests map[string]Digest `json:"digests,omitempty"`
	// Incomplete is set by an analyzer that could not do its whole job for
	// reasons outside the layer (a daemon down, a time budget spent): the
	// layer's result is then used for this scan but not cached.
	Incomplete bool `json:"incomplete,omitempty"`
	// bg is the background work not yet applied (see Go).
	bg *background
}

// OwnedFiles are the files one OS package installed, read from the
// database file DB: they count only while DB is part of the final image.
type OwnedFiles struct {
	DB      string      `json:"db"`
	Package string      `json:"package"`
	Files   []OwnedFile `json:"files"`
}

// OwnedFile is one file of an OS package with what its database says of
// its content.
type OwnedFile struct {
	Path string `json:"path"`
	// Digest is "md5:HEX", "sha1:HEX" or "sha256:HEX" (empty when the
	// database records none, as for directories and links).
	Digest string `json:"digest,omitempty"`
	// Mode holds the Unix permission bits the package gives the file
	// (st_mode & 07777, so 04755 for a setuid program); 0 when the
	// database does not record modes (dpkg).
	Mode uint32 `json:"mode,omitempty"`
}

// Digest is a file's content digests in the forms package databases use.
type Digest struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
}

// Matches reports whether a database digest ("md5:HEX", ...) is this
// content's.
func (d Digest) Matches(db string) bool {
	algo, want, ok := strings.Cut(db, ":")
	if !ok || want == "" {
		return false
	}
	switch algo {
	case "md5":
		return want == d.MD5
	case "sha1":
		return want == d.SHA1
	case "sha256":
		return want == d.SHA256
	}
	return false
}

// RecordDigest remembers the digests of the file at p, whose content is
// content, so that findings in it can be checked against package
// databases. Analyzers call it only for files they report on.
func (r *Result) RecordDigest(p string, content []byte) {
	if r.Digests == nil {
		r.Digests = map[string]Digest{}
	}
	if _, ok := r.Digests[p]; ok {
		return
	}
	m, s1, s256 := md5.Sum(content), sha1.Sum(content), sha256.Sum256(content)
	r.Digests[p] = Digest{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])}
}

// OSRecord is an operating-system fact read from one file.
type OSRecord struct {
	Path string   `json:"path"`
	OS   model.OS `json:"os"`
	// Priority orders records from different files: the highest wins
	// (os-release over debian_version, for example).
	Priority int `json:"priority"`
}

// Keep stores a copy of content under p for image-level checks.
func (r *Result) Keep(p string, content []byte) {
	if r.Files == nil {
		r.Files = map[string][]byte{}
	}
	r.Files[p] = append([]byte(nil), content...)
}

// Warn records a problem with the file at p.
func (r *Result) Warn(p, msg string) {
	r.Warnings = append(r.Warnings, p+": "+msg)
}

// PathIs reports whether p equals one of the candidates.
func PathIs(p string, candidates ...string) bool {
	for _, c := range candidates {
		if p == c {
			return true
		}
	}
	return false
}

// InDir reports whether p lies directly or indirectly below dir.
func InDir(p, dir string) bool {
	return strings.HasPrefix(p, dir+"/")
}

// NeedUpTo is the Need of a regular file an analyzer wants whole but only
// up to max bytes: its content when it fits, else its header alone, so the
// analyzer can say it skipped the file (see Oversized).
func NeedUpTo(e *Entry, max int64) Need {
	if !e.IsRegular() {
		return Skip
	}
	if e.Size > max {
		return Header
	}
	return Content
}

// Oversized reports whether f was not read whole within max bytes and, if
// so, records a warning naming the analyzer.
func Oversized(f *File, max int64, r *Result, who string) bool {
	if f.Content != nil && !f.Truncated && f.Size <= max {
		return false
	}
	r.Warn(f.Path, fmt.Sprintf("%s: %d bytes, more than the %d-byte limit; skipped", who, f.Size, max))
	return true
}
