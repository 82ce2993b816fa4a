// Package apk inventories Alpine packages (and those of apk-based
// distributions such as Wolfi and Chainguard) from apk's installed
// database, lib/apk/db/installed.
package apk

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Database is the path of apk's installed database.
const Database = "lib/apk/db/installed"

// Limits on what Parse accepts; real databases stay far below them.
const (
	// MaxPackages is how many packages one database may describe.
	MaxPackages = 100_000
	// MaxValueBytes is how long a kept field value may be.
	MaxValueBytes = 4096
	// MaxFiles is how many files one database may list over all packages.
	MaxFiles = 2_000_000
)

// Entry is one package of the installed database, reduced to the fields
// customs uses.
type Entry struct {
	Name, Version, Arch string
	// Origin is the source package (the aport) the package was built from.
	Origin     string
	License    string
	Maintainer string
	// Commit is the aports commit the package was built from.
	Commit string
	// Files are the files the package installed, with their SHA-1 (Z:)
	// and mode (a:) when the database records them.
	Files []analyzer.OwnedFile
}

// Parse reads the installed database: paragraphs of "K:value" lines
// separated by blank lines. Paragraphs without a name or version are
// skipped; at most MaxPackages entries are returned, and a paragraph with
// a kept value longer than MaxValueBytes is dropped, each with an error.
func Parse(b []byte) ([]Entry, error) {
	var (
		out   []Entry
		cur   Entry
		bad   bool
		errs  int
		dir   string
		files int
	)
	flush := func() bool {
		switch {
		case bad:
			errs++
		case cur.Name != "" && cur.Version != "":
			if len(out) == MaxPackages {
				return false
			}
			out = append(out, cur)
		}
		cur, bad, dir = Entry{}, false, ""
		return true
	}
	for len(b) > 0 {
		var l []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			l, b = b, nil
		}
		l = bytes.TrimRight(l, "\r")
		if len(l) == 0 {
			if !flush() {
				return out, fmt.Errorf("more than %d packages", MaxPackages)
			}
			continue
		}
		if len(l) < 2 || l[1] != ':' {
			continue
		}
		var dst *string
		switch l[0] {
		case 'F':
			dir = string(l[2:])
			continue
		case 'R':
			if files == MaxFiles {
				continue
			}
			files++
			cur.Files = append(cur.Files, analyzer.OwnedFile{Path: path.Join(dir, string(l[2:]))})
			continue
		case 'Z':
			if n := len(cur.Files); n > 0 {
				cur.Files[n-1].Digest = checksum(l[2:])
			}
			continue
		case 'a':
			if n := len(cur.Files); n > 0 {
				cur.Files[n-1].Mode = aclMode(l[2:])
			}
			continue
		case 'P':
			dst = &cur.Name
		case 'V':
			dst = &cur.Version
		case 'A':
			dst = &cur.Arch
		case 'o':
			dst = &cur.Origin
		case 'L':
			dst = &cur.License
		case 'm':
			dst = &cur.Maintainer
		case 'c':
			dst = &cur.Commit
		default:
			continue
		}
		if len(l)-2 > MaxValueBytes {
			bad = true
			continue
		}
		*dst = string(l[2:])
	}
	if !flush() {
		return out, fmt.Errorf("more than %d packages", MaxPackages)
	}
	if errs > 0 {
		return out, fmt.Errorf("%d packages with a field longer than %d bytes skipped", errs, MaxValueBytes)
	}
	if files == MaxFiles {
		return out, fmt.Errorf("more than %d files; the rest are not known to be package files", MaxFiles)
	}
	return out, nil
}

// checksum turns apk's "Q1" + base64 SHA-1 into "sha1:HEX" ("" for any
// other form).
func checksum(v []byte) string {
	b64, ok := bytes.CutPrefix(v, []byte("Q1"))
	if !ok {
		return ""
	}
	sum, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil || len(sum) != sha1.Size {
		return ""
	}
	return "sha1:" + hex.EncodeToString(sum)
}

// aclMode reads the mode of an "uid:gid:mode" (octal) ACL line.
func aclMode(v []byte) uint32 {
	f := bytes.Split(v, []byte(":"))
	if len(f) != 3 {
		return 0
	}
	m, err := strconv.ParseUint(string(f[2]), 8, 32)
	if err != nil {
		return 0
	}
	return uint32(m)
}

// Analyzer reads apk's installed database.
type Analyzer struct{}

// New returns the apk analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "apk" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 2 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if e.Path == Database && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer. The source package is the origin,
// at the package's own version (apk builds every subpackage of an aport at
// the aport's version); without an origin, the package is its own source.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	entries, err := Parse(f.Content)
	if err != nil {
		r.Warn(f.Path, "apk database: "+err.Error())
	}
	if f.Truncated {
		r.Warn(f.Path, "apk database larger than the per-file limit; packages past the limit are missing")
		if len(entries) > 0 {
			entries = entries[:len(entries)-1] // the last paragraph may be cut short
		}
	}
	for _, e := range entries {
		src := e.Origin
		if src == "" {
			src = e.Name
		}
		p := model.Package{
			Name:          e.Name,
			Version:       e.Version,
			Type:          model.TypeAPK,
			PURL:          purl.APK(e.Name, e.Version, e.Arch),
			Arch:          e.Arch,
			SourceName:    src,
			SourceVersion: e.Version,
			Path:          f.Path,
		}
		if e.License != "" {
			p.Licenses = []string{e.License}
		}
		if e.Maintainer != "" || e.Commit != "" {
			p.Metadata = map[string]string{}
			if e.Maintainer != "" {
				p.Metadata["maintainer"] = e.Maintainer
			}
			if e.Commit != "" {
				p.Metadata["commit"] = e.Commit
			}
		}
		r.Packages = append(r.Packages, p)
		if len(e.Files) > 0 {
			r.Owned = append(r.Owned, analyzer.OwnedFiles{DB: f.Path, Package: e.Name, Files: e.Files})
		}
	}
	return nil
}
