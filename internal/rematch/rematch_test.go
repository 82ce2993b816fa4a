package rematch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/customs-scanner/customs/internal/match"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

var (
	sampleDir  = filepath.Join("..", "vulndb", "testdata", "osv")
	changesDir = filepath.Join("..", "vulndb", "testdata", "changes")
)

// setFeed makes dir hold exactly the record files of from.
func setFeed(t testing.TB, dir, from string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(from, "*"))
	if len(files) == 0 {
		t.Fatalf("no records in %s", from)
	}
	for _, f := range files {
		copyFile(t, f, filepath.Join(dir, filepath.Base(f)))
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, dir string) *vulndb.DB {
	t.Helper()
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// databases imports before (with the files of extra) into a database,
// keeps a copy of it, imports after over the same directory, and returns
// the copy, the updated database and what changed between them.
func databases(t testing.TB, before, after string, extra ...string) (old, cur *vulndb.DB, ch vulndb.Changes) {
	t.Helper()
	ctx := context.Background()
	dir, oldDir, feed := t.TempDir(), t.TempDir(), t.TempDir()
	setFeed(t, feed, before)
	if _, err := vulndb.Import(ctx, dir, append(extra, feed)); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, vulndb.FileName), filepath.Join(oldDir, vulndb.FileName))
	old = open(t, oldDir)
	gen, err := old.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	setFeed(t, feed, after)
	if _, err := vulndb.Import(ctx, dir, []string{feed}); err != nil {
		t.Fatal(err)
	}
	cur = open(t, dir)
	ch, ok, err := cur.ChangedSince(ctx, gen)
	if err != nil || !ok {
		t.Fatalf("changes since %d: %v %v", gen, ok, err)
	}
	if ch.Generation != gen+1 {
		t.Fatalf("generation %d after %d", ch.Generation, gen)
	}
	return old, cur, ch
}

// inventory is a stored scan result: the image's OS and packages.
type inventory struct {
	name string
	os   *model.OS
	pkgs []model.Package
}

var (
	debian12 = &model.OS{Family: "debian", Version: "12", Codename: "bookworm"}
	debian11 = &model.OS{Family: "debian", Version: "11", Codename: "bullseye"}
	alpine   = &model.OS{Family: "alpine", Version: "3.18.4"}
)

func deb(name, src, version, distro string) model.Package {
	return model.Package{Name: name, SourceName: src, Version: version, Type: model.TypeDeb, Path: "var/lib/dpkg/status",
		PURL: fmt.Sprintf("pkg:deb/debian/%s@%s?arch=amd64&distro=%s", name, version, distro)}
}

func npm(name, version, path string) model.Package {
	return model.Package{Name: name, Version: version, Type: model.TypeNPM, Path: path,
		PURL: fmt.Sprintf("pkg:npm/%s@%s", name, version)}
}

func pypi(name, version string) model.Package {
	return model.Package{Name: name, Version: version, Type: model.TypePyPI, Path: "usr/lib/python3/dist-packages/" + name + ".dist-info/METADATA",
		PURL: fmt.Sprintf("pkg:pypi/%s@%s", name, version)}
}

// inventories are the fixture images: what the records of
// testdata/changes touch, and what they do not.
func inventories() []inventory {
	osOwned := npm("minimist", "0.0.8", "usr/share/nodejs/minimist/package.json")
	osOwned.OSOwned, osOwned.OSPackage = true, "node-minimist"
	return []inventory{
		{"app", debian12, []model.Package{
			deb("libc6", "glibc", "2.36-9+deb12u1", "debian-12"),
			deb("zlib1g", "zlib", "1:1.2.11.dfsg-4", "debian-12"),
			deb("libssl3", "openssl", "3.0.11-1~deb12u1", "debian-12"),
			npm("lodash", "4.17.15", "app/node_modules/lodash/package.json"),
			npm("minimist", "1.2.5", "app/node_modules/minimist/package.json"),
			osOwned,
			pypi("urllib3", "1.26.15"),
			pypi("requests", "2.28.0"),
			{Name: "busybox", Version: "1.36.1", Type: "binary", Path: "bin/busybox"},
		}},
		{"patched", debian12, []model.Package{
			deb("zlib1g", "zlib", "1:1.2.13.dfsg-1", "debian-12"),
			npm("lodash", "4.17.21", "node_modules/lodash/package.json"),
			npm("minimist", "1.2.8", "node_modules/minimist/package.json"),
			pypi("urllib3", "2.0.7"),
		}},
		{"bullseye", debian11, []model.Package{
			// DSA-5218-1 and DEBIAN-CVE-2022-37434 are one finding: the
			// changed record is re-read, the finding stays.
			deb("zlib1g", "zlib", "1:1.2.11.dfsg-2+deb11u1", "debian-11"),
			deb("libc6", "glibc", "2.31-13+deb11u6", "debian-11"),
			pypi("urllib3", "2.0.4"),
		}},
		{"alpine", alpine, []model.Package{
			{Name: "libssl3", SourceName: "openssl", Version: "3.1.3-r0", Type: model.TypeAPK, PURL: "pkg:apk/alpine/libssl3@3.1.3-r0?distro=3.18.4"},
			npm("0-dns", "1.0.0", "srv/node_modules/0-dns/package.json"),
		}},
		{"no os", nil, []model.Package{
			deb("zlib1g", "zlib", "1:1.2.11.dfsg-4", "debian-12"),
			npm("lodash", "4.17.20", "node_modules/lodash/package.json"),
			// the same package twice, under two paths
			npm("minimist", "1.2.0", "a/node_modules/minimist/package.json"),
			npm("minimist", "1.2.0", "b/node_modules/minimist/package.json"),
		}},
	}
}

