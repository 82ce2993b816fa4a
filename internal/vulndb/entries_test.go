package vulndb

import (
	"reflect"
	"testing"
)

func TestEntriesRoundTrip(t *testing.T) {
	pkg := Package{Ecosystem: "Debian:12", Name: "glibc"}
	in := []Affected{
		{Package: pkg, Versions: []string{"2.36-9", "2.36-9+deb12u1"},
			Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: "2.36-9+deb12u3"}}}}},
		{Package: pkg, Ranges: []Range{
			{Type: "SEMVER", Events: []Event{{Introduced: "1.0.0"}, {LastAffected: "1.4.2"}, {Limit: "2.0.0"}}},
			{Type: "GIT", Repo: "https://example.com/r", Events: []Event{{Introduced: "abc"}}},
		}},
		{Package: pkg},
	}
	out, err := decodeEntries(encodeEntries(in), pkg)
	if err != nil {
		t.Fatal(err)
	}
	in[1].Ranges[1].Repo = "" // the repository of a GIT range is not kept: it names no version
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
	for _, bad := range [][]byte{{'V', 1, 'x'}, {'A', 5, 'x'}, {'A', 0, 'f', 1, '1'}, {'A', 0, 'R', 0, 'z', 0}, {'A', 0xff}} {
		if _, err := decodeEntries(bad, pkg); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzEntries decodes arbitrary stored entries (a database file can come
// from another machine): no panic, and what decodes encodes back the same.
func FuzzEntries(f *testing.F) {
	f.Add(encodeEntries([]Affected{{Versions: []string{"1"}, Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: "2"}}}}}}))
	f.Add([]byte{'A', 0, 'R', 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		pkg := Package{Ecosystem: "npm", Name: "x"}
		out, err := decodeEntries(b, pkg)
		if err != nil {
			return
		}
		again, err := decodeEntries(encodeEntries(out), pkg)
		if err != nil || !reflect.DeepEqual(out, again) {
			t.Fatalf("%+v re-encoded as %+v (%v)", out, again, err)
		}
	})
}
