// Package gobinary finds Go modules compiled into executables: the main
// module, every dependency (after replace directives) and the Go toolchain,
// reported as the module "stdlib", as OSV keys Go standard-library
// advisories.
//
// Which files are read: the engine shows analyzers only a file's header
// before deciding to read it, and Go executables may lack execute bits (a
// binary copied with the wrong mode still runs once chmod'ed, and often
// ships that way). So a regular file is read when it has any execute bit,
// or when it lies in a directory that holds programs (bin, sbin, libexec)
// without execute bits; files smaller than the smallest Go executable are
// skipped. The content is then checked for the ELF magic before parsing.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/binary"
	"runtime/debug"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MinSize is the size below which a file cannot be a Go executable: the
// runtime alone is larger.
const MinSize = 256 << 10

// Analyzer reads the build information of Go executables.
type Analyzer struct{}

// New returns the Go binary analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "gobinary" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !e.IsRegular() || e.Size < MinSize {
		return analyzer.Skip
	}
	if e.Mode.Perm()&0o111 != 0 || inProgramDir(e.Path) {
		return analyzer.Content
	}
	return analyzer.Skip
}

// inProgramDir reports whether p lies directly in a directory that holds
// programs.
func inProgramDir(p string) bool {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return false
	}
	dir := p[:i]
	if j := strings.LastIndexByte(dir, '/'); j >= 0 {
		dir = dir[j+1:]
	}
	return dir == "bin" || dir == "sbin" || dir == "libexec"
}

var elfMagic = []byte("\x7fELF")

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if !bytes.HasPrefix(f.Content, elfMagic) {
		return nil
	}
	bi, err := Read(f.Content)
	if err != nil && f.Truncated {
		// The section table sits at the end of an ELF file, beyond what
		// was read; the build information blob itself is near the start
		// of the data segment.
		var ok bool
		if bi, ok = ReadBlob(f.Content); !ok {
			if bytes.Contains(f.Content, buildInfoMagic) {
				r.Warn(f.Path, "Go executable larger than the read limit; its build information could not be read")
			}
			return nil
		}
	} else if err != nil {
		return nil // not a Go executable
	}
	r.Packages = append(r.Packages, Packages(bi, f.Path)...)
	return nil
}

// buildInfoMagic starts the build information blob of every Go executable.
var buildInfoMagic = []byte("\xff Go buildinf:")

// Read returns the build information of the executable in b, which may be
// only its beginning.
func Read(b []byte) (*debug.BuildInfo, error) {
	return buildinfo.Read(bytes.NewReader(b))
}

// ReadBlob finds the build information blob of a Go 1.18 or later
// executable in b without the ELF section table, for executables read only
// in part. It reports false when no well-formed blob is found.
func ReadBlob(b []byte) (*debug.BuildInfo, bool) {
	const headerSize = 32
	const flagsVersionInline = 0x2
	for off := 0; ; {
		i := bytes.Index(b[off:], buildInfoMagic)
		if i < 0 {
			return nil, false
		}
		start := off + i
		off = start + 1
		if start%16 != 0 || len(b)-start < headerSize || b[start+15]&flagsVersionInline == 0 {
			continue
		}
		rest := b[start+headerSize:]
		vers, rest, ok := uvarintString(rest)
		if !ok || !strings.HasPrefix(vers, "go") {
			continue
		}
		mod, _, ok := uvarintString(rest)
		if !ok {
			continue
		}
		// The module text is framed by 16-byte sentinels.
		if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
			mod = mod[16 : len(mod)-16]
		} else {
			mod = ""
		}
		bi, err := debug.ParseBuildInfo(mod)
		if err != nil {
			continue
		}
		bi.GoVersion = vers
		return bi, true
	}
}

// uvarintString reads a string prefixed by its uvarint length.
func uvarintString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// Packages turns build information into packages found at path: the main
// module (when it has a path), each dependency as it was built (the
// replacement when a replace directive applies; local directory
// replacements are left out, they are not published modules) and the
// toolchain as "stdlib".
func Packages(bi *debug.BuildInfo, path string) []model.Package {
	toolchain := bi.GoVersion
	meta := map[string]string{"go_toolchain": toolchain}
	var out []model.Package
	add := func(name, version string, extra map[string]string) {
		m := make(map[string]string, len(meta)+len(extra))
		for k, v := range meta {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		out = append(out, model.Package{Name: name, Version: version, Type: model.TypeGolang, PURL: purl.Golang(name, version), Path: path, Metadata: m})
	}
	if bi.Main.Path != "" {
		v := bi.Main.Version
		if v == "(devel)" {
			v = ""
		}
		add(bi.Main.Path, v, map[string]string{"go_main_module": "true"})
	}
	for _, d := range bi.Deps {
		if d == nil || d.Path == "" {
			continue
		}
		m := d
		var extra map[string]string
		if d.Replace != nil {
			if d.Replace.Version == "" {
				continue // replaced by a local directory
			}
			m = d.Replace
			extra = map[string]string{"go_replaces": d.Path + "@" + d.Version}
		}
		add(m.Path, m.Version, extra)
	}
	if v := StdlibVersion(toolchain); v != "" {
		add("stdlib", v, nil)
	}
	return out
}

// StdlibVersion turns the toolchain string of build information ("go1.21.3",
// "go1.22.0 X:boringcrypto") into the stdlib version ("1.21.3"); it returns
// "" for development toolchains, whose version is unknown.
func StdlibVersion(goVersion string) string {
	v, ok := strings.CutPrefix(goVersion, "go")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	if v == "" || strings.ContainsAny(v, "/:") {
		return ""
	}
	return v
}