// scan matches an inventory as the pipeline does: the OS-owned language
// packages only with MatchOSOwned.
func scan(t testing.TB, src match.Source, inv inventory, opt Options) []model.Finding {
	t.Helper()
	var pkgs []model.Package
	for _, p := range inv.pkgs {
		if !p.OSOwned || opt.MatchOSOwned {
			pkgs = append(pkgs, p)
		}
	}
	res, err := match.Run(context.Background(), src, inv.os, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings
}

// short names findings as "id package@version", sorted.
func short(fs []model.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.ID+" "+f.Package.Name+"@"+f.Package.Version)
	}
	sort.Strings(out)
	return out
}

// minus is the multiset difference a - b of findings by identity, in
// the order of a.
func minus(a, b []model.Finding) []model.Finding {
	left := map[string]int{}
	for i := range b {
		left[identity(&b[i])]++
	}
	var out []model.Finding
	for i := range a {
		id := identity(&a[i])
		if left[id] > 0 {
			left[id]--
			continue
		}
		out = append(out, a[i])
	}
	return out
}

func sortByIdentity(fs []model.Finding) []model.Finding {
	out := append([]model.Finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return identity(&out[i]) < identity(&out[j]) })
	return out
}

func TestDiff(t *testing.T) {
	old, cur, ch := databases(t, filepath.Join(changesDir, "before"), filepath.Join(changesDir, "after"), sampleDir)
	ctx := context.Background()
	c := NewChange(ch)
	want := map[string]struct{ added, resolved []string }{
		"app": {
			[]string{"CVE-2021-44906 minimist@1.2.5", "CVE-2022-37434 zlib1g@1:1.2.11.dfsg-4"},
			[]string{"CVE-2020-28500 lodash@4.17.15", "CVE-2023-43804 urllib3@1.26.15"},
		},
		"patched":  {[]string{}, []string{}},
		"bullseye": {[]string{}, []string{"CVE-2023-43804 urllib3@2.0.4"}},
		"alpine":   {[]string{}, []string{}},
		"no os": {
			[]string{"CVE-2021-44906 minimist@1.2.0", "CVE-2021-44906 minimist@1.2.0"},
			[]string{"CVE-2020-28500 lodash@4.17.20"},
		},
	}
	affected := map[string]bool{"app": true, "patched": true, "bullseye": true, "alpine": false, "no os": true}
	for _, inv := range inventories() {
		prev := scan(t, old, inv, Options{})
		// Findings of other scanners are not the matcher's: never resolved.
		prev = append(prev, model.Finding{Class: model.ClassSecret, ID: "aws-access-key", Path: "app/.env"})
		added, resolved, err := c.Diff(ctx, cur, inv.os, inv.pkgs, prev, Options{})
		if err != nil {
			t.Fatal(err)
		}
		w := want[inv.name]
		if got := short(added); !reflect.DeepEqual(got, w.added) {
			t.Errorf("%s: added %v, want %v", inv.name, got, w.added)
		}
		if got := short(resolved); !reflect.DeepEqual(got, w.resolved) {
			t.Errorf("%s: resolved %v, want %v", inv.name, got, w.resolved)
		}
		if got := c.Affected(inv.os, inv.pkgs, Options{}); got != affected[inv.name] {
			t.Errorf("%s: affected %v", inv.name, got)
		}
	}
}

