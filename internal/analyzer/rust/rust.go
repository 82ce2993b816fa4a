// Package rust finds Rust crates: the dependencies that cargo-auditable
// embeds in executables (the zlib-compressed JSON of the ELF section
// .dep-v0) and the packages of Cargo.lock files.
//
// Which executables are read: regular files with an execute bit, or lying
// in a bin, sbin or libexec directory, of at least MinBinarySize bytes; the
// content is checked for the ELF magic before parsing.
package rust

import (
	"bytes"
	"context"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MaxLockBytes bounds the Cargo.lock files read; larger ones are skipped with
// a warning.
const MaxLockBytes = 16 << 20

// MinBinarySize is the size below which a file is not taken for a Rust
// executable: the statically linked standard library alone is larger.
const MinBinarySize = 64 << 10

// Analyzer reads cargo-auditable data and Cargo.lock files.
type Analyzer struct{}

// New returns the Rust analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "rust" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !e.IsRegular() {
		return analyzer.Skip
	}
	if path.Base(e.Path) == "Cargo.lock" {
		if inCrateSources(e.Path) {
			return analyzer.Skip
		}
		return analyzer.NeedUpTo(e, MaxLockBytes)
	}
	if e.Size >= MinBinarySize && (e.Mode.Perm()&0o111 != 0 || inProgramDir(e.Path)) {
		return analyzer.Content
	}
	return analyzer.Skip
}

// inCrateSources reports whether p lies in downloaded or vendored crate
// sources (~/.cargo/registry, ~/.cargo/git, vendor/): the lockfiles crates
// ship there describe their own development, not what is installed.
func inCrateSources(p string) bool {
	for _, d := range strings.Split(path.Dir(p), "/") {
		if d == ".cargo" || d == "vendor" {
			return true
		}
	}
	return false
}

// inProgramDir reports whether p lies directly in a directory that holds
// programs.
func inProgramDir(p string) bool {
	switch path.Base(path.Dir(p)) {
	case "bin", "sbin", "libexec":
		return true
	}
	return false
}

var elfMagic = []byte("\x7fELF")

// rustcMarker appears in Rust executables: the standard library's source
// paths in panic locations start with it.
var rustcMarker = []byte("/rustc/")

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if path.Base(f.Path) == "Cargo.lock" {
		if analyzer.Oversized(f, MaxLockBytes, r, "rust") {
			return nil
		}
		crates, err := ParseCargoLock(f.Content)
		if err != nil {
			r.Warn(f.Path, "rust: "+err.Error())
		}
		add(r, crates, f.Path)
		return nil
	}
	if !bytes.HasPrefix(f.Content, elfMagic) {
		return nil
	}
	crates, err := ReadAuditable(f.Content)
	switch {
	case err == errNoSection && f.Truncated && bytes.Contains(f.Content, rustcMarker):
		// The section table sits at the end of the file, beyond what was read.
		r.Warn(f.Path, "rust: Rust executable larger than the read limit; its cargo-auditable data could not be read")
	case err == errNoSection:
	case err != nil:
		r.Warn(f.Path, "rust: cargo-auditable data: "+err.Error())
	}
	add(r, crates, f.Path)
	return nil
}

// Crate is one package of a lockfile or of cargo-auditable data.
type Crate struct {
	Name    string
	Version string
	// Source is where the crate came from: "crates.io", "git", "local",
	// "registry" or a lockfile source URL ("registry+https://...").
	Source string
}

func add(r *analyzer.Result, crates []Crate, p string) {
	seen := map[Crate]bool{}
	for _, c := range crates {
		if seen[c] {
			continue
		}
		seen[c] = true
		pkg := model.Package{Name: c.Name, Version: c.Version, Type: model.TypeCargo, PURL: purl.Cargo(c.Name, c.Version), Path: p}
		if c.Source != "" {
			pkg.Metadata = map[string]string{"cargo_source": c.Source}
		}
		r.Packages = append(r.Packages, pkg)
	}
}

// validName reports whether s can be a crate name (ASCII letters, digits,
// "-" and "_").
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validVersion reports whether s can be a semantic version as Cargo writes
// it: starts with a digit, no spaces or control characters.
func validVersion(s string) bool {
	if s == "" || len(s) > 128 || s[0] < '0' || s[0] > '9' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}
