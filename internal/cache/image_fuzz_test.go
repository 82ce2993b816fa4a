package cache

import (
	"bytes"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
)

// FuzzDecodeImage: a damaged whole-image entry is refused or decoded
// without panic, and a decoded entry encodes and decodes to the same
// report.
func FuzzDecodeImage(f *testing.F) {
	b, err := encodeImage(&report.Report{SchemaVersion: "1", CreatedAt: time.Unix(1700000000, 0).UTC(),
		Packages: []model.Package{{Name: "libc6", Version: "2.36", Metadata: map[string]string{"k": "v"}}},
		Findings: []model.Finding{{ID: "CVE-1", Severity: model.High}}, Dropped: map[string]int{"x": 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r report.Report
		if decodeImage(bytes.NewReader(data), &r) != nil {
			return
		}
		again, err := encodeImage(&r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 report.Report
		if err := decodeImage(bytes.NewReader(again), &r2); err != nil || len(r2.Findings) != len(r.Findings) || len(r2.Packages) != len(r.Packages) {
			t.Fatalf("re-decoded %d findings %d packages, %v; want %d, %d", len(r2.Findings), len(r2.Packages), err, len(r.Findings), len(r.Packages))
		}
	})
}
