package dpkg

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseLimits(t *testing.T) {
	many := bytes.Repeat([]byte("Package: a\nVersion: 1\n\n"), MaxPackages+1)
	entries, err := Parse(many)
	if len(entries) != MaxPackages || !errors.Is(err, ErrTooMany) {
		t.Errorf("%d entries, error %v", len(entries), err)
	}
	long := append([]byte("Package: a\nVersion: "), bytes.Repeat([]byte("1"), MaxValueBytes+1)...)
	long = append(long, "\n\nPackage: b\nVersion: 2\n"...)
	entries, err = Parse(long)
	if len(entries) != 1 || entries[0].Package != "b" || err == nil {
		t.Errorf("entries %+v, error %v", entries, err)
	}
}

// TestSourcePackage follows dpkg-query's ${source:Package} and
// ${source:Version} on the three shapes of the Source field.
func TestSourcePackage(t *testing.T) {
	for _, c := range []struct {
		e          Entry
		name, vers string
	}{
		{Entry{Package: "libssl3", Version: "3.0.11-1~deb12u2", Source: "openssl (3.0.11-1~deb12u2)"}, "openssl", "3.0.11-1~deb12u2"},
		{Entry{Package: "bash", Version: "5.2.15-2+b13", Source: "bash (5.2.15-2)"}, "bash", "5.2.15-2"},
		{Entry{Package: "libapt-pkg6.0", Version: "2.6.1", Source: "apt"}, "apt", "2.6.1"},
		{Entry{Package: "dash", Version: "0.5.12-2"}, "dash", "0.5.12-2"},
	} {
		n, v := c.e.SourcePackage()
		if n != c.name || v != c.vers {
			t.Errorf("%s: %s %s, want %s %s", c.e.Package, n, v, c.name, c.vers)
		}
	}
}
