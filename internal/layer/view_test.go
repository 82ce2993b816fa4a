package layer_test

import (
	"testing"

	"github.com/customs-scanner/customs/internal/layer"
)

func TestViewOverlaySemantics(t *testing.T) {
	v := layer.NewView([]*layer.Index{
		{Files: []string{"etc/a", "etc/b", "opt/app/x", "opt/app/y", "var/f"}},
		{Files: []string{"etc/a", "opt/app/z"}, Whiteouts: []string{"etc/b"}, Opaque: []string{"opt/app"}},
		{Files: []string{"var/f/g"}, Whiteouts: []string{"nonexistent/path"}},
		{Whiteouts: []string{"var"}},
	})
	cases := map[string]int{
		"etc/a":     1,  // replaced by layer 1
		"etc/b":     -1, // whiteout
		"opt/app/x": -1, // hidden by the opaque dir
		"opt/app/z": 1,
		"var/f":     -1, // removed with var
		"var/f/g":   -1,
		"etc":       -1, // directories are not files
		"missing":   -1,
	}
	for p, want := range cases {
		if got := v.Owner(p); got != want {
			t.Errorf("Owner(%s) = %d, want %d", p, got, want)
		}
	}
	if !v.Final("etc/a", 1) || v.Final("etc/a", 0) {
		t.Error("Final disagrees with Owner")
	}
}
