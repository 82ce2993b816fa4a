package clamav

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const testFiles = "/usr/share/clamav-testfiles"

// testFile reads a sample of Debian's clamav-testfiles.
func testFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testFiles, name))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("clamav-testfiles: %v", err)
		}
		t.Skipf("clamav-testfiles not installed: %v", err)
	}
	return b
}

// sigtool runs ClamAV's sigtool and returns its output (stdout, then stderr).
func sigtool(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("sigtool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sigtool (package clamav) is not installed")
		}
		t.Skip("sigtool is not installed")
	}
	var out, errb bytes.Buffer
	cmd := exec.Command("sigtool", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sigtool %v: %v\n%s", args, err, errb.String())
	}
	return out.String() + errb.String()
}

func target(data []byte) *Target {
	var sums [numKinds][]byte
	return &Target{Data: data, Size: int64(len(data)), Hash: func(k HashKind) []byte {
		if sums[k] == nil {
			h := NewHash(k)
			h.Write(data)
			sums[k] = h.Sum(nil)
		}
		return sums[k]
	}}
}

func names(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// clamExeSigs are signature files for clam.exe in every format: the hash
// ones from ClamAV's own sigtool, the body and logical ones written on
// strings of the sample ("CLAMessageBoxA", the "[CLAMAV]" section,
// "KERNEL32.DLL"), which clamscan confirms in TestSameAsClamscan.
func clamExeSigs(t *testing.T) map[string][]byte {
	exe := filepath.Join(testFiles, "clam.exe")
	testFile(t, "clam.exe")
	field := func(out string) string { return strings.Split(strings.TrimSpace(out), "\n")[0] }
	md5sig := field(sigtool(t, "--md5", exe))       // aa15...:544:clam.exe
	sha1sig := field(sigtool(t, "--sha1", exe))     // sha1:544:clam.exe
	sha256sig := field(sigtool(t, "--sha256", exe)) // sha256:544:clam.exe
	sec := regexp.MustCompile(`Section\{0\}: (\d+):([0-9a-f]{32})`).FindStringSubmatch(sigtool(t, "--debug", "--mdb", exe))
	if sec == nil {
		t.Fatal("sigtool --mdb printed no section hash")
	}
	rename := func(sig, name string) string { return strings.TrimSuffix(sig, "clam.exe") + name }
	return map[string][]byte{
		"test.hdb": []byte("# ClamAV's own test signature\n" + rename(md5sig, "Test.HDB") + "\n"),
		"test.hsb": []byte(rename(sha1sig, "Test.HSB.SHA1") + "\n" + rename(sha256sig, "Test.HSB.SHA256") + "\n"),
		"test.hsu": []byte(strings.Replace(rename(sha256sig, "PUA.Test.HSU"), ":544:", ":*:", 1) + "\n"),
		"test.mdb": []byte(sec[1] + ":" + sec[2] + ":Test.MDB\n"),
		"test.ndb": []byte("Test.NDB:1:*:434c414d657373616765*5b434c414d41565d\n" +
			"Test.NDB.Nibble:1:*:434c414d65737361676542?f{1-2}00e6\n" +
			"Test.NDB.EOF:0:EOF-8,8:00000000000000c0\n" +
			"Test.NDB.WrongType:6:*:434c414d657373616765\n"),
		"test.ldb": []byte("Test.LDB;Engine:51-255,Target:1;0&1;4b45524e454c33322e444c4c;5b434c414d41565d\n" +
			"Test.LDB.Count;Target:0;0>1;4c4c\n" +
			"Test.LDB.Missing;Target:1;0&1;4b45524e454c33322e444c4c;deadbeefcafe\n"),
	}
}

func TestClamTestFiles(t *testing.T) {
	sigs := clamExeSigs(t)
	if !strings.HasPrefix(string(sigs["test.hdb"][strings.IndexByte(string(sigs["test.hdb"]), '\n')+1:]), "aa15bcf478d165efd2065190eb473bcb:544:") {
		t.Fatalf("sigtool's MD5 of clam.exe differs from ClamAV's published test signature: %s", sigs["test.hdb"])
	}
	db, err := Parse(sigs)
	if err != nil {
		t.Fatal(err)
	}
	if db.Skipped != 0 {
		t.Fatalf("skipped %d: %v", db.Skipped, db.Warnings)
	}
	got := names(db.Scan(target(testFile(t, "clam.exe"))))
	want := []string{"PUA.Test.HSU", "Test.HDB", "Test.HSB.SHA1", "Test.HSB.SHA256", "Test.LDB", "Test.LDB.Count", "Test.MDB", "Test.NDB", "Test.NDB.EOF", "Test.NDB.Nibble"}
	if !slices.Equal(got, want) {
		t.Fatalf("clam.exe matched %v, want %v", got, want)
	}
	for _, m := range db.Scan(target(testFile(t, "clam.exe"))) {
		if m.PUA != (m.Name == "PUA.Test.HSU") {
			t.Errorf("%s: PUA %v", m.Name, m.PUA)
		}
	}
	// Another sample of the package: a different executable, none of the
	// hash signatures, but the strings are there.
	other := testFile(t, "clam.ea05.exe")
	for _, n := range names(db.Scan(target(other))) {
		if strings.HasPrefix(n, "Test.H") || n == "Test.MDB" {
			t.Errorf("clam.ea05.exe matched hash signature %s", n)
		}
	}
	// A truncated file is not hashed and EOF offsets are unknown.
	tr := target(testFile(t, "clam.exe"))
	tr.Truncated, tr.Hash = true, nil
	if got := names(db.Scan(tr)); slices.Contains(got, "Test.HDB") || slices.Contains(got, "Test.NDB.EOF") {
		t.Fatalf("truncated: %v", got)
	}
	if db.Scan(target([]byte("clean content, nothing to see"))) != nil {
		t.Fatal("clean content matched")
	}
}

// TestSameAsClamscan runs ClamAV's clamscan with the body and logical
// signature files and checks that it reports what this reader reports.
func TestSameAsClamscan(t *testing.T) {
	if _, err := exec.LookPath("clamscan"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("clamscan (package clamav) is not installed")
		}
		t.Skip("clamscan is not installed")
	}
	sigs := clamExeSigs(t)
	dir := t.TempDir()
	for _, n := range []string{"test.ndb", "test.ldb", "test.hdb"} {
		if err := os.WriteFile(filepath.Join(dir, n), sigs[n], 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command("clamscan", "--no-summary", "--allmatch", "-d", filepath.Join(dir, n), filepath.Join(testFiles, "clam.exe")).Output()
		var theirs []string
		for _, m := range regexp.MustCompile(`: (\S+)\.UNOFFICIAL FOUND`).FindAllStringSubmatch(string(out), -1) {
			theirs = append(theirs, m[1])
		}
		slices.Sort(theirs)
		db, err := Parse(map[string][]byte{n: sigs[n]})
		if err != nil {
			t.Fatal(err)
		}
		if ours := names(db.Scan(target(testFile(t, "clam.exe")))); !slices.Equal(ours, theirs) {
			t.Errorf("%s: clamscan found %v, we found %v", n, theirs, ours)
		}
	}
}

// cvd builds a container in the real format: a 512-byte header, then a
// gzip-compressed tar of signature files.
func cvd(t testing.TB, files map[string][]byte, corrupt bool) []byte {
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	tw := tar.NewWriter(zw)
	for _, n := range []string{"COPYING", "main.info", "main.hdb", "main.ndb"} {
		b, ok := files[n]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	sum := md5.Sum(body.Bytes())
	hdr := fmt.Sprintf("ClamAV-VDB:14 Jan 2025 10-00 +0000:62:%d:90:%s:sIgNaTuRe:customs-test:1736848800", len(files), hex.EncodeToString(sum[:]))
	hdr += strings.Repeat(" ", HeaderSize-len(hdr))
	out := append([]byte(hdr), body.Bytes()...)
	if corrupt {
		out[len(out)-10] ^= 0xff
	}
	return out
}

func TestCVD(t *testing.T) {
	exe := testFile(t, "clam.exe")
	files := map[string][]byte{
		"COPYING":   []byte("test database\n"),
		"main.info": []byte("ClamAV-VDB:14 Jan 2025\n"),
		"main.hdb":  []byte("aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n"),
		"main.ndb":  []byte("Test.CVD.NDB:1:*:434c414d657373616765*5b434c414d41565d\nBroken.Sig:1:*:zz\n"),
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.cvd"), cvd(t, files, false), 0o644)
	os.WriteFile(filepath.Join(dir, "local.ndb"), []byte("Local.NDB:0:*:4b45524e454c33322e444c4c\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "freshclam.dat"), []byte("ignored"), 0o644)
	db, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(db.Scan(target(exe))); !slices.Equal(got, []string{"ClamAV-Test-File", "Local.NDB", "Test.CVD.NDB"}) {
		t.Fatalf("matched %v", got)
	}
	if db.Signatures != 3 || db.Skipped != 1 || len(db.Warnings) != 1 || !strings.Contains(db.Warnings[0], "main.ndb:2") {
		t.Fatalf("signatures %d, skipped %d, warnings %v", db.Signatures, db.Skipped, db.Warnings)
	}
	if !slices.Equal(db.Files, []string{"local.ndb", "main.cvd/main.hdb", "main.cvd/main.ndb"}) {
		t.Fatalf("files %v", db.Files)
	}
	id := db.Identity()
	os.WriteFile(filepath.Join(dir, "local.ndb"), []byte("Local.NDB:0:*:4b45524e454c33322e444c4d\n"), 0o644)
	if db2, err := Load(dir); err != nil || db2.Identity() == id {
		t.Fatalf("identity did not change with the database (%v)", err)
	}

	os.WriteFile(filepath.Join(dir, "main.cvd"), cvd(t, files, true), 0o644)
	if _, err := Load(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt CVD loaded: %v", err)
	}
	// A .cld is not MD5-checked (freshclam rewrites it), as in ClamAV.
	os.Remove(filepath.Join(dir, "main.cvd"))
	os.WriteFile(filepath.Join(dir, "daily.cld"), cvd(t, files, false), 0o644)
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(cvd(t, files, false))
	if err != nil || h.Version != 62 || h.Functionality != 90 || h.Builder != "customs-test" {
		t.Fatalf("header %+v, %v", h, err)
	}
}

func TestBodyWildcards(t *testing.T) {
	data := []byte("xxhello, big wide world!yy")
	for _, tc := range []struct {
		sig  string
		want bool
	}{
		{"T:0:*:68656c6c6f", true},
		{"T:0:2:68656c6c6f", true},
		{"T:0:3:68656c6c6f", false},
		{"T:0:0,4:68656c6c6f", true},
		{"T:0:*:68656c6c6f{2}626967", true},
		{"T:0:*:68656c6c6f{3}626967", false},
		{"T:0:*:68656c6c6f{-5}626967", true},
		{"T:0:*:68656c6c6f{3-}776f726c64", true},
		{"T:0:*:68656c6c6f[1-2]626967", true},
		{"T:0:*:68??6c6c6f", true},
		{"T:0:*:6?656c6c6f", true},
		{"T:0:*:7?656c6c6f", false},
		{"T:0:*:68656c6c6f*776f726c6421", true},
		{"T:0:*:776f726c64*68656c6c6f", false},
		{"T:0:EOF-7:776f726c642179", false},
		{"T:0:EOF-8:776f726c64217979", true},
		{"T:6:*:68656c6c6f", false},
		{"T:7:*:68656c6c6f", true},
	} {
		db, err := Parse(map[string][]byte{"t.ndb": []byte(tc.sig)})
		if err != nil || db.Skipped != 0 {
			t.Fatalf("%s: %v %v", tc.sig, err, db.Warnings)
		}
		if got := len(db.Scan(target(data))) == 1; got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.sig, got, tc.want)
		}
	}
	for _, bad := range []string{"T:0:*:", "T:0:*:6", "T:0:*:*6868", "T:0:*:6868*", "T:0:*:68(69|70)", "T:0:EP+0:6868", "T:3:*:6868", "T:0:*:68??", "T:0:*:6g68", "T:0:*:68{5-2}69", "short"} {
		db, err := Parse(map[string][]byte{"t.ndb": []byte(bad)})
		if err != nil || db.Skipped != 1 {
			t.Errorf("%q: skipped %d, %v", bad, db.Skipped, err)
		}
	}
}

// TestUnsupportedFormats: signature files in formats this package does not
// read are counted as skipped, one warning per file.
func TestUnsupportedFormats(t *testing.T) {
	db, err := Parse(map[string][]byte{
		"local.hdb": []byte("aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n"),
		// Container metadata signatures, two of them.
		"daily.cdb":  []byte("# container signatures\nSig.One:CL_TYPE_ZIP:*:.*\\.exe:*:*:*:*:*:*\n\nSig.Two:CL_TYPE_RAR:*:.*:*:*:*:*:*:*\r\n"),
		"rules.yara": []byte("rule a { condition: true }"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if db.Signatures != 1 || db.Skipped != 3 {
		t.Fatalf("signatures %d, skipped %d, warnings %v", db.Signatures, db.Skipped, db.Warnings)
	}
	want := []string{"daily.cdb: 2 signatures in a format customs does not read", "rules.yara: 1 signatures in a format customs does not read"}
	if !slices.Equal(db.Warnings, want) {
		t.Fatalf("warnings %q", db.Warnings)
	}
}
