package vulndb

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// manifestName is the entry of an export file that lists its sources.
const manifestName = "customs-db.json"

// manifest is the table of contents of an export file.
type manifest struct {
	Format  string   `json:"format"`
	Sources []Source `json:"sources"`
}

const exportFormat = "customs-osv-export/1"

// Import adds the OSV records found at paths to the database in dir: each
// path is a directory of OSV JSON/YAML files (searched recursively, zips
// included), a single record file, an OSV export zip, or an export written
// by Export. Each path becomes one source named after it (an export
// restores its own sources), replacing what an earlier import of the same
// path stored. The database is swapped in only if every path imports.
func Import(ctx context.Context, dir string, paths []string) (*Builder, error) {
	var b *Builder
	err := Apply(ctx, dir, func(bb *Builder) error {
		b = bb
		for _, p := range paths {
			if err := importPath(ctx, bb, p); err != nil {
				return err
			}
		}
		return nil
	})
	return b, err
}

func importPath(ctx context.Context, b *Builder, p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if !fi.IsDir() && strings.EqualFold(filepath.Ext(abs), ".zip") {
		if m, err := readManifest(abs); err == nil {
			return importExport(ctx, b, abs, m)
		} else if !errors.Is(err, errNoManifest) {
			return err
		}
	}
	source := "local:" + abs
	if err := b.Begin(ctx, source); err != nil {
		return err
	}
	skipped, ignored := b.Skipped, b.Ignored
	add := func(name string, data []byte) error {
		// One malformed record does not spoil a whole directory: it is
		// skipped, counted and named.
		return b.addFile(ctx, source, relName(abs, name), data)
	}
	if fi.IsDir() {
		err = filepath.WalkDir(abs, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(f)) {
			case ".zip":
				return eachZipRecord(ctx, f, func(name string, data []byte) error {
					return add(f+"!"+name, data)
				})
			case ".json", ".yaml", ".yml":
				data, err := readBounded(f)
				if err != nil {
					return err
				}
				return add(f, data)
			}
			b.Ignored++
			return nil
		})
	} else if strings.EqualFold(filepath.Ext(abs), ".zip") {
		err = eachZipRecord(ctx, abs, add)
	} else {
		var data []byte
		if data, err = readBounded(abs); err == nil {
			err = add(abs, data)
		}
	}
	if err != nil {
		return err
	}
	if b.Records(source) == 0 {
		return noRecord(p, b.Skipped-skipped, b.Ignored-ignored, b)
	}
	return b.End(ctx, source, abs, fi.ModTime())
}

// ErrNoRecord is wrapped by the errors of Import and Update when an input
// yields no valid OSV record.
var ErrNoRecord = errors.New("no valid OSV record")

// noRecord is the error for an input that yielded no record: what was
// skipped and ignored in it.
func noRecord(name string, skipped, ignored int, b *Builder) error {
	var why []string
	if skipped > 0 {
		why = append(why, b.SkipSummary())
	}
	if ignored > 0 {
		why = append(why, fmt.Sprintf("%d files without a .json, .yaml, .yml or .zip extension ignored", ignored))
	}
	if len(why) == 0 {
		why = append(why, "no .json, .yaml, .yml or .zip file found")
	}
	return fmt.Errorf("%s: %w (%s)", name, ErrNoRecord, strings.Join(why, "; "))
}

// addFile parses one file and stores its records under source; a file that
// holds no valid record is skipped with its reason.
func (b *Builder) addFile(ctx context.Context, source, name string, data []byte) error {
	recs, err := Parse(name, data)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			b.skip(name, pe.Reason)
			return nil
		}
		return err
	}
	for _, r := range recs {
		if err := b.Add(ctx, source, r); err != nil {
			return err
		}
	}
	return nil
}

// relName shortens a file name below an imported directory to its path
// relative to it, for messages.
func relName(root, name string) string {
	rel, err := filepath.Rel(root, name)
	switch {
	case rel == ".":
		return filepath.Base(name)
	case err == nil && !strings.HasPrefix(rel, ".."):
		return rel
	}
	return name
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("%s: larger than the %d-byte record limit", p, MaxRecordBytes)
	}
	return data, nil
}

// eachZipRecord calls fn with the name and content of every .json, .yaml
// and .yml entry of the zip at p. A damaged archive is an error.
func eachZipRecord(ctx context.Context, p string, fn func(name string, data []byte) error) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		ext := strings.ToLower(path.Ext(f.Name))
		if f.FileInfo().IsDir() || (ext != ".json" && ext != ".yaml" && ext != ".yml") || f.Name == manifestName {
			continue
		}
		data, err := readZipEntry(f)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", p, f.Name, err)
		}
		if err := fn(f.Name, data); err != nil {
			return err
		}
	}
	return nil
}

func readZipEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxRecordBytes {
		return nil, fmt.Errorf("%d bytes, larger than the %d-byte record limit", f.UncompressedSize64, MaxRecordBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("larger than the %d-byte record limit", MaxRecordBytes)
	}
	return data, nil
}

var errNoManifest = errors.New("no manifest")

func readManifest(p string) (*manifest, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != manifestName {
			continue
		}
		data, err := readZipEntry(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", p, f.Name, err)
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", p, f.Name, err)
		}
		if m.Format != exportFormat {
			return nil, fmt.Errorf("%s: export format %q, this customs reads %q", p, m.Format, exportFormat)
		}
		return &m, nil
	}
	return nil, errNoManifest
}

// importExport restores the sources of a file written by Export.
func importExport(ctx context.Context, b *Builder, p string, m *manifest) error {
	known := map[string]Source{}
	for _, s := range m.Sources {
		known[s.Name] = s
		if err := b.Begin(ctx, s.Name); err != nil {
			return err
		}
	}
	err := eachZipRecord(ctx, p, func(name string, data []byte) error {
		dir, _ := path.Split(name)
		source, err := url.PathUnescape(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return fmt.Errorf("%s: %s: bad source directory", p, name)
		}
		if _, ok := known[source]; !ok {
			return fmt.Errorf("%s: %s: source %q is not in the manifest", p, name, source)
		}
		recs, err := Parse(name, data)
		if err != nil {
			return err // an export is written by customs: damage is an error
		}
		for _, r := range recs {
			if err := b.Add(ctx, source, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	total := 0
	for _, s := range m.Sources {
		total += b.Records(s.Name)
	}
	if total == 0 {
		return fmt.Errorf("%s: %w (an export of an empty database)", p, ErrNoRecord)
	}
	for _, s := range m.Sources {
		if err := b.End(ctx, s.Name, s.Origin, s.FetchedAt); err != nil {
			return err
		}
	}
	return nil
}

// Export writes the database in dir to file as one zip that Import reads
// on another machine: every record under a directory named after its
// source, and a manifest with each source's origin and fetch time.
func Export(ctx context.Context, dir, file string) (*Status, error) {
	d, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	st, err := d.Status(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	zw := zip.NewWriter(tmp)
	mdata, _ := json.MarshalIndent(manifest{Format: exportFormat, Sources: st.Sources}, "", "  ")
	w, err := zw.Create(manifestName)
	if err == nil {
		_, err = w.Write(mdata)
	}
	if err == nil {
		err = d.eachRecord(ctx, func(source, id string, data []byte) error {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: url.PathEscape(source) + "/" + url.PathEscape(id) + ".json", Method: zip.Deflate, Modified: time.Unix(0, 0)})
			if err != nil {
				return err
			}
			_, err = w.Write(data)
			return err
		})
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return st, os.Rename(tmp.Name(), file)
}
