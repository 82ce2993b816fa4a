package vulndb

import (
	"context"
	"embed"
	"io/fs"
	"sort"
)

// SampleName is the --db-dir value that selects the bundled sample dataset.
const SampleName = "builtin:sample"

// sample holds a few real published OSV records (see testdata/README.md),
// so that a scan can demonstrate matching without network or a download.
//
//go:embed testdata/osv
var sample embed.FS

// SampleRecords returns the bundled sample records.
func SampleRecords() ([]*Record, error) {
	var out []*Record
	err := fs.WalkDir(sample, "testdata/osv", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := sample.ReadFile(p)
		if err != nil {
			return err
		}
		recs, err := Parse(p, data)
		if err != nil {
			return err
		}
		out = append(out, recs...)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// OpenSample returns an in-memory database holding the bundled sample.
func OpenSample(ctx context.Context) (*DB, error) {
	recs, err := SampleRecords()
	if err != nil {
		return nil, err
	}
	return openMemory(ctx, SampleName, "records bundled with customs", recs)
}
