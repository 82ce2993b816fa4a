package cache

import (
	"bytes"
	"testing"

	"github.com/customs-scanner/customs/internal/layer"
)

// FuzzDecode: an entry read from a shared cache is decoded without panic,
// and a decoded entry encodes and decodes to the same layer.
func FuzzDecode(f *testing.F) {
	b, err := encode(&layer.Walked{DiffID: "sha256:0"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var w layer.Walked
		if decode(bytes.NewReader(data), &w) != nil {
			return
		}
		again, err := encode(&w)
		if err != nil {
			t.Fatal(err)
		}
		var w2 layer.Walked
		if err := decode(bytes.NewReader(again), &w2); err != nil || w2.DiffID != w.DiffID {
			t.Fatalf("re-decoded %q, %v; want %q", w2.DiffID, err, w.DiffID)
		}
	})
}
