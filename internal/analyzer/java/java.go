// Package java finds Maven artifacts in Java archives (.jar, .war, .ear and
// Jenkins plugins) anywhere in an image, including archives nested in
// others (Spring Boot's BOOT-INF/lib, WAR's WEB-INF/lib), read in memory
// only. Each archive's META-INF/maven/<group>/<artifact>/pom.properties
// name its artifacts (a shaded jar holds several); an archive without them
// falls back to its MANIFEST.MF and file name, which name the artifact
// less surely (metadata "java_source" says which was used: "pom.properties",
// "manifest" or "filename").
//
// Hostile archives are bounded: nesting depth, members per image file,
// bytes inflated per image file (zip bombs) and bytes held in memory at
// once. Nested archives stored without compression, as Spring Boot stores
// them, are read in place without a copy.
package java

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Limits on the work done for one archive file of the image.
const (
	MaxDepth = 8
	// MaxMembers bounds the members of all archives within one file.
	MaxMembers = 200_000
	// MaxInflated bounds the bytes decompressed within one file.
	MaxInflated = 1 << 30
	// MaxHeld bounds the bytes of decompressed nested archives held in
	// memory at once.
	MaxHeld = 256 << 20
	// maxSmall bounds pom.properties and MANIFEST.MF.
	maxSmall = 1 << 20
)

// Analyzer finds Maven artifacts in Java archives.
type Analyzer struct{}

// New returns the Java archive analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "java" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 2 }

func isArchive(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jar", ".war", ".ear", ".jpi", ".hpi":
		return true
	}
	return false
}

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if e.IsRegular() && isArchive(e.Path) {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if f.Truncated {
		r.Warn(f.Path, "java: archive larger than the read limit; skipped (its index is at its end)")
		return nil
	}
	pkgs, warns := Scan(ctx, f.Content, path.Base(f.Path))
	for _, w := range warns {
		r.Warn(f.Path, "java: "+w)
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
	}
	r.Packages = append(r.Packages, pkgs...)
	return nil
}

// Scan returns the Maven artifacts in the archive b named name, and
// warnings about the parts it could not read. Each package's metadata
// "java_archive" names the nested archive it came from
// ("BOOT-INF/lib/a.jar!/b.jar"), empty for the archive itself.
func Scan(ctx context.Context, b []byte, name string) ([]model.Package, []string) {
	s := &scanner{ctx: ctx, members: MaxMembers, inflated: MaxInflated, held: MaxHeld}
	s.archive(b, name, "", 0)
	return s.pkgs, s.warns
}

type scanner struct {
	ctx                     context.Context
	members                 int
	inflated, held          int64
	pkgs                    []model.Package
	warns                   []string
	warnedDepth, warnedSize bool
}

func (s *scanner) warn(where, msg string) {
	if len(s.warns) < 20 {
		if where != "" {
			msg = where + ": " + msg
		}
		s.warns = append(s.warns, msg)
	}
}

// archive reads one archive: data is its bytes, name its file name, inner
// its path within the image file ("" for the file itself).
func (s *scanner) archive(data []byte, name, inner string, depth int) {
	if s.ctx.Err() != nil {
		return
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		s.warn(inner, "not a readable zip archive: "+err.Error())
		return
	}
	if len(zr.File) > s.members {
		s.warn(inner, fmt.Sprintf("more than %d members; skipped", MaxMembers))
		s.members = 0
		return
	}
	s.members -= len(zr.File)
	var manifest []byte
	found := 0
	for _, f := range zr.File {
		switch {
		case isPomProperties(f.Name):
			b, err := s.read(f, maxSmall)
			if err != nil {
				s.warn(join(inner, f.Name), err.Error())
				continue
			}
			if p, ok := fromPomProperties(b); ok {
				s.add(p, inner, "pom.properties")
				found++
			}
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			if b, err := s.read(f, maxSmall); err == nil {
				manifest = b
			}
		}
	}
	if found == 0 {
		if p, source, ok := fromManifest(manifest, name); ok {
			s.add(p, inner, source)
		}
	}
	for _, f := range zr.File {
		if !isArchive(f.Name) || strings.HasSuffix(f.Name, "/") {
			continue
		}
		where := join(inner, f.Name)
		if depth+1 >= MaxDepth {
			if !s.warnedDepth {
				s.warnedDepth = true
				s.warn(where, fmt.Sprintf("archives nested deeper than %d; not read", MaxDepth))
			}
			continue
		}
		b, err := s.nested(data, f)
		if err != nil {
			s.warn(where, err.Error())
			continue
		}
		s.archive(b, path.Base(f.Name), where, depth+1)
		if f.Method != zip.Store {
			s.held += int64(len(b))
		}
	}
}