// TestDiffOSOwned: the OS-owned minimist of "app" is matched only with
// MatchOSOwned, as in a scan.
func TestDiffOSOwned(t *testing.T) {
	old, cur, ch := databases(t, filepath.Join(changesDir, "before"), filepath.Join(changesDir, "after"), sampleDir)
	inv := inventories()[0]
	opt := Options{MatchOSOwned: true}
	added, _, err := Diff(context.Background(), cur, inv.os, inv.pkgs, scan(t, old, inv, opt), ch, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CVE-2021-44906 minimist@0.0.8", "CVE-2021-44906 minimist@1.2.5", "CVE-2022-37434 zlib1g@1:1.2.11.dfsg-4"}
	if got := short(added); !reflect.DeepEqual(got, want) {
		t.Fatalf("added %v, want %v", got, want)
	}
	only := []model.Package{inv.pkgs[5]}
	if NewChange(ch).Affected(inv.os, only, Options{}) || !NewChange(ch).Affected(inv.os, only, opt) {
		t.Fatal("an OS-owned package touches the change regardless of MatchOSOwned")
	}
}

// TestDiffEqualsRescan is the property the server relies on: for every
// fixture inventory and setting, the diff equals the difference between
// a full match against the database before and one against the database
// after, finding for finding.
func TestDiffEqualsRescan(t *testing.T) {
	ctx := context.Background()
	for _, step := range []struct{ name, before, after string }{
		{"changes", filepath.Join(changesDir, "before"), filepath.Join(changesDir, "after")},
		{"changes reverted", filepath.Join(changesDir, "after"), filepath.Join(changesDir, "before")},
	} {
		old, cur, ch := databases(t, step.before, step.after, sampleDir)
		for _, inv := range inventories() {
			for _, opt := range []Options{{}, {MatchOSOwned: true}} {
				prev, now := scan(t, old, inv, opt), scan(t, cur, inv, opt)
				added, resolved, err := Diff(ctx, cur, inv.os, inv.pkgs, prev, ch, opt)
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s: %s %+v", step.name, inv.name, opt)
				if got, want := sortByIdentity(added), sortByIdentity(minus(now, prev)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: added\n%v\nrescan\n%v", name, short(got), short(want))
				}
				if got, want := sortByIdentity(resolved), sortByIdentity(minus(prev, now)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: resolved\n%v\nrescan\n%v", name, short(got), short(want))
				}
			}
		}
	}
}

// TestDiffByRecordID: a previous finding of a changed record is re-matched
// even when the change names none of its packages' keys (a record several
// sources hold, changed in one that names another package).
func TestDiffByRecordID(t *testing.T) {
	_, cur, _ := databases(t, filepath.Join(changesDir, "before"), filepath.Join(changesDir, "after"), sampleDir)
	inv := inventories()[0]
	prev := scan(t, cur, inv, Options{})
	gone := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2020-28500", Package: inv.pkgs[3].Ref(),
		Extra: map[string]string{"ecosystem": "npm", "osv_ids": "GHSA-29mw-wpgm-hmr9"}}
	prev = append(prev, gone)
	for _, c := range []struct {
		ids      []string
		resolved []string
	}{
		{[]string{"GHSA-35jh-r3h4-6jhm"}, []string{"CVE-2020-28500 lodash@4.17.15"}}, // lodash re-matched: the stale finding goes
		{[]string{"GHSA-29mw-wpgm-hmr9"}, []string{"CVE-2020-28500 lodash@4.17.15"}},
		{[]string{"CVE-2023-43804"}, []string{}}, // urllib3 (by the finding's id) re-matched: found again
		{[]string{"GHSA-xvch-5gv4-984h"}, []string{}},
	} {
		added, resolved, err := Diff(context.Background(), cur, inv.os, inv.pkgs, prev, vulndb.Changes{IDs: c.ids}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(added) != 0 || !reflect.DeepEqual(short(resolved), c.resolved) {
			t.Errorf("changed %v: added %v, resolved %v, want resolved %v", c.ids, short(added), short(resolved), c.resolved)
		}
	}
}

func TestPackageKey(t *testing.T) {
	for _, c := range []struct {
		os   *model.OS
		p    model.Package
		want vulndb.PackageKey
		ok   bool
	}{
		{debian12, deb("libc6", "glibc", "2.36-9+deb12u1", "debian-12"), vulndb.PackageKey{Ecosystem: "Debian", Name: "glibc"}, true},
		{alpine, model.Package{Name: "libssl3", SourceName: "openssl", Version: "3.1.3-r0", Type: model.TypeAPK}, vulndb.PackageKey{Ecosystem: "Alpine", Name: "openssl"}, true},
		{nil, pypi("Flask_Login", "0.6.2"), vulndb.PackageKey{Ecosystem: "PyPI", Name: "flask-login"}, true},
		{nil, model.Package{Name: "go", Version: "go1.21.1", Type: model.TypeGolang}, vulndb.PackageKey{Ecosystem: "Go", Name: "stdlib"}, true},
		{nil, deb("libc6", "glibc", "2.36-9+deb12u1", "debian-12"), vulndb.PackageKey{}, false}, // no OS: not matched
		{debian12, npm("lodash", "", "x"), vulndb.PackageKey{}, false},                          // no version
		{debian12, model.Package{Name: "busybox", Version: "1.36.1", Type: "binary"}, vulndb.PackageKey{}, false},
	} {
		got, ok := PackageKey(c.os, c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("%s on %v: %v %v, want %v %v", c.p.Name, c.os, got, ok, c.want, c.ok)
		}
	}
}
