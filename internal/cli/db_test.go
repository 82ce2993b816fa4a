package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runDB(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), append([]string{"db"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// `customs db import garbage.tar` used to exit 0 and leave a database of 0
// records: an input that yields no valid record now fails with exit 2,
// names what it skipped, and leaves the existing database byte for byte.
func TestDBImportRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	records := filepath.Join("..", "vulndb", "testdata", "osv")
	code, out, errOut := runDB(t, "import", "--db-dir", dir, records)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(records, "*.json"))
	if !strings.Contains(out, "Records:  "+strconv.Itoa(len(files))+" advisory records from 1 source") {
		t.Errorf("import output:\n%s", out)
	}
	before, err := os.ReadFile(filepath.Join(dir, "vuln.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, status, _ := runDB(t, "status", "--db-dir", dir)
	code, js, _ := runDB(t, "status", "--json", "--db-dir", dir)
	var st struct {
		Records    int   `json:"records"`
		Generation int64 `json:"generation"`
		Ecosystems []struct {
			Ecosystem string `json:"ecosystem"`
			Records   int    `json:"records"`
		} `json:"ecosystems"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d %v\n%s", code, err, js)
	}
	perEco := map[string]int{}
	for _, e := range st.Ecosystems {
		perEco[e.Ecosystem] = e.Records
	}
	// DSA-5514-1 and DSA-5532-1 name Debian 12; the CVE record names no package.
	if st.Records != len(files) || perEco["Debian:12"] != 2 || perEco["npm"] != 2 || !strings.Contains(status, "ecosystems") ||
		st.Generation <= 0 || !strings.Contains(status, "Generation: "+strconv.FormatInt(st.Generation, 10)) {
		t.Errorf("status %+v\n%s", st, status)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/hostname", Mode: 0o644, Size: 5})
	tw.Write([]byte("host\n"))
	tw.Close()
	garbage := filepath.Join(t.TempDir(), "garbage.tar")
	if err := os.WriteFile(garbage, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runDB(t, "import", "--db-dir", dir, garbage)
	if code != ExitError || out != "" {
		t.Fatalf("garbage import: exit %d, output %q", code, out)
	}
	for _, s := range []string{"garbage.tar: no valid OSV record", "skipped 1 file: garbage.tar: not JSON", "the database is unchanged"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("message %q does not say %q", errOut, s)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "vuln.db"))
	if !bytes.Equal(before, after) {
		t.Fatal("the database changed")
	}
	if _, again, _ := runDB(t, "status", "--db-dir", dir); again != status {
		t.Errorf("status changed:\n%s\nthen\n%s", status, again)
	}

	// Into a new directory: no database is created.
	empty := t.TempDir()
	if code, _, _ := runDB(t, "import", "--db-dir", empty, garbage); code != ExitError {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(empty, "vuln.db")); !os.IsNotExist(err) {
		t.Fatalf("a database was created: %v", err)
	}
	if code, _, errOut := runDB(t, "status", "--db-dir", empty); code != ExitError || !strings.Contains(errOut, "no vulnerability database") {
		t.Errorf("status of no database: exit %d %q", code, errOut)
	}
}

// Files that are not records are named in the import's output; the valid
// ones are imported.
func TestDBImportNamesSkipped(t *testing.T) {
	in := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "vulndb", "testdata", "osv", "MAL-2022-9.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(in, "MAL-2022-9.json"), data, 0o644)
	os.WriteFile(filepath.Join(in, "package.json"), []byte(`{"name": "0-dns"}`), 0o644)
	code, out, errOut := runDB(t, "import", "--db-dir", t.TempDir(), in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"Records:  1 advisory records from 1 source", "Skipped:  skipped 1 file: package.json: not an OSV record (no id)"} {
		if !strings.Contains(out, s) {
			t.Errorf("output does not say %q:\n%s", s, out)
		}
	}
}
