package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/rematch"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// TestPackageIndex: a scan records its image's package keys, a rescan
// replaces them and a re-match keeps them; a change touches the scans of
// images holding one of its packages or with a finding from one of its
// records, and no other; an image scanned before the index is not Indexed
// until IndexPackages, which leaves an image alone whose latest scan
// moved on.
func TestPackageIndex(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		debian := &model.OS{Family: "debian", Version: "12"}
		libc := model.Package{Name: "libc6", Version: "2.36-9+deb12u1", Type: model.TypeDeb, SourceName: "glibc"}
		zlib := model.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: model.TypeDeb, SourceName: "zlib"}
		lodash := model.Package{Name: "Lodash", Version: "4.17.21", Type: model.TypeNPM}
		ghsa := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2026-7", Aliases: []string{"GHSA-abcd-efgh-ijkl"}, Severity: model.High,
			Package: lodash.Ref()}
		report := func(digest string, pkgs []model.Package, findings ...model.Finding) *report.Report {
			rep := sampleReport(digest, findings...)
			rep.Packages = pkgs
			return rep
		}
		save := func(digest string, pkgs []model.Package, findings ...model.Finding) int64 {
			id, err := s.SaveScan(ctx, ScanRecord{Input: digest, Ref: &Ref{Source: SourceRegistry, Repository: "reg/app", Tag: digest[7:]},
				Started: time.Now(), Finished: time.Now(), Report: report(digest, pkgs, findings...), MatchedGeneration: 1})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		glibcScan := save("sha256:a", []model.Package{libc, zlib})
		lodashScan := save("sha256:b", []model.Package{lodash}, ghsa)
		zlibScan := save("sha256:c", []model.Package{zlib})
		save("sha256:d", []model.Package{libc})
		for _, q := range []string{`DELETE FROM image_package WHERE digest = ?`, `UPDATE image SET packages_indexed = 0 WHERE digest = ?`} {
			if _, err := s.Exec(ctx, q, "sha256:d"); err != nil {
				t.Fatal(err)
			}
		}

		keyOf := func(p model.Package) vulndb.PackageKey {
			k, ok := rematch.PackageKey(debian, p)
			if !ok {
				t.Fatalf("%s is not matched", p.Name)
			}
			return k
		}
		if got, want := s.keys(t, "sha256:a"), []vulndb.PackageKey{keyOf(libc), keyOf(zlib)}; !reflect.DeepEqual(got, want) {
			t.Errorf("keys of the glibc image: %v, want %v", got, want)
		}
		stale, err := s.StaleScans(ctx, 2, "", 10)
		if err != nil || len(stale) != 4 || !stale[0].Indexed || stale[3].Indexed {
			t.Fatalf("stale: %+v %v", stale, err)
		}
		indexed := stale[:3]
		for _, c := range []struct {
			keys []vulndb.PackageKey
			ids  []string
			want map[int64]bool
		}{
			{[]vulndb.PackageKey{keyOf(libc)}, []string{"DSA-1"}, map[int64]bool{glibcScan: true}},
			{[]vulndb.PackageKey{keyOf(zlib), {Ecosystem: "PyPI", Name: "zlib"}}, nil, map[int64]bool{glibcScan: true, zlibScan: true}},
			// a changed record behind a finding: the lower-case id of a GHSA
			{nil, []string{"GHSA-abcd-efgh-ijkl"}, map[int64]bool{lodashScan: true}},
			{[]vulndb.PackageKey{{Ecosystem: "npm", Name: "left-pad"}}, []string{"CVE-2026-8"}, map[int64]bool{}},
			{[]vulndb.PackageKey{keyOf(lodash)}, nil, map[int64]bool{lodashScan: true}},
		} {
			got, err := s.TouchedScans(ctx, indexed, c.keys, c.ids)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("touched by %v %v: %v %v, want %v", c.keys, c.ids, got, err, c.want)
			}
		}
		// Keys beyond one statement's share.
		many := make([]vulndb.PackageKey, 0, 2*indexChunk+1)
		for i := range 2 * indexChunk {
			many = append(many, vulndb.PackageKey{Ecosystem: "npm", Name: fmt.Sprintf("pkg-%d", i)})
		}
		many = append(many, keyOf(zlib))
		if got, err := s.TouchedScans(ctx, indexed, many, nil); err != nil || len(got) != 2 || !got[zlibScan] {
			t.Errorf("touched by %d keys: %v %v", len(many), got, err)
		}

		// Not the latest scan any more: left alone.
		if err := s.IndexPackages(ctx, MatchedScan{Digest: "sha256:d", Scan: glibcScan}, report("sha256:d", []model.Package{zlib})); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.IndexPackages(ctx, stale[3], report("sha256:d", []model.Package{libc})); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := s.LatestScan(ctx, "sha256:d"); err != nil || !m.Indexed || !reflect.DeepEqual(s.keys(t, "sha256:d"), []vulndb.PackageKey{keyOf(libc)}) {
			t.Errorf("after IndexPackages: %+v %v, keys %v", m, err, s.keys(t, "sha256:d"))
		}

		save("sha256:a", []model.Package{zlib, lodash})
		if got, want := s.keys(t, "sha256:a"), []vulndb.PackageKey{keyOf(zlib), keyOf(lodash)}; !reflect.DeepEqual(got, want) {
			t.Errorf("keys after a rescan: %v, want %v", got, want)
		}
		m, err := s.LatestScan(ctx, "sha256:c")
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := s.SaveRematches(ctx, []Rematch{{Of: *m, Worker: "w", Generation: 2, Report: report("sha256:c", []model.Package{zlib})}}); err != nil || ids[0] == 0 {
			t.Fatalf("re-match: %v %v", ids, err)
		}
		if m, err := s.LatestScan(ctx, "sha256:c"); err != nil || !m.Indexed || !reflect.DeepEqual(s.keys(t, "sha256:c"), []vulndb.PackageKey{keyOf(zlib)}) {
			t.Errorf("after a re-match: %+v %v, keys %v", m, err, s.keys(t, "sha256:c"))
		}
	})
}

// keys are the package keys recorded for the image digest.
func (s *Store) keys(t *testing.T, digest string) []vulndb.PackageKey {
	t.Helper()
	rows, err := s.Query(context.Background(), `SELECT ecosystem, name FROM image_package WHERE digest = ? ORDER BY ecosystem, name`, digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []vulndb.PackageKey
	for rows.Next() {
		var k vulndb.PackageKey
		if err := rows.Scan(&k.Ecosystem, &k.Name); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
