package clamav

import (
	"bytes"
	"io"
	"testing"
)

// FuzzParse feeds arbitrary signature lines to every format and matches
// the result against the input itself.
func FuzzParse(f *testing.F) {
	f.Add("ndb", []byte("T:0:*:68656c6c6f{2-4}77??6c64*21\nT:1:EOF-4,2:4d5a\n"))
	f.Add("ldb", []byte("T;Target:0;(0&1)|2>1;6869;0:7071;EOF-2:7273\n"))
	f.Add("hdb", []byte("aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n"))
	f.Add("msb", []byte("*:71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:T\n"))
	f.Fuzz(func(t *testing.T, format string, sigs []byte) {
		db, err := Parse(map[string][]byte{"f." + format: sigs})
		if err != nil {
			return
		}
		db.Scan(target(sigs))
	})
}

// FuzzReadContainer reads arbitrary bytes as a CVD.
func FuzzReadContainer(f *testing.F) {
	f.Add(cvd(f, map[string][]byte{"main.ndb": []byte("T:0:*:6869\n")}, false))
	f.Add(cvd(f, map[string][]byte{"main.hdb": []byte("aa15bcf478d165efd2065190eb473bcb:544:T\n")}, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadContainer(bytes.NewReader(b), true, func(_ string, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		_ = newDB().add("x.cvd", bytes.NewReader(b))
	})
}
