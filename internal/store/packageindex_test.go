package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/rematch"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// TestPackageIndex: a stored scan's package keys are recorded; a change
// touches the scans holding one of its packages or with a finding from
// one of its records, and no other; a scan stored before the index is
// not Indexed until IndexPackages; pruned scans take their keys along.
func TestPackageIndex(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		debian := &model.OS{Family: "debian", Version: "12"}
		libc := model.Package{Name: "libc6", Version: "2.36-9+deb12u1", Type: model.TypeDeb, SourceName: "glibc"}
		zlib := model.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: model.TypeDeb, SourceName: "zlib"}
		lodash := model.Package{Name: "Lodash", Version: "4.17.21", Type: model.TypeNPM}
		ghsa := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2026-7", Aliases: []string{"GHSA-abcd-efgh-ijkl"}, Severity: model.High,
			Package: lodash.Ref()}
		save := func(digest string, pkgs []model.Package, findings ...model.Finding) int64 {
			rep := sampleReport(digest, findings...)
			rep.Packages = pkgs
			id, err := s.SaveScan(ctx, ScanRecord{Input: digest, Ref: &Ref{Source: SourceRegistry, Repository: "reg/app", Tag: digest[7:]},
				Started: time.Now(), Finished: time.Now(), Report: rep, MatchedGeneration: 1})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		glibcScan := save("sha256:a", []model.Package{libc, zlib})
		lodashScan := save("sha256:b", []model.Package{lodash}, ghsa)
		zlibScan := save("sha256:c", []model.Package{zlib})
		old := save("sha256:d", []model.Package{libc})
		if _, err := s.Exec(ctx, `DELETE FROM scan_package WHERE scan = ?`, old); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Exec(ctx, `UPDATE scan SET packages_indexed = 0 WHERE id = ?`, old); err != nil {
			t.Fatal(err)
		}

		keyOf := func(p model.Package) vulndb.PackageKey {
			k, ok := rematch.PackageKey(debian, p)
			if !ok {
				t.Fatalf("%s is not matched", p.Name)
			}
			return k
		}
		if got, want := s.keys(t, glibcScan), []vulndb.PackageKey{keyOf(libc), keyOf(zlib)}; !reflect.DeepEqual(got, want) {
			t.Errorf("keys of the glibc scan: %v, want %v", got, want)
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

		rep := sampleReport("sha256:d")
		rep.Packages = []model.Package{libc}
		for range 2 {
			if err := s.IndexPackages(ctx, old, rep); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := s.LatestScan(ctx, "sha256:d"); err != nil || !m.Indexed || !reflect.DeepEqual(s.keys(t, old), []vulndb.PackageKey{keyOf(libc)}) {
			t.Errorf("after IndexPackages: %+v %v, keys %v", m, err, s.keys(t, old))
		}

		newer := save("sha256:a", []model.Package{zlib})
		if n, err := s.PruneScans(ctx, 1); err != nil || n != 1 {
			t.Fatalf("pruned %d %v", n, err)
		}
		if k := s.keys(t, glibcScan); len(k) != 0 {
			t.Errorf("keys of a pruned scan: %v", k)
		}
		if k := s.keys(t, newer); !reflect.DeepEqual(k, []vulndb.PackageKey{keyOf(zlib)}) {
			t.Errorf("keys of the latest scan: %v", k)
		}
		// A re-match stores the keys of its scan.
		m, err := s.LatestScan(ctx, "sha256:c")
		if err != nil {
			t.Fatal(err)
		}
		rep = sampleReport("sha256:c")
		rep.Packages = []model.Package{zlib, lodash}
		ids, err := s.SaveRematches(ctx, []Rematch{{Of: *m, Worker: "w", Generation: 2, Report: rep}})
		if err != nil || ids[0] == 0 {
			t.Fatalf("re-match: %v %v", ids, err)
		}
		if k := s.keys(t, ids[0]); len(k) != 2 {
			t.Errorf("keys of the re-match: %v", k)
		}
		if m, err := s.LatestScan(ctx, "sha256:c"); err != nil || !m.Indexed {
			t.Errorf("the re-match: %+v %v", m, err)
		}
	})
}

// keys are the package keys recorded for the scan id.
func (s *Store) keys(t *testing.T, id int64) []vulndb.PackageKey {
	t.Helper()
	rows, err := s.Query(context.Background(), `SELECT ecosystem, name FROM scan_package WHERE scan = ? ORDER BY ecosystem, name`, id)
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