// nested returns the bytes of a nested archive: a slice of data when it is
// stored, else its inflated copy, counted against the limits.
func (s *scanner) nested(data []byte, f *zip.File) ([]byte, error) {
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, err
		}
		end := off + int64(f.CompressedSize64)
		if off < 0 || f.CompressedSize64 > uint64(len(data)) || end > int64(len(data)) {
			return nil, errors.New("stored member extends past the archive")
		}
		return data[off:end], nil
	}
	limit := min(s.held, s.inflated)
	b, err := s.read(f, limit)
	if err != nil {
		return nil, err
	}
	s.held -= int64(len(b))
	return b, nil
}

// read inflates member f, at most limit bytes, counting them against the
// inflation budget.
func (s *scanner) read(f *zip.File, limit int64) ([]byte, error) {
	limit = min(limit, s.inflated)
	if f.UncompressedSize64 > uint64(limit) {
		return nil, s.tooLarge(limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	s.inflated -= int64(len(b))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, s.tooLarge(limit)
	}
	return b, nil
}

func (s *scanner) tooLarge(limit int64) error {
	return fmt.Errorf("member inflates past the %d-byte limit (zip bomb?); not read", limit)
}

func (s *scanner) add(p model.Package, inner, source string) {
	p.Metadata = map[string]string{"java_source": source}
	if inner != "" {
		p.Metadata["java_archive"] = inner
	}
	s.pkgs = append(s.pkgs, p)
}

func join(inner, name string) string {
	if inner == "" {
		return name
	}
	return inner + "!/" + name
}

// isPomProperties matches META-INF/maven/<group>/<artifact>/pom.properties.
func isPomProperties(name string) bool {
	parts := strings.Split(name, "/")
	return len(parts) == 5 && parts[0] == "META-INF" && parts[1] == "maven" && parts[4] == "pom.properties"
}

func newPackage(group, artifact, version string) (model.Package, bool) {
	if !validID(group) || !validID(artifact) || !validVersion(version) {
		return model.Package{}, false
	}
	return model.Package{Name: group + ":" + artifact, Version: version, Type: model.TypeMaven, PURL: purl.Maven(group, artifact, version)}, true
}

var idRe = analyzer.Regexp(`^[A-Za-z0-9_.\-]{1,200}$`)

func validID(s string) bool { return idRe().MatchString(s) }

func validVersion(v string) bool {
	return v != "" && len(v) <= 128 && !strings.ContainsAny(v, " \t\r\n/\\${}")
}

// fromPomProperties reads groupId, artifactId and version.
func fromPomProperties(b []byte) (model.Package, bool) {
	props := properties(b)
	return newPackage(props["groupId"], props["artifactId"], props["version"])
}

// properties reads a Java properties file's "key=value" and "key: value"
// lines (no escapes, which Maven does not write).
func properties(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}

// manifest reads MANIFEST.MF main attributes, joining continuation lines.
func manifest(b []byte) map[string]string {
	out := map[string]string{}
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break // end of the main section
		}
		if line[0] == ' ' {
			if last != "" {
				out[last] += line[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		last = k
		out[k] = strings.TrimSpace(v)
	}
	return out
}

var fileVersionRe = analyzer.Regexp(`^(.+?)-(\d[\w.+\-]*)$`)

// fromManifest names an archive that has no pom.properties: the artifact
// and maybe the version from its file name ("bson-3.6.3.jar"), the version
// from Implementation-Version or Bundle-Version, the group from the
// bundle's symbolic name or Automatic-Module-Name when its last segment
// ends the artifact (org.mongodb.bson for bson, org.mongodb.driver-core
// for mongodb-driver-core), else Implementation-Vendor-Id. An archive with
// a version but no group is named as old Maven projects were, group equal
// to artifact, with source "filename".
func fromManifest(b []byte, fileName string) (model.Package, string, bool) {
	if b == nil {
		return model.Package{}, "", false
	}
	m := manifest(b)
	stem := strings.TrimSuffix(fileName, path.Ext(fileName))
	artifact, version := stem, ""
	if sub := fileVersionRe().FindStringSubmatch(stem); sub != nil {
		artifact, version = sub[1], sub[2]
	}
	if v := m["Implementation-Version"]; v != "" {
		version = v
	} else if v := m["Bundle-Version"]; v != "" && version == "" {
		version = v
	}
	group := ""
	for _, k := range []string{"Bundle-SymbolicName", "Automatic-Module-Name"} {
		sym, _, _ := strings.Cut(m[k], ";")
		sym = strings.TrimSpace(sym)
		i := strings.LastIndexByte(sym, '.')
		if i <= 0 {
			continue
		}
		if last := sym[i+1:]; artifact == last || strings.HasSuffix(artifact, "-"+last) {
			group = sym[:i]
			break
		}
	}
	if group == "" {
		group = m["Implementation-Vendor-Id"]
	}
	if group == "" {
		p, ok := newPackage(artifact, artifact, version)
		return p, "filename", ok
	}
	p, ok := newPackage(group, artifact, version)
	return p, "manifest", ok
}
